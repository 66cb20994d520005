#!/usr/bin/env python3
"""How much can any anomaly model learn from what a masker leaves? An oracle study, not a model.

Part 1 gives trees *perfect* person inputs, read from the frame stores' ground truth (each person's
exact pixels in the id mask, tracked by id): no detector misses, no merged boxes, no lost tracks.
Then it asks how well they separate incident frames from the rest on held-out scenarios. It reads
persons only: the unmasked vehicles, objects and background a masked frame also shows are not its
input. Two inputs are tried:

* **boxes**: each person's box (of their visible pixels) and its motion: what a solid-box masker
  leaves of a person. The features are speed in body heights per second, aspect, its change,
  stillness, nearest neighbour in body heights and still persons with a neighbour within one or
  0.6 body heights, pooled per frame;
* **boxes + silhouettes**: the same plus each silhouette's shape and its change over 0.4 s. This is
  what a segmentation masker (LA3D's) leaves. The shape features are a 16 x 8 occupancy grid's
  change, the fill of the box, arm span and where the mass sits.

Two ways of learning are compared:

* **frame labels**: trees on the frame's pooled features learn "does an incident show in this
  frame?", the label a frame-level model (and UCF-Crime's weak video labels) gives;
* **person labels**: trees learn "is this person taking part in a short-horizon incident now?"
  from each person's own track (speed over 0.4, 1 and 2 s, aspect and its change over 1 and 2 s,
  height against the track's median and recent maximum, shape change over 0.4 and 1 s, nearest
  neighbour, its closing speed and its speed, neighbours within 1 and 3 body heights, how fast
  those within 3 move away, persons moving fast in the frame), each joined with its maximum and
  mean over the track's last 10 rows (2 s), with the simulation's cast of each staged incident as
  the label (training only); a frame scores the highest of its persons.

Part 2 asks the same of what a masker leaves, where persons next to each other become one blob:
the **paint tracks** are connected components of paint, tracked from frame to frame by greedy box
overlap (IoU >= 0.2), fed to the person-label trees with the same features. Four paints, all
read at the dataset's masked-frame size (`crowdtwin dataset --frames`, 320 x 180 by default):

* the paint of **perfect boxes**, of **perfect boxes, each outlined** (in black, so that touching
  boxes stay apart: a masking that keeps instances separate) and of **perfect silhouettes**: every
  visible person from the id mask, painted over the raw frame at render size, grown by the
  scenario's dilation and resized as the dataset resizes: a masker that misses nobody;
* the paint of the **masked frames**: the mask colour in the dataset's frames, what the shipped
  masker really leaves (its misses, box sizes, merges and dilation included).

A component is a positive training example when a cast member's centre (from the id mask) lies in
its box. This is the route a model for masked frames would take. Ground-truth boxes re-tracked by
overlap alone (ids dropped) separate what tracking costs from what merging costs.

Frames are labelled as `crowdtwin dataset` labels them: positive when a short-horizon incident
(fight, collapse, dispersal, vandalism, vehicle collision, bag snatch) shows. Frames where only
loitering or an abandoned object shows are left out, since they need minutes of context, not
seconds. Every other frame is a negative, protected activities included. The study is repeated
with positives restricted to incidents showing at least 300 or 1000 pixels at render size
(participants' and objects' pixels together), smaller ones left out. `--context N` joins each
frame's pooled features with their maximum and mean over the camera's last N frames (frame
labels), and averages the frame score over the camera's last N frames (person labels).

Trees: scikit-learn HistGradientBoostingClassifier, seeded, no early stopping. They are fitted on
the training scenarios and scored once on the held-out ones (pooled frame AUC, 95 % bootstrap
interval over scenario x camera; one thread, so the same table on every run).

A second table gives, per incident kind, the frame AUC of that kind's frames against every negative
frame; a closing line counts paint components against persons.

The figures are estimates of what such inputs allow, not bounds: other features or models could do
better.

    python oracle_tracks.py DIR [--train 8] [--holdout 5] [--context N] [--json OUT]

DIR is laid out by `train_anomaly.sh`: DIR/stores/ad-train-N and DIR/datasets/ad-train-N, and
likewise ad-holdout-N.
"""

