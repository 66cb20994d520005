#!/usr/bin/env python3
"""How much can any anomaly model learn from what a masker leaves? An oracle study, not a model.

It gives trees *perfect* person inputs, read from the frame stores' ground truth (each person's
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

Frames are labelled as `crowdtwin dataset` labels them: positive when a short-horizon incident
(fight, collapse, dispersal, vandalism, vehicle collision, bag snatch) shows. Frames where only
loitering or an abandoned object shows are left out, since they need minutes of context, not
seconds. Every other frame is a negative, protected activities included. The study is repeated
with positives restricted to incidents showing at least 300 or 1000 pixels at render size
(participants' and objects' pixels together), smaller ones left out. `--context N` also joins
each frame's features with their maximum and mean over the camera's last N frames.

Trees: scikit-learn HistGradientBoostingClassifier, seeded, no early stopping. They are fitted on
the training scenarios and scored once on the held-out ones (pooled frame AUC, 95 % bootstrap
interval over scenario x camera; one thread, so the same table on every run).

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
    seen = collections.defaultdict(dict)  # camera -> time in 0.1 s -> person -> description
    step = np.unique(np.round(np.diff(frames.filter(pl.col("camera") == frames["camera"][0])["time_s"].to_numpy()) * 10).astype(int))
    if len(step) != 1 or 4 % step[0] or 10 % step[0]:
        raise SystemExit(f"{store}: frames {step / 10} s apart; the look-backs of 0.4 s and 1 s need a steady rate that divides both")
    rows = []
    for r in frames.iter_rows(named=True):
        rgba = np.asarray(Image.open(store / r["ids"]), dtype=np.uint32)
        ids = rgba[..., 0] | (rgba[..., 1] << 8) | (rgba[..., 2] << 16)  # stored little-endian (src/frames.rs)
        camera, tick, when = r["camera"], r["tick"], round(r["time_s"] * 10)
        now = {p: describe(*pixels_of) for p, pixels_of in persons(ids).items()}
        seen[camera][when] = now
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
        rows.append((boxes, np.r_[boxes, silhouettes], short, label["anomaly"] and not short, pixels.get((tick, camera), 0), f"{store.name}/{camera}"))
    boxes, both, short, long_only, px, group = map(np.array, zip(*rows))
    # The short-horizon incidents scored: per kind, their largest visible size over their frames.
    found = re.search(r"min_visible_px:\s*(\d+)", (store / "scenario.ron").read_text())
    label_px = int(found.group(1)) if found else 20  # the scenario's evaluation.min_visible_px, else its default
    largest = shown.group_by("incident", "kind").agg(pl.col("visible_px").max()).filter(pl.col("visible_px") >= label_px).select("kind", "visible_px").rows()
    return {"boxes": boxes, "boxes + silhouettes": both, "short": short, "long_only": long_only, "px": px, "group": group, "incidents": largest}


def with_context(s, key, frames):
    """Each frame's features joined with their maximum and mean over its camera's last `frames` frames."""
    X, groups, out = s[key], s["group"], []
    for i in range(len(X)):
        j = max(0, i - frames + 1)
        while groups[j] != groups[i]:
            j += 1
        out.append(np.r_[X[i], X[j:i + 1].max(0), X[j:i + 1].mean(0)])
    return np.array(out)


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
    load = lambda name: scene(args.dir / "stores" / name, args.dir / "datasets" / name)
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
    results = {"train_scenarios": args.train, "holdout_scenarios": args.holdout, "context_frames": args.context, "incidents": dict(sorted(incidents.items())), "rows": []}
    lines = [f"Trained on {args.train} scenarios, scored on {args.holdout} held-out ones; context {args.context} frame(s). "
             "Held-out short-horizon incidents (visible / reaching 1000 px): " + ", ".join(f"{k} {v['visible']}/{v['over_1000_px']}" for k, v in sorted(incidents.items())) + ".", "",
             "| positives: short-horizon incidents | inputs | held-out frame AUC (95 % CI over scenario × camera) | frames (positive) |", "|---|---|---|---|"]
    for inputs in ("boxes", "boxes + silhouettes"):
        features = lambda s: with_context(s, inputs, args.context) if args.context > 1 else s[inputs]
        fit = ~cat(train, "long_only")
        trees = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=40, l2_regularization=1.0, early_stopping=False, random_state=SEED)
        trees.fit(np.concatenate([features(s) for s in train])[fit], cat(train, "short")[fit].astype(int))
        scores = np.concatenate([trees.predict_proba(features(s))[:, 1] for s in test])
        short, px, groups = cat(test, "short"), cat(test, "px"), cat(test, "group")
        for minimum in MIN_PIXELS:
            # Smaller incidents are left out rather than called negative: the question is what a
            # model can see in an incident of that size.
            keep = ~cat(test, "long_only") & ~(short & (px < minimum))
            auc, ci = auc_with_interval(short[keep], scores[keep], groups[keep])
            results["rows"].append({"inputs": inputs, "min_px": minimum, "frame_auc": auc, "ci95": ci, "frames": int(keep.sum()), "positive": int(short[keep].sum())})
            size = "every one labelled" if minimum == 0 else f"≥ {minimum} px"
            interval = f"{ci[0]:.2f}–{ci[1]:.2f}" if ci else "too few groups"
            lines.append(f"| {size} | {inputs} | **{auc:.3f}** ({interval}) | {keep.sum()} ({short[keep].sum()}) |")
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
