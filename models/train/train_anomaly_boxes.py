#!/usr/bin/env python3
"""Trains crowdtwin's box-reading anomaly model (`models/anomaly_boxes.onnx`, an experiment) on masked clips.

The masker paints every person it finds as a solid box, so what is left for an anomaly model
is the boxes' geometry and motion over time, plus whatever moves in the unmasked background
(cars, a thrown bag). The deployed model is one ONNX graph:

    clip [1, 3*8, 180, 320]: 8 masked frames at 5 fps (1.6 s), oldest first, values / 255
      -> per pixel: the paint mask (distance to the paint colour), its change between frames,
         the background's change, wide and tall runs of paint and paint that is wide but not
         tall at 9 and 15 px (standing vs fallen or lying boxes),
         reduced over time (newest, oldest, mean, max, min, mean/max change)
      -> a 32 x 18 grid of 10 x 10 px cells, each with its own, its 3 x 3 and its 7 x 7
         neighbourhood's averages, the time series of its paint and motion (spread, drop),
         the frame's means and the cell's row: CELL_FEATURES numbers per cell
      -> cell trees (scikit-learn HistGradientBoostingClassifier): is this cell inside an
         incident's box?                                   -> regions [1, 1, 18, 32]
      -> frame features (max, mean of the top 8, mean over cells of each cell feature)
         -> frame trees: is an incident visible?
      score [1]: the mean of the frame trees' probability and the best cell's; regions are
      scaled so that the best cell scores the clip's score: the alert's region of interest at a
      threshold is where the model points.

Training computes every feature with that very graph in ONNX Runtime, so the trees see at run
time exactly the numbers they were fitted on. Supervision: the frame's label (an incident, not
a protected activity, shows at least `evaluation.min_visible_px` pixels) and, for the cells, the
incident's visible box from `crowdtwin dataset` — ground truth used to train only, never at run
time. The last two training datasets are validation: they choose the threshold (Youden's J) and
nothing else; the held-out datasets (`--test`) are scored once at the end.

Usage (see models/train/README.md; `train_anomaly.sh` runs everything):
    python train_anomaly_boxes.py --train DS... --test DS... --out models/
"""

import argparse
import hashlib
import json
import pathlib

import numpy as np
import onnx
import onnxruntime as ort
import polars as pl
from onnx import TensorProto, compose, helper, numpy_helper
from PIL import Image
from skl2onnx import to_onnx
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

CLIP, WIDTH, HEIGHT, CELL = 8, 320, 180, 10
GRID_W, GRID_H = WIDTH // CELL, HEIGHT // CELL
PAINT = (0, 160, 230)  # masking.colour of every scenario here (the default)
PIXEL_CHANNELS = 18
CELL_FEATURES = 3 * PIXEL_CHANNELS + 5 + PIXEL_CHANNELS + 2
FRAME_FEATURES = 3 * CELL_FEATURES
TOP = 8
SEED = 7


# ---------------------------------------------------------------- the feature graph

