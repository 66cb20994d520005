#!/usr/bin/env python3
"""Writes the scenarios the default anomaly model (models/anomaly_tracks.md) is trained, validated
and tested on (deterministic).

Each scenario is a generated plaza (size, buildings, benches, trees, time of day, weather and
crowd drawn from its own random stream) watched by two cameras on two of its four sides, with a
sparse programme of events: one starts every few seconds, each at a spot drawn inside the
square 9 to 24 m in front of one of the cameras (a usable pixel density), its kind drawn from
every incident and protected kind, so that a frame mostly shows one event against ordinary
walking. Training and held-out scenarios come from different streams
(`--split`), held-out ones use seeds >= 1000: sites, camera views, event places and times are
all redrawn. Masking: outlined boxes over the whole frame (tiles (1, 1)), as the recipe's masker
YOLOv5s (`models/yolov5s.ron`) paints them.

    python make_ad_scenarios.py --split train --count 8 --out DIR
    python make_ad_scenarios.py --split holdout --count 3 --out DIR
"""

import argparse
import math
import pathlib
import random

INCIDENTS = ["fight", "collapse", "dispersal", "vandalism", "vehicle_collision", "bag_snatch", "abandoned_object", "loitering"]
PROTECTED = ["assembly", "prayer", "hug", "children_playing", "sitting_on_bench", "lying_on_bench", "busking", "standing_in_religious_dress"]
PARTICIPANTS = {"fight": (2, 4), "dispersal": (6, 10), "assembly": (8, 12), "prayer": (4, 6), "children_playing": (3, 4), "busking": (4, 6)}
DURATION = {"abandoned_object": (8.0, 10.0), "loitering": (12.0, 16.0), "assembly": (10.0, 14.0), "prayer": (10.0, 12.0),
            "busking": (10.0, 14.0), "children_playing": (8.0, 12.0), "sitting_on_bench": (8.0, 12.0), "lying_on_bench": (8.0, 12.0),
            "standing_in_religious_dress": (8.0, 12.0), "hug": (4.0, 6.0), "dispersal": (5.0, 7.0), "vehicle_collision": (5.0, 6.0)}