import argparse
import collections
import json
import pathlib
import re

import numpy as np
import polars as pl
from PIL import Image
from scipy import ndimage
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

SHORT = {"fight", "collapse", "dispersal", "vandalism", "vehicle_collision", "bag_snatch"}
PERSON_BASE, PERSON_END = 0x01_0000, 0x20_0000  # crowdtwin_core::ids
GRID_H, GRID_W = 16, 8
MIN_PIXELS = [0, 300, 1000]  # 0: every incident the label counts (evaluation.min_visible_px)
SEED = 7


def persons(ids):
    """Each person's visible pixels: {person: (rows, columns)}, 20 pixels or more."""
    flat = ids.ravel()
    where = np.nonzero((flat >= PERSON_BASE) & (flat < PERSON_END))[0]
    if len(where) == 0:
        return {}
    who = flat[where]
    order = np.argsort(who, kind="stable")
    where, who = where[order], who[order]
    cuts = np.nonzero(np.diff(who))[0] + 1
    out = {}
    for part, person in zip(np.split(where, cuts), who[np.r_[0, cuts]]):
        if len(part) >= 20:
            out[int(person)] = np.divmod(part, ids.shape[1])
    return out


def describe(rows, columns):
    y0, y1, x0, x1 = rows.min(), rows.max() + 1, columns.min(), columns.max() + 1
    h, w = y1 - y0, x1 - x0
    grid = np.zeros((GRID_H, GRID_W))
    np.add.at(grid, (((rows - y0) * GRID_H) // h, ((columns - x0) * GRID_W) // w), 1.0)
    widths = np.bincount(rows - y0, minlength=h)
    return {"cx": (x0 + x1) / 2, "cy": (y0 + y1) / 2, "h": float(h), "w": float(w), "fill": len(rows) / (h * w),
            "span": widths.max() / max(np.median(widths[widths > 0]), 1), "mass": float(np.mean(rows - y0) / h), "grid": grid / max(grid.max(), 1)}


def frame_features(people):
    """Per frame: (box features, silhouette features) pooled over its persons."""
    if not people:
        return np.zeros(17), np.zeros(12)
    speed, aspect, turn, shape, fill, span, mass, h, cx, cy = np.array(people).T
    if len(people) > 1:
        gap = np.hypot(cx[:, None] - cx[None], cy[:, None] - cy[None]) / np.maximum(h[:, None], 1)
        np.fill_diagonal(gap, np.inf)
        near = gap.min(axis=1)
    else:
        near = np.full(1, 1e3)
    still, close = speed < 0.15, near < 1.0
    top3 = lambda v: np.sort(v)[-3:].mean()
    boxes = [len(people), speed.max(), top3(speed), speed.mean(), (speed > 1.5).sum(), (speed > 2.5).sum(), aspect.max(), (aspect > 0.9).sum(),
             turn.max(), still.mean(), (still & close).sum(), (still & (near < 0.6)).sum(), near.min(), (near < 0.5).sum(), (speed * close).max(), h.max(), np.median(h)]
    silhouettes = [shape.max(), top3(shape), shape.mean(), (shape * still).max(), (shape * close).max(), fill.min(), np.sort(fill)[:3].mean(),
                   span.max(), (span * close).max(), mass.max(), mass.min(), (shape > 0.15).sum()]
    return np.array(boxes, float), np.array(silhouettes, float)


def scene(store, dataset):
    """Features, labels and the largest short-horizon incident's visible pixels of every frame."""
    for needed in (store / "store.json", dataset / "labels.parquet"):
        if not needed.is_file():
            raise SystemExit(f"{needed} is missing: render and export it first (train_anomaly.sh DIR does both)")
    frames = pl.read_parquet(store / "frames.parquet").sort("camera", "tick")
    labels = {(r["tick"], r["camera"]): r for r in pl.read_parquet(dataset / "labels.parquet").iter_rows(named=True)}
    kinds = pl.read_parquet(store / "staged_incidents.parquet").select("incident", "kind")
    shown = pl.read_parquet(store / "incidents_in_frame.parquet").join(kinds, on="incident").filter(pl.col("kind").is_in(sorted(SHORT)))
    pixels = {(t, c): v for t, c, v in shown.group_by("tick", "camera").agg(pl.col("visible_px").max()).select("tick", "camera", "visible_px").iter_rows()}
    cast = cast_of(store)
    seen = collections.defaultdict(dict)  # camera -> time in 0.1 s -> person -> description
    tracked = []  # per frame: (camera, time in 0.1 s, {person: description with its cast flag})
    visible_in = []  # per frame: persons(ids), handed on to paint_tracks so each id mask is decoded once
    step = np.unique(np.round(np.diff(frames.filter(pl.col("camera") == frames["camera"][0])["time_s"].to_numpy()) * 10).astype(int))
    if len(step) != 1 or 4 % step[0] or 10 % step[0]:
        raise SystemExit(f"{store}: frames {step / 10} s apart; the look-backs of 0.4 s and 1 s need a steady rate that divides both")
    rows = []
    for r in frames.iter_rows(named=True):
        rgba = np.asarray(Image.open(store / r["ids"]), dtype=np.uint32)
        ids = rgba[..., 0] | (rgba[..., 1] << 8) | (rgba[..., 2] << 16)  # stored little-endian (src/frames.rs)
        camera, tick, when = r["camera"], r["tick"], round(r["time_s"] * 10)
        visible = persons(ids)
        visible_in.append(visible)
        now = {p: describe(*pixels_of) for p, pixels_of in visible.items()}
        seen[camera][when] = now
        acting = cast(tick)
        tracked.append((camera, when, {p: {**d, "cast": p - PERSON_BASE in acting} for p, d in now.items()}))
        second, shortly = seen[camera].get(when - 10, {}), seen[camera].get(when - 4, {})  # 1 s and 0.4 s before
        people = []
        for p, d in now.items():
            a, b = second.get(p), shortly.get(p)
            people.append([
                np.hypot(d["cx"] - a["cx"], d["cy"] - a["cy"]) / d["h"] if a else 0.0,
                d["w"] / d["h"],
                abs(d["w"] / d["h"] - a["w"] / a["h"]) if a else 0.0,
                np.abs(d["grid"] - b["grid"]).mean() if b else 0.0,
                d["fill"], d["span"], d["mass"], d["h"], d["cx"], d["cy"],
            ])
        boxes, silhouettes = frame_features(people)
        label = labels[(tick, camera)]
        short = bool(SHORT & set(label["kinds"].split(",")))
        rows.append((boxes, np.r_[boxes, silhouettes], short, label["anomaly"] and not short, pixels.get((tick, camera), 0), f"{store.name}/{camera}", label["kinds"]))
    boxes, both, short, long_only, px, group, kinds = map(np.array, zip(*rows))
    # The short-horizon incidents scored: per kind, their largest visible size over their frames.
    found = re.search(r"min_visible_px:\s*(\d+)", (store / "scenario.ron").read_text())
    label_px = int(found.group(1)) if found else 20  # the scenario's evaluation.min_visible_px, else its default
    largest = shown.group_by("incident", "kind").agg(pl.col("visible_px").max()).filter(pl.col("visible_px") >= label_px).select("kind", "visible_px").rows()
    return {"boxes": boxes, "boxes + silhouettes": both, "short": short, "long_only": long_only, "px": px, "group": group, "incidents": largest, "kinds": kinds,
            "tracked": tracked, "visible": visible_in}


def cast_of(store):
    """tick -> the persons taking part in a short-horizon incident then (the simulation's cast)."""
    staged = [(r["start_tick"], r["end_tick"], set(r["persons"])) for r in pl.read_parquet(store / "staged_incidents.parquet").iter_rows(named=True) if r["kind"] in SHORT]
    return lambda tick: set().union(*(persons for start, end, persons in staged if start <= tick <= end))


def paint_tracks(store, dataset, visible_in):
    """The paint tracks of a scene, per frame in the store's frame order (camera, time in 0.1 s,
    {track: description with its cast flag}), of four paints seen at the masked frames' size:

    * "paint": the mask colour's blobs in the dataset's masked frames (what the shipped masker leaves);
    * what a perfect masker would leave, painted over the store's raw frame at render size, grown by
      the scenario's dilation as the masker grows its paint (a square), then resized as `crowdtwin
      dataset` resizes (a triangle filter, PIL's `BILINEAR`) and read back like the masked frames:
      "box paint", every visible person's box; "outlined box paint", the same boxes, nearest drawn
      last, each with its dilation ring in black, so that touching boxes stay apart; "silhouette
      paint", every visible person's pixels.

    `visible_in`: each frame's `persons(ids)`, in the same order, as `scene` found them."""
    scenario = (store / "scenario.ron").read_text()
    style = re.search(r"masking:\s*\([^)]*style:\s*(\w+)", scenario)
    if style and style.group(1) not in ("solid", "outlined"):
        raise SystemExit(f"{store}: masking.style {style.group(1)}; paint tracks read solid or outlined masks only")
    found = re.search(r"masking:\s*\(colour:\s*\((\d+),\s*(\d+),\s*(\d+)\)", scenario)
    paint_colour = np.array([int(v) for v in found.groups()] if found else [0, 160, 230])  # crowdtwin_core::scenario::Masking's default
    found = re.search(r"masking:\s*\([^)]*dilation_px:\s*(\d+)", scenario)
    grow = int(found.group(1)) if found else 2  # likewise
    frames = pl.read_parquet(store / "frames.parquet").sort("camera", "tick")
    files = {(r["tick"], r["camera"]): r["file"] for r in pl.read_parquet(dataset / "labels.parquet").iter_rows(named=True)}
    cast = cast_of(store)
    out = {"paint": [], "box paint": [], "outlined box paint": [], "silhouette paint": []}
    for index, r in enumerate(frames.iter_rows(named=True)):
        tick, camera, when = r["tick"], r["camera"], round(r["time_s"] * 10)
        masked = np.asarray(Image.open(dataset / files[(tick, camera)]).convert("RGB"), dtype=int)
        height, width = masked.shape[:2]
        is_paint = lambda rgb: np.abs(rgb - paint_colour).sum(-1) < 40
        raw = np.asarray(Image.open(store / r["colour"]).convert("RGB"))
        fy, fx = raw.shape[0] / height, raw.shape[1] / width
        visible = visible_in[index]
        acting = cast(tick)
        # Training labels only: the centres of the cast's visible pixels, at the masked frame's size.
        centres = [(rows.mean() / fy, cols.mean() / fx) for p, (rows, cols) in visible.items() if p - PERSON_BASE in acting]
        boxes, outlined, silhouettes = raw.copy(), raw.copy(), raw.copy()
        people = sorted(visible.values(), key=lambda pixels: pixels[0].max())  # farthest (highest foot) first
        grown = np.zeros(raw.shape[:2], bool)
        for rows, cols in people:
            y0, y1, x0, x1 = max(rows.min() - grow, 0), rows.max() + 1 + grow, max(cols.min() - grow, 0), cols.max() + 1 + grow
            boxes[y0:y1, x0:x1] = paint_colour
            outlined[y0:y1, x0:x1] = 0
            outlined[y0 + grow:y1 - grow, x0 + grow:x1 - grow] = paint_colour
            grown[rows, cols] = True
        if grow:
            grown = ndimage.binary_dilation(grown, structure=np.ones((3, 3), bool), iterations=grow)
        silhouettes[grown] = paint_colour
        small = lambda rgb: np.asarray(Image.fromarray(rgb).resize((width, height), Image.BILINEAR), dtype=int)
        for name, rgb in (("paint", masked), ("box paint", small(boxes)), ("outlined box paint", small(outlined)), ("silhouette paint", small(silhouettes))):
            out[name].append((camera, when, components(is_paint(rgb), centres)))
    return {name: track_by_overlap(detections) for name, detections in out.items()}


def components(mask, centres):
    """Connected components of 12 pixels or more: [(box x0 y0 x1 y1, description with its cast flag)];
    a component is cast when one of `centres` (row, column) lies in its box."""
    labelled, _ = ndimage.label(mask)
    found = []
    for k, where in enumerate(ndimage.find_objects(labelled), 1):
        rows, cols = np.nonzero(labelled[where] == k)
        if len(rows) < 12:
            continue
        rows, cols = rows + where[0].start, cols + where[1].start
        box = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
        found.append((box, {**describe(rows, cols), "cast": any(box[1] <= cy < box[3] and box[0] <= cx < box[2] for cy, cx in centres)}))
    return found


def track_by_overlap(detections):
    """Tracks from per-frame boxes alone, as a tracker over masked frames must: each box takes the
    track of the camera's previous-frame box it overlaps most (greedy, IoU >= 0.2), else a new one.
    `detections`: per frame (camera, time, [(box x0 y0 x1 y1, description)]); returns per frame
    (camera, time, {track: description})."""
    previous, next_track, out = {}, 0, []
    for camera, when, found in detections:
        pairs = sorted(((iou(box, old), i, j) for i, (box, _) in enumerate(found) for j, (old, _) in enumerate(previous.get(camera, []))), reverse=True)
        matched, taken, now = {}, set(), {}
        for overlap, i, j in pairs:
            if overlap >= 0.2 and i not in matched and j not in taken:
                matched[i] = previous[camera][j][1]
                taken.add(j)
        for i, (box, d) in enumerate(found):
            if i not in matched:
                matched[i], next_track = next_track, next_track + 1
            now[matched[i]] = d
        previous[camera] = [(box, matched[i]) for i, (box, _) in enumerate(found)]
        out.append((camera, when, now))
    return out


def iou(a, b):
    width, height = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0, width) * max(0, height)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


PERSON_FEATURES = ["speed 1 s", "speed 0.4 s", "speed 2 s", "aspect", "aspect change 1 s", "aspect change 2 s", "height / track median",
                   "height / recent max", "grid change 0.4 s", "grid change 1 s", "fill", "arm span", "mass", "mass change 1 s",
                   "nearest", "within 1", "within 3", "nearest closing", "nearest's speed", "neighbours moving away", "fast in frame",
                   "persons in frame", "height px", "pixels"]
TRACK_CONTEXT = 10  # a track's last 10 rows: 2 s at 5 fps
SHAPE = {"grid change 0.4 s", "grid change 1 s", "fill", "arm span", "mass", "mass change 1 s", "pixels"}


def person_rows(tracked):
    """Person-label rows of a scene: (features [rows, len(PERSON_FEATURES)], cast flags, frame index).
    Speeds are in body heights per second; look-backs are by time (0.4, 1 and 2 s)."""
    seen, heights = collections.defaultdict(dict), collections.defaultdict(list)
    rows, cast, frame, keys = [], [], [], []
    for index, (camera, when, now) in enumerate(tracked):
        seen[camera][when] = now
        shortly, second, two = (seen[camera].get(when - k, {}) for k in (4, 10, 20))
        who = list(now)
        if not who:
            continue
        cx, cy, h = (np.array([now[p][k] for p in who]) for k in ("cx", "cy", "h"))
        velocity = np.array([[(now[p]["cx"] - second[p]["cx"]) / now[p]["h"], (now[p]["cy"] - second[p]["cy"]) / now[p]["h"]] if p in second else [0.0, 0.0] for p in who])
        speed = np.hypot(*velocity.T)
        gap = np.hypot(cx[:, None] - cx[None], cy[:, None] - cy[None]) / np.maximum(h[:, None], 1)
        np.fill_diagonal(gap, np.inf)
        for i, p in enumerate(who):
            d, a, b, c = now[p], shortly.get(p), second.get(p), two.get(p)
            heights[(camera, p)].append(d["h"])
            track = heights[(camera, p)]
            aspect = d["w"] / d["h"]
            j = int(gap[i].argmin()) if len(who) > 1 else i
            near = gap[i, j] if j != i else 1e3
            was_near = np.hypot(second[who[j]]["cx"] - b["cx"], second[who[j]]["cy"] - b["cy"]) / d["h"] if (j != i and b and who[j] in second) else near
            offset = np.c_[cx - cx[i], cy - cy[i]] / max(d["h"], 1)
            away = (velocity * offset).sum(1) / np.maximum(np.hypot(*offset.T), 1e-3)
            around = gap[i] < 3
            rows.append([
                speed[i],
                np.hypot(d["cx"] - a["cx"], d["cy"] - a["cy"]) / d["h"] / 0.4 if a else 0.0,
                np.hypot(d["cx"] - c["cx"], d["cy"] - c["cy"]) / d["h"] / 2 if c else 0.0,
                aspect, aspect - (b["w"] / b["h"] if b else aspect), aspect - (c["w"] / c["h"] if c else aspect),
                d["h"] / np.median(track), d["h"] / max(track[-10:]),
                np.abs(d["grid"] - a["grid"]).mean() if a else 0.0, np.abs(d["grid"] - b["grid"]).mean() if b else 0.0,
                d["fill"], d["span"], d["mass"], d["mass"] - (b["mass"] if b else d["mass"]),
                near, (gap[i] < 1).sum(), around.sum(), near - was_near, speed[j] if j != i else 0.0, away[around].mean() if around.any() else 0.0,
                (speed > 1.5).sum(), len(who), d["h"], d["fill"] * d["h"] * d["w"],
            ])
            cast.append(d["cast"])
            frame.append(index)
            keys.append((camera, p))
    return np.array(rows, float).reshape(-1, len(PERSON_FEATURES)), np.array(cast, bool), np.array(frame, int), keys


def with_track_context(x, track, rows=TRACK_CONTEXT):
    """Each person row joined with the maximum and mean of its track's last `rows` rows (itself included)."""
    seen, out = collections.defaultdict(list), np.empty((len(x), 3 * x.shape[1]))
    for i, key in enumerate(track):
        seen[key].append(i)
        last = x[seen[key][-rows:]]
        out[i] = np.r_[x[i], last.max(0), last.mean(0)]
    return out


def with_context(s, key, frames):
    """Each frame's features joined with their maximum and mean over its camera's last `frames` frames."""
    X, groups, out = s[key], s["group"], []
    for i in range(len(X)):
        j = window_start(groups, i, frames)
        out.append(np.r_[X[i], X[j:i + 1].max(0), X[j:i + 1].mean(0)])
    return np.array(out)


def window_start(groups, i, frames):
    """First index of frame i's window: its camera's last `frames` frames (rows are grouped by camera)."""
    j = max(0, i - frames + 1)
    while groups[j] != groups[i]:
        j += 1
    return j


def auc_with_interval(y, s, groups, draws=1000):
    names = sorted(set(groups))
    index = {g: np.nonzero(groups == g)[0] for g in names}
    rng = np.random.default_rng(SEED)
    values = []
    for _ in range(draws):
        pick = np.concatenate([index[names[i]] for i in rng.integers(0, len(names), len(names))])
        if 0 < y[pick].sum() < len(pick):
            values.append(roc_auc_score(y[pick], s[pick]))
    if len(names) < 6 or not values:
        return float(roc_auc_score(y, s)), None  # too few scenario x camera groups for an interval
    return float(roc_auc_score(y, s)), [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=pathlib.Path)
    parser.add_argument("--train", type=int, default=8)
    parser.add_argument("--holdout", type=int, default=5)
    parser.add_argument("--context", type=int, default=1, help="frames of context per camera (1: the frame alone)")
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args()
    if args.context < 1:
        raise SystemExit(f"--context must be at least 1 frame, got {args.context}")
    with threadpool_limits(1):  # OpenMP sums in the trees: one thread, the same table every run
        run(args)


def run(args):
    def load(name):
        store, dataset = args.dir / "stores" / name, args.dir / "datasets" / name
        s = scene(store, dataset)
        s.update(paint_tracks(store, dataset, s.pop("visible")))
        # The ground-truth boxes with their ids dropped: what tracking alone costs.
        s["overlap"] = track_by_overlap([(c, w, [((d["cx"] - d["w"] / 2, d["cy"] - d["h"] / 2, d["cx"] + d["w"] / 2, d["cy"] + d["h"] / 2), d)
                                                  for d in now.values()]) for c, w, now in s["tracked"]])
        return s

    train = [load(f"ad-train-{i}") for i in range(1, args.train + 1)]
    test = [load(f"ad-holdout-{i}") for i in range(1, args.holdout + 1)]
    cat = lambda sets, key: np.concatenate([s[key] for s in sets])
    if not cat(test, "short").any():
        raise SystemExit("no short-horizon incident shows in the held-out scenarios: nothing to score")
    incidents = {}
    for kind, largest in sum((s["incidents"] for s in test), []):
        entry = incidents.setdefault(kind, {"visible": 0, "over_1000_px": 0})
        entry["visible"] += 1
        entry["over_1000_px"] += largest >= 1000
    short, px, groups, long_only = cat(test, "short"), cat(test, "px"), cat(test, "group"), cat(test, "long_only")
    # Smaller incidents are left out rather than called negative: the question is what a model can
    # see in an incident of that size.
    kept = {minimum: ~long_only & ~(short & (px < minimum)) for minimum in MIN_PIXELS}
    results = {"train_scenarios": args.train, "holdout_scenarios": args.holdout, "context_frames": args.context, "incidents": dict(sorted(incidents.items())),
               "frames": {str(m): [int(k.sum()), int(short[k].sum())] for m, k in kept.items()}, "rows": []}
    sizes = ["every one labelled" if m == 0 else f"≥ {m} px" for m in MIN_PIXELS]
    lines = [f"Trained on {args.train} scenarios, scored on {args.holdout} held-out ones; context {args.context} frame(s). "
             "Held-out short-horizon incidents (visible / reaching 1000 px): " + ", ".join(f"{k} {v['visible']}/{v['over_1000_px']}" for k, v in sorted(incidents.items())) + ". "
             "Frames (positive) scored: " + ", ".join(f"{size} {k.sum()} ({short[k].sum()})" for size, k in zip(sizes, kept.values())) + ".", "",
             "Held-out frame AUC (95 % CI over scenario × camera); positives: short-horizon incidents of the size in the column head.", "",
             "| learns from | inputs | " + " | ".join(sizes) + " |", "|---|---|" + "---|" * len(sizes)]

    frame_kinds = [set(k.split(",")) for k in cat(test, "kinds")]
    shown_kinds = sorted(k for k in SHORT if any(k in f for f in frame_kinds))
    negative = kept[0] & ~short
    by_kind = []

    def score_row(labels, inputs, scores):
        # Per kind: that kind's frames against every negative frame (every incident labelled).
        per_kind = {}
        for kind in shown_kinds:
            positive = kept[0] & short & np.array([kind in f for f in frame_kinds])
            per_kind[kind] = float(roc_auc_score(np.r_[np.ones(positive.sum()), np.zeros(negative.sum())], np.r_[scores[positive], scores[negative]]))
        by_kind.append(f"| {labels} labels | {inputs} | " + " | ".join(f"{per_kind[k]:.2f}" for k in shown_kinds) + " |")
        results.setdefault("per_kind", []).append({"labels": labels, "inputs": inputs, "frame_auc": per_kind})
        cells = []
        for minimum, keep in kept.items():
            auc, ci = auc_with_interval(short[keep], scores[keep], groups[keep])
            results["rows"].append({"labels": labels, "inputs": inputs, "min_px": minimum, "frame_auc": auc, "ci95": ci, "frames": int(keep.sum()), "positive": int(short[keep].sum())})
            cells.append(f"**{auc:.3f}** ({f'{ci[0]:.2f}–{ci[1]:.2f}' if ci else 'too few groups'})")
        lines.append(f"| {labels} labels | {inputs} | " + " | ".join(cells) + " |")

    trees = lambda: HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=40, l2_regularization=1.0, early_stopping=False, random_state=SEED)
    for inputs in ("boxes", "boxes + silhouettes"):
        features = lambda s: with_context(s, inputs, args.context) if args.context > 1 else s[inputs]
        fit = ~cat(train, "long_only")
        model = trees().fit(np.concatenate([features(s) for s in train])[fit], cat(train, "short")[fit].astype(int))
        score_row("frame", inputs, np.concatenate([model.predict_proba(features(s))[:, 1] for s in test]))
    rows = {}
    boxes = [i for i, f in enumerate(PERSON_FEATURES) if f not in SHAPE]
    for inputs, source, columns in (("boxes", "tracked", boxes),
                                    ("boxes + silhouettes", "tracked", list(range(len(PERSON_FEATURES)))),
                                    ("boxes, tracked by overlap (ids dropped)", "overlap", boxes),
                                    ("paint of perfect boxes, tracked by overlap", "box paint", list(range(len(PERSON_FEATURES)))),
                                    ("paint of perfect boxes, each outlined, tracked by overlap", "outlined box paint", list(range(len(PERSON_FEATURES)))),
                                    ("paint of perfect silhouettes, tracked by overlap", "silhouette paint", list(range(len(PERSON_FEATURES)))),
                                    ("paint tracks of the masked frames", "paint", list(range(len(PERSON_FEATURES))))):
        for s in train + test:
            rows.setdefault((id(s), source), person_rows(s[source]))
        # As for frame labels, rows of frames where only a long-context incident shows are not fitted on.
        fit = lambda s: ~s["long_only"][rows[(id(s), source)][2]]
        fit_x = np.concatenate([with_track_context(rows[(id(s), source)][0][:, columns], rows[(id(s), source)][3])[fit(s)] for s in train])
        fit_y = np.concatenate([rows[(id(s), source)][1][fit(s)] for s in train])
        if not fit_y.any():
            raise SystemExit(f"{inputs}: no training row shows a cast member of a short-horizon incident: nothing to learn from")
        model = trees().fit(fit_x, fit_y.astype(int))
        score_row("person", inputs, np.concatenate([frame_scores(s, rows[(id(s), source)], columns, model, args.context) for s in test]))
    lines += ["", "Per kind, every incident labelled: frame AUC of that kind's frames against every negative frame.", "",
              "| learns from | inputs | " + " | ".join(shown_kinds) + " |", "|---|---|" + "---|" * len(shown_kinds)] + by_kind
    persons_per_frame = np.mean([len(now) for s in test for _, _, now in s["tracked"]])
    components_per_frame = np.mean([len(now) for s in test for _, _, now in s["paint"]])
    perfect = {name: float(np.mean([len(now) for s in test for _, _, now in s[name]])) for name in ("box paint", "outlined box paint", "silhouette paint")}
    painted = np.concatenate([[any(d["cast"] for d in now.values()) for _, _, now in s["paint"]] for s in test])
    results["paint"] = {"persons_per_frame": float(persons_per_frame), "components_per_frame": float(components_per_frame),
                        "perfect_box_components_per_frame": perfect["box paint"], "perfect_outlined_box_components_per_frame": perfect["outlined box paint"],
                        "perfect_silhouette_components_per_frame": perfect["silhouette paint"],
                        "positive_frames_with_cast_painted": float(painted[short].mean())}
    lines += ["", f"Paint tracks: {components_per_frame:.1f} paint components per frame against {persons_per_frame:.1f} persons showing 20 px or more "
              f"(perfect boxes' paint: {perfect['box paint']:.1f}, outlined: {perfect['outlined box paint']:.1f}, perfect silhouettes' paint: {perfect['silhouette paint']:.1f}); "
              f"a cast member lies in a component in {painted[short].mean():.0%} of the positive frames."]
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


def frame_scores(s, rows, columns, model, context):
    """A frame's score: the highest of its persons' (0 with nobody), averaged over the camera's last `context` frames."""
    x, _, frame, track = rows
    scores = np.zeros(len(s["group"]))
    if len(x):
        np.maximum.at(scores, frame, model.predict_proba(with_track_context(x[:, columns], track))[:, 1])
    groups, out = s["group"], np.empty_like(scores)
    for i in range(len(scores)):
        j = window_start(groups, i, context)
        out[i] = scores[j:i + 1].mean()
    return out


if __name__ == "__main__":
    main()