def feature_graph():
    """Nodes and initialisers from `clip` to `cells` [576, CELL_FEATURES] and `frame`
    [1, FRAME_FEATURES]."""
    init = []

    def const(name, value, dtype=np.float32):
        if not any(i.name == name for i in init):
            init.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    nodes = []
    counter = [0]

    def node(op, inputs, **attrs):
        counter[0] += 1
        out = f"{op.lower()}_{counter[0]}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def slice_(x, start, end, axis=0):
        return node("Slice", [x, const(f"i{start}", [start], np.int64), const(f"i{end}", [end], np.int64), const(f"axis{axis}", [axis], np.int64)])

    def pool(x, k, stride=1, pad=None):
        kh, kw = k if isinstance(k, tuple) else (k, k)
        if pad is None:
            pad = (kh // 2, kw // 2)
        return node("AveragePool", [x], kernel_shape=[kh, kw], strides=[stride, stride], pads=[pad[0], pad[1], pad[0], pad[1]])

    def std0(x):
        mean = node("ReduceMean", [x], axes=[0], keepdims=1)
        centred = node("Sub", [x, mean])
        return node("Sqrt", [node("ReduceMean", [node("Mul", [centred, centred])], axes=[0], keepdims=1)])

    x = node("Reshape", ["clip", const("clip_shape", [CLIP, 3, HEIGHT, WIDTH], np.int64)])
    distance = node("ReduceMax", [node("Abs", [node("Sub", [x, const("paint", np.array(PAINT, np.float32).reshape(1, 3, 1, 1) / 255)])])], axes=[1], keepdims=1)
    m = node("Clip", [node("Sub", [const("one", 1.0), node("Div", [distance, const("tolerance", 0.16)])]), const("zero", 0.0), "one"])  # [T,1,H,W]
    m_new, m_old = slice_(m, CLIP - 1, CLIP), slice_(m, 0, 1)
    m_next, m_prev = slice_(m, 1, CLIP), slice_(m, 0, CLIP - 1)
    dm = node("Abs", [node("Sub", [m_next, m_prev])])  # [T-1,1,H,W]
    dx_raw = node("ReduceMean", [node("Abs", [node("Sub", [slice_(x, 1, CLIP), slice_(x, 0, CLIP - 1)])])], axes=[1], keepdims=1)
    dx = node("Mul", [dx_raw, node("Sub", ["one", m_next])])  # the background's change

    def step(v):
        return node("Clip", [node("Div", [node("Sub", [v, const("run_floor", 0.85)]), const("run_span", 0.15)]), "zero", "one"])

    def runs(frame, k):
        """Paint in a full horizontal (wide) and vertical (tall) run of k pixels: a standing
        person's box is tall, a fallen or lying one's wide."""
        wide = node("AveragePool", [frame], kernel_shape=[1, k], strides=[1, 1], pads=[0, k // 2, 0, k // 2])
        tall = node("AveragePool", [frame], kernel_shape=[k, 1], strides=[1, 1], pads=[k // 2, 0, k // 2, 0])
        return step(wide), step(tall)

    def lying(frame, k):
        """Wide but not tall at k pixels."""
        wide, tall = runs(frame, k)
        return node("Mul", [wide, node("Sub", ["one", tall])])

    wide_new, tall_new = runs(m_new, 9)
    wide_old, tall_old = runs(m_old, 9)
    reduce0 = lambda op, v: node(op, [v], axes=[0], keepdims=1)
    channels = [
        m_new, reduce0("ReduceMean", m), reduce0("ReduceMax", m), reduce0("ReduceMin", m), m_old,
        reduce0("ReduceMean", dm), reduce0("ReduceMax", dm), reduce0("ReduceMean", slice_(dm, CLIP - 4, CLIP - 1)),
        reduce0("ReduceMean", dx), reduce0("ReduceMax", dx),
        wide_new, tall_new, wide_old, tall_old,
        lying(m_new, 9), lying(m_new, 15), lying(m_old, 9), lying(m_old, 15),
    ]
    assert len(channels) == PIXEL_CHANNELS
    pixels = node("Concat", channels, axis=1)  # [1, C, H, W]
    cells = pool(pixels, CELL, CELL, (0, 0))  # [1, C, GH, GW]
    occupancy = pool(m, CELL, CELL, (0, 0))  # [T, 1, GH, GW]
    occupancy3 = pool(occupancy, 3)
    motion = pool(dm, CELL, CELL, (0, 0))
    temporal = [
        std0(occupancy), std0(occupancy3),
        node("Sub", [slice_(occupancy3, CLIP - 1, CLIP), slice_(occupancy3, 0, 1)]),
        std0(motion), reduce0("ReduceMax", pool(motion, 3)),
    ]
    ones = const("grid_ones", np.ones((1, 1, GRID_H, GRID_W), np.float32))
    frame_means = node("Mul", [node("ReduceMean", [cells], axes=[2, 3], keepdims=1), ones])
    peak_motion = node("Mul", [node("ReduceMax", [node("ReduceMean", [dm], axes=[1, 2, 3], keepdims=1)], axes=[0], keepdims=1), ones])
    rows = const("grid_rows", np.broadcast_to(np.linspace(0, 1, GRID_H, dtype=np.float32)[:, None], (GRID_H, GRID_W)).reshape(1, 1, GRID_H, GRID_W).copy())
    per_cell = node("Concat", [cells, pool(cells, 3), pool(cells, 7)] + temporal + [frame_means, peak_motion, rows], axis=1)  # [1, F, GH, GW]
    nodes.append(helper.make_node("Reshape", [node("Transpose", [per_cell], perm=[0, 2, 3, 1]), const("cells_shape", [GRID_H * GRID_W, CELL_FEATURES], np.int64)], ["cells"]))
    flat = node("Reshape", [per_cell, const("flat_shape", [1, CELL_FEATURES, GRID_H * GRID_W], np.int64)])
    nodes.append(helper.make_node("TopK", [flat, const("top_k", [TOP], np.int64)], ["topk_values", "topk_indices"], axis=2))
    top = node("ReduceMean", ["topk_values"], axes=[2], keepdims=0)
    nodes.append(helper.make_node("Concat", [node("ReduceMax", [flat], axes=[2], keepdims=0), top, node("ReduceMean", [flat], axes=[2], keepdims=0)], ["frame"], axis=1))
    inputs = [helper.make_tensor_value_info("clip", TensorProto.FLOAT, [1, 3 * CLIP, HEIGHT, WIDTH])]
    return nodes, init, inputs


def feature_model():
    nodes, init, inputs = feature_graph()
    outputs = [helper.make_tensor_value_info("cells", TensorProto.FLOAT, [GRID_H * GRID_W, CELL_FEATURES]), helper.make_tensor_value_info("frame", TensorProto.FLOAT, [1, FRAME_FEATURES])]
    model = helper.make_model(helper.make_graph(nodes, "features", inputs, outputs, init), opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


GRAPH_DIGEST = hashlib.sha256(feature_model().SerializeToString()).hexdigest()[:12]


def feature_session():
    model = feature_model()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # the same sums in the same order on every machine
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


# ---------------------------------------------------------------- data

def load(folder, session):
    """Per frame (each camera's clip ending with it, the first frame standing in for the ones
    before, as the run's clip scorer does): cell features, frame features, cell targets, the
    frame's label, protected flag and kinds."""
    folder = pathlib.Path(folder)
    cache = folder / f"anomaly_boxes_features_{GRAPH_DIGEST}.npz"  # recomputed when the graph changes
    labels = pl.read_parquet(folder / "labels.parquet").sort(["camera", "tick"])
    if cache.exists():
        data = np.load(cache, allow_pickle=False)
        return {k: data[k] for k in data.files} | {"kinds": labels["kinds"].to_list(), "name": folder.name}
    cells, frames, targets, y, protected, camera = [], [], [], [], [], []
    for cam in labels["camera"].unique().sort().to_list():
        clip = []
        for row in labels.filter(pl.col("camera") == cam).iter_rows(named=True):
            image = np.asarray(Image.open(folder / row["file"]).convert("RGB"), dtype=np.float32) / 255.0
            if image.shape != (HEIGHT, WIDTH, 3):
                raise SystemExit(f"{folder}: frames are {image.shape[1]}x{image.shape[0]}, export with --size {WIDTH}x{HEIGHT}")
            frame = image.transpose(2, 0, 1)
            if not clip:
                clip = [frame] * (CLIP - 1)
            clip = (clip + [frame])[-CLIP:]
            c, f = session.run(["cells", "frame"], {"clip": np.concatenate(clip)[None]})
            target = np.zeros((GRID_H, GRID_W), np.int8)
            if row["anomaly"] and row["box_x0"] is not None:
                x0, y0 = int(row["box_x0"] // CELL), int(row["box_y0"] // CELL)
                x1, y1 = int(np.ceil(row["box_x1"] / CELL)), int(np.ceil(row["box_y1"] / CELL))
                target[max(y0, 0):min(y1, GRID_H), max(x0, 0):min(x1, GRID_W)] = 1
            cells.append(c)
            frames.append(f[0])
            targets.append(target.ravel())
            y.append(row["anomaly"])
            protected.append(row["protected"])
            camera.append(cam)
    data = {"cells": np.stack(cells), "frames": np.stack(frames), "targets": np.stack(targets), "y": np.array(y), "protected": np.array(protected), "camera": np.array(camera)}
    np.savez(cache, **data)
    return data | {"kinds": labels["kinds"].to_list(), "name": folder.name}


def composition(datasets):
    """What the training data holds, for the card: persons by group, staged events by kind,
    frames by light and weather — read from the frame store each dataset was exported from
    (`dataset.json`'s sibling under `stores/`, as train_anomaly.sh lays them out)."""
    persons, events, conditions = [], [], {}
    for folder in map(pathlib.Path, datasets):
        store = folder.parent.parent / "stores" / folder.name
        if not (store / "persons.parquet").exists():
            return None
        persons.append(pl.read_parquet(store / "persons.parquet"))
        events.append(pl.read_parquet(store / "staged_incidents.parquet").select("kind"))
        text = (store / "scenario.ron").read_text()
        hour = float(text.split("time_of_day_h:")[1].split(",")[0])
        rain = float(text.split("rain_mm_h:")[1].split(")")[0]) if "rain_mm_h:" in text else 0.0
        key = ("night" if hour < 6 or hour >= 20 else "day") + (", rain" if rain > 0 else ", dry")
        conditions[key] = conditions.get(key, 0) + len(pl.read_parquet(folder / "labels.parquet"))
    people = pl.concat(persons)
    band = lambda tone: "light (Monk 1-3)" if tone <= 3 else "medium (4-7)" if tone <= 7 else "dark (8-10)"
    count = lambda column: dict(sorted(people[column].value_counts().iter_rows()))
    return {
        "persons": people.height,
        "skin_tone_band": dict(sorted(people["skin_tone"].map_elements(band, return_dtype=pl.String).value_counts().iter_rows())),
        "gender_presentation": count("gender_presentation"), "age_group": count("age_group"),
        "mobility_aid": count("mobility_aid"), "head_covering": count("head_covering"),
        "events_by_kind": dict(sorted(pl.concat(events)["kind"].value_counts().iter_rows())),
        "frames_by_condition": conditions,
    }


def cell_rows(sets, rng):
    """Training cells: every cell inside an incident's box, every cell with paint near it, and
    one in twenty of the empty ones (they are easy and many)."""
    X, Y = [], []
    for d in sets:
        c, t = d["cells"].reshape(-1, CELL_FEATURES), d["targets"].reshape(-1)
        keep = (t > 0) | (c[:, PIXEL_CHANNELS + 1] > 0.01) | (rng.random(len(t)) < 0.05)
        X.append(c[keep])
        Y.append(t[keep])
    return np.concatenate(X), np.concatenate(Y)


def trees():
    return HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=40, l2_regularization=1.0, early_stopping=False, random_state=SEED)


# ---------------------------------------------------------------- export

def export(path, cell_model, frame_model):
    nodes, init, inputs = feature_graph()
    opsets = {"": 17}
    heads = {}
    for name, model, width in (("cell", cell_model, CELL_FEATURES), ("frame", frame_model, FRAME_FEATURES)):
        head = compose.add_prefix(to_onnx(model, np.zeros((1, width), np.float32), options={"zipmap": False}, target_opset={"": 17, "ai.onnx.ml": 3}), f"{name}_")
        x = head.graph.input[0].name
        for n in head.graph.node:
            n.input[:] = [("cells" if name == "cell" else "frame") if i == x else i for i in n.input]
        nodes += list(head.graph.node)
        init += list(head.graph.initializer)
        heads[name] = head.graph.output[1].name
        for o in head.opset_import:
            opsets[o.domain] = max(opsets.get(o.domain, 0), o.version)
    i64 = lambda name, v: init.append(numpy_helper.from_array(np.array(v, np.int64), name)) or name
    f32 = lambda name, v: init.append(numpy_helper.from_array(np.array(v, np.float32), name)) or name
    nodes += [
        helper.make_node("Slice", [heads["frame"], i64("c1", [1]), i64("c2", [2]), i64("ax1", [1])], ["frame_p"]),
        helper.make_node("Reshape", ["frame_p", i64("score_shape", [1])], ["frame_score"]),
        helper.make_node("Slice", [heads["cell"], "c1", "c2", "ax1"], ["cell_p"]),
        helper.make_node("Reshape", ["cell_p", i64("regions_shape", [1, 1, GRID_H, GRID_W])], ["cell_grid"]),
        helper.make_node("ReduceMax", ["cell_grid"], ["cell_best"], keepdims=1),
        helper.make_node("Reshape", ["cell_best", "score_shape"], ["cell_score"]),
        # The clip's score: the mean of the frame trees' and the best cell's probabilities.
        helper.make_node("Add", ["frame_score", "cell_score"], ["score_sum"]),
        helper.make_node("Mul", ["score_sum", f32("half", 0.5)], ["score"]),
        helper.make_node("Max", ["cell_best", f32("tiny", 1e-6)], ["cell_best_safe"]),
        helper.make_node("Div", ["score", "cell_best_safe"], ["ratio"]),
        helper.make_node("Mul", ["cell_grid", "ratio"], ["scaled"]),
        helper.make_node("Clip", ["scaled", f32("lo", 0.0), f32("hi", 1.0)], ["regions"]),
    ]
    outputs = [helper.make_tensor_value_info("score", TensorProto.FLOAT, [1]), helper.make_tensor_value_info("regions", TensorProto.FLOAT, [1, 1, GRID_H, GRID_W])]
    graph = helper.make_graph(nodes, "crowdtwin-anomaly-boxes", inputs, outputs, init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in sorted(opsets.items())], producer_name="crowdtwin models/train/train_anomaly_boxes.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())


# ---------------------------------------------------------------- main

MANIFEST = """// Written by models/train/train_anomaly_boxes.py with the model: retrain rather than edit.
(
    version: 1,
    name: "crowdtwin-anomaly-boxes-v1",
    task: anomaly,
    file: "anomaly_boxes.onnx",
    sha256: "{sha256}",
    licence: "MIT OR Apache-2.0 (trained by crowdtwin on its own synthetic, masked clips)",
    card: "anomaly_boxes.md",
    input: (
        name: "clip",
        layout: nchw,
        shape: [1, {clip}, {h}, {w}],          // {length} masked frames, oldest first, 3 channels each
        channel_order: rgb,
        resize: stretch,
        mean: [0.0, 0.0, 0.0],
        std: [255.0, 255.0, 255.0],
    ),
    threads: Some(1),                     // its cell trees sum in per-thread parts: one thread, the same bits at any --threads
    decoder: clip_score(
        score: "score",                   // is an incident visible (mean of the frame trees and the best cell)
        regions: Some("regions"),         // [1, 1, {gh}, {gw}] where (cell trees), scaled so the best cell scores the frame's score
        clip_length: {length},
        threshold: {threshold},            // Youden's J on the validation scenarios
    ),
)
"""


def predict(cell_model, frame_model, d):
    """The deployed score of every frame of a dataset, from its stored features: the mean of the
    frame trees' probability and the best cell's."""
    cells = cell_model.predict_proba(d["cells"].reshape(-1, CELL_FEATURES))[:, 1].reshape(len(d["y"]), -1).max(axis=1)
    return (frame_model.predict_proba(d["frames"])[:, 1] + cells) / 2


def youden(y, s):
    best, threshold = -1.0, 0.5
    for t in np.unique(s):
        j = (s[y] >= t).mean() - (s[~y] >= t).mean()
        if j > best:
            best, threshold = j, float(t)
    return threshold


def summary(d, scores, threshold):
    y = d["y"].astype(bool)
    kinds = {}
    for k, s in zip(d["kinds"], scores):
        for kind in (k.split(",") if k else ["(none)"]):
            kinds.setdefault(kind, []).append(bool(s >= threshold))
    only_protected = d["protected"].astype(bool) & ~y
    return {
        "frames": int(len(y)), "anomalous": int(y.sum()),
        "frame_auc": float(roc_auc_score(y, scores)) if 0 < y.sum() < len(y) else None,
        "tpr": float((scores[y] >= threshold).mean()), "fpr": float((scores[~y] >= threshold).mean()),
        "protected_only_flagged": float((scores[only_protected] >= threshold).mean()) if only_protected.any() else None,
        "flagged_by_kind": {k: round(float(np.mean(v)), 3) for k, v in sorted(kinds.items())},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", nargs="+", required=True, help="training datasets; the last two are validation")
    parser.add_argument("--test", nargs="+", required=True, help="held-out datasets, scored once")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("models"))
    args = parser.parse_args()
    if len(args.train) < 3:
        raise SystemExit("--train needs at least three datasets (the last two are validation)")
    session = feature_session()
    train = [load(f, session) for f in args.train[:-2]]
    validation = [load(f, session) for f in args.train[-2:]]
    test = [load(f, session) for f in args.test]
    rng = np.random.default_rng(SEED)
    X, Y = cell_rows(train, rng)
    cell_model = trees().fit(X, Y)
    frames = np.concatenate([d["frames"] for d in train])
    labels = np.concatenate([d["y"] for d in train]).astype(int)
    frame_model = trees().fit(frames, labels)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "anomaly_boxes.onnx"
    export(path, cell_model, frame_model)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    deployed = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    verify(args.test[0], deployed, cell_model, frame_model, session)
    val_scores = np.concatenate([predict(cell_model, frame_model, d) for d in validation])
    val_y = np.concatenate([d["y"] for d in validation]).astype(bool)
    threshold = youden(val_y, val_scores)
    cell_max = lambda d: cell_model.predict_proba(d["cells"].reshape(-1, CELL_FEATURES))[:, 1].reshape(len(d["y"]), -1).max(axis=1)
    result = {"training_composition": composition(args.train[:-2]), "threshold": threshold, "cells_trained": int(len(Y)), "frames_trained": int(len(labels)),
              "validation": {"frame_auc": float(roc_auc_score(val_y, val_scores)),
                             "frame_trees_alone_auc": float(roc_auc_score(val_y, np.concatenate([frame_model.predict_proba(d["frames"])[:, 1] for d in validation]))),
                             "best_cell_alone_auc": float(roc_auc_score(val_y, np.concatenate([cell_max(d) for d in validation])))},
              "test": {}}
    for d in test:
        result["test"][d["name"]] = summary(d, predict(cell_model, frame_model, d), threshold)
    all_test = {k: np.concatenate([d[k] for d in test]) for k in ("y", "protected")} | {"kinds": sum((d["kinds"] for d in test), [])}
    result["test_all"] = summary(all_test, np.concatenate([predict(cell_model, frame_model, d) for d in test]), threshold)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    result["sha256"] = digest
    (args.out / "anomaly_boxes.ron").write_text(MANIFEST.format(sha256=digest, threshold=round(threshold, 4), clip=3 * CLIP, h=HEIGHT, w=WIDTH, gh=GRID_H, gw=GRID_W, length=CLIP))
    (args.out / "anomaly_boxes_metrics.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"wrote {path} (sha256 {digest})")


def verify(folder, deployed, cell_model, frame_model, session, count=24):
    """The exported graph against the trees on the features the graph computes: the first
    `count` clips of a dataset's first camera must score the same (float32 rounding)."""
    folder = pathlib.Path(folder)
    labels = pl.read_parquet(folder / "labels.parquet").sort(["camera", "tick"])
    rows = labels.filter(pl.col("camera") == labels["camera"].min()).head(count)
    clip, worst = [], 0.0
    for row in rows.iter_rows(named=True):
        frame = (np.asarray(Image.open(folder / row["file"]).convert("RGB"), dtype=np.float32) / 255.0).transpose(2, 0, 1)
        clip = ([frame] * (CLIP - 1) if not clip else clip) + [frame]
        clip = clip[-CLIP:]
        tensor = np.concatenate(clip)[None]
        score, regions = deployed.run(["score", "regions"], {"clip": tensor})
        cells, frame = session.run(["cells", "frame"], {"clip": tensor})
        expected = (frame_model.predict_proba(frame)[0, 1] + cell_model.predict_proba(cells)[:, 1].max()) / 2
        worst = max(worst, abs(float(score[0]) - float(expected)))
        assert regions.shape == (1, 1, GRID_H, GRID_W) and abs(float(regions.max()) - float(score[0])) < 1e-4
    if worst > 1e-4:
        raise SystemExit(f"the exported graph disagrees with the trees by {worst}")
    print(f"exported graph checked against the trees on {len(rows)} clips (largest difference {worst:.2e})")


if __name__ == "__main__":
    main()