def scenario(name, seed, rng, duration_s):
    width, depth = rng.uniform(30, 60), rng.uniform(22, 40)
    hour = rng.choice([9.0, 11.0, 13.0, 15.0, 17.0, 20.5, 22.5])
    rain = rng.choice([0.0, 0.0, 0.0, 4.0])
    sides = rng.sample(["north", "south", "east", "west"], 2)
    cameras, views = [], []
    for side in sides:
        height, hfov = rng.uniform(4.5, 8.0), rng.uniform(42.0, 62.0)
        back = rng.uniform(2.0, 6.0)
        offset = rng.uniform(-0.2, 0.2)
        if side == "north":
            position, yaw = (offset * width, height, -(depth / 2 + back)), 180.0
        elif side == "south":
            position, yaw = (offset * width, height, depth / 2 + back), 0.0
        elif side == "east":
            position, yaw = (width / 2 + back, height, offset * depth), 270.0
        else:
            position, yaw = (-(width / 2 + back), height, offset * depth), 90.0
        yaw += rng.uniform(-10.0, 10.0)
        # Looking down at the middle of the stretch where events are staged (9 to 24 m away).
        pitch = math.degrees(math.atan2(height, 16.0)) + rng.uniform(-3.0, 3.0)
        views.append((position, yaw, hfov))
        cameras.append(f'        (id: "{side}", position: ({position[0]:.1f}, {position[1]:.1f}, {position[2]:.1f}), yaw_deg: {yaw:.1f}, '
                       f'pitch_deg: {pitch:.1f}, hfov_deg: {hfov:.1f},\n         sensor_resolution: (1920, 1080), render_resolution: (640, 360), fps: 5),')

    def in_view():
        """A ground point 9-24 m in front of one of the cameras, inside its field of view and
        the square: events are staged where a camera watches at a usable pixel density."""
        (cx, _, cz), yaw, hfov = rng.choice(views)
        for _ in range(50):
            distance = rng.uniform(9.0, 24.0)
            bearing = math.radians(yaw + rng.uniform(-0.35, 0.35) * hfov)
            x, z = cx + distance * math.sin(bearing), cz - distance * math.cos(bearing)
            if abs(x) < 0.42 * width and abs(z) < 0.42 * depth:
                return x, z
        return rng.uniform(-0.2, 0.2) * width, rng.uniform(-0.2, 0.2) * depth

    events, t = [], rng.uniform(1.0, 3.0)
    kinds = []
    while t < duration_s - 4.0:
        if not kinds:
            kinds = INCIDENTS + PROTECTED
            rng.shuffle(kinds)
        kind = kinds.pop()
        low, high = DURATION.get(kind, (6.0, 9.0))
        x, z = in_view()
        if kind == "loitering":
            place = f"zone({x - 3:.1f}, {z - 3:.1f}, {x + 3:.1f}, {z + 3:.1f})"
        elif kind in ("vandalism", "vehicle_collision", "sitting_on_bench", "lying_on_bench"):
            place = "random"  # where the site has a bench or a carriageway
        else:
            place = f"point({x:.1f}, {z:.1f})"
        extra = ""
        if kind in PARTICIPANTS:
            extra += f", participants: Some({PARTICIPANTS[kind]})"
        if kind == "abandoned_object":
            extra += ", abandon_after_s: 5.0"
            t = max(t, 5.5)  # the bag is put down 5 s before the start
        events.append(f"        (kind: {kind}, start_s: {t:.1f}, duration_s: ({low}, {high}), place: {place}{extra}),")
        t += rng.uniform(4.0, 8.0)
    count = rng.randint(40, 70)
    return f"""// Generated by models/train/make_ad_scenarios.py: do not edit (rerun it).
(
    version: 1,
    name: "{name}",
    seed: {seed},
    duration_s: {duration_s:.1f},
    tick_hz: 10,
    time_of_day_h: {hour},
    site: (
        plaza_size_m: ({width:.1f}, {depth:.1f}),
        street_width_m: {rng.uniform(6.0, 9.0):.1f},
        pavement_width_m: {rng.uniform(2.5, 4.5):.1f},
        building_height_m: ({rng.uniform(8.0, 12.0):.1f}, {rng.uniform(18.0, 30.0):.1f}),
        benches: {rng.randint(4, 8)},
        transit_stop: {str(rng.random() < 0.5).lower()},
        trees: {rng.randint(2, 8)},
    ),
    population: (
        count: {count},
        mix: (
            skin_tone: {{1: 0.1, 2: 0.1, 3: 0.1, 4: 0.1, 5: 0.1, 6: 0.1, 7: 0.1, 8: 0.1, 9: 0.1, 10: 0.1}},
            gender_presentation: {{feminine: 0.5, masculine: 0.5}},
            age_group: {{child: 0.2, adult: 0.6, older_adult: 0.2}},
            mobility_aid: {{none: 0.95, wheelchair: 0.05}},
            head_covering: {{none: 0.8, hijab: 0.1, niqab: 0.04, hat: 0.06}},
        ),
        flow: (present_at_start: 0.85, visits: (1, 3), dwell_s: (2.0, 12.0), absence_s: (15.0, 90.0)),
        groups: (share: {rng.uniform(0.1, 0.35):.2f}, size: (2, 4)),
    ),
    cameras: [
{chr(10).join(cameras)}
    ],
    traffic: (moving_cars: {rng.randint(2, 5)}, parked_cars: {rng.randint(2, 6)}),
    conditions: (rain_mm_h: {rain}),
    render: (msaa: 1, shadows: false),
    masking: (colour: (0, 160, 230), dilation_px: 2, tiles: (1, 1), style: outlined),
    incidents: [
{chr(10).join(events)}
    ],
)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["train", "holdout"], required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--out", type=pathlib.Path, required=True)
    args = parser.parse_args()
    rng = random.Random(f"crowdtwin-ad-{args.split}")
    args.out.mkdir(parents=True, exist_ok=True)
    for index in range(args.count):
        seed = (1000 if args.split == "holdout" else 100) + index
        name = f"ad-{args.split}-{index + 1}"
        (args.out / f"{name}.ron").write_text(scenario(name, seed, rng, args.seconds))
        print(args.out / f"{name}.ron")


if __name__ == "__main__":
    main()
