#!/usr/bin/env python3
"""Trains crowdtwin's weak baseline anomaly model (`anomaly_mil`, the default before `anomaly_tracks`) on masked clips exported by `crowdtwin dataset`.

A small multiple-instance-learning (MIL) network, written out in NumPy with its gradients
(no deep-learning framework to install), exported to ONNX and checked against ONNX Runtime.

    clip (8 masked frames, 128x72, oldest first)
      -> per pixel: mean colour, mean absolute frame difference, late-minus-early change (9 ch.)
      -> 1x1 conv 9->12 + ReLU            (learned, per pixel: "is this silhouette, is it moving")
      -> 8x8 average pool                 (a 16x9 grid of regions, the MIL instances)
      -> 3x3 conv 12->16 + ReLU -> 1x1 conv 16->1 -> sigmoid   (region scores)
      -> max over regions                 (the clip's score: its most anomalous region)

Weak supervision: each clip carries one label, "an incident (not a protected activity) is
visible in its newest frame"; where in the frame is never given. Protected activities (prayer,
hugs, assemblies, children playing, ...) are negatives: the model must learn not to flag them.

Usage (see models/train/README.md):
    python train_anomaly.py --train DS [DS ...] --validation DS --test DS --out models/
"""

import argparse
import hashlib
import json
import pathlib
import sys

import numpy as np
import polars as pl
from PIL import Image

CLIP = 8
WIDTH, HEIGHT = 128, 72
CELL = 8
GRID_W, GRID_H = WIDTH // CELL, HEIGHT // CELL
FEATURES, HIDDEN1, HIDDEN2 = 9, 12, 16


# ---------------------------------------------------------------- data

def load_clips(folder):
    """Every frame of a dataset as the clip ending with it (causal; the first frame of a camera
    stands in for frames before it), with its label and kinds."""
    folder = pathlib.Path(folder)
    labels = pl.read_parquet(folder / "labels.parquet").sort(["camera", "tick"])
    features, y, protected, kinds, late = [], [], [], [], []
    last_tick = labels["tick"].max()
    for camera in labels["camera"].unique().sort().to_list():
        rows = labels.filter(pl.col("camera") == camera)
        frames = []
        for row in rows.iter_rows(named=True):
            image = np.asarray(Image.open(folder / row["file"]).convert("RGB"), dtype=np.float32) / 255.0
            if image.shape != (HEIGHT, WIDTH, 3):
                sys.exit(f"{folder}: frames are {image.shape[1]}x{image.shape[0]}, export with --size {WIDTH}x{HEIGHT}")
            frame = image.transpose(2, 0, 1)  # CHW, RGB
            if not frames:
                frames = [frame] * (CLIP - 1)
            frames.append(frame)
            frames = frames[-CLIP:]
            features.append(pixel_features(np.stack(frames)))
            y.append(1.0 if row["anomaly"] else 0.0)
            protected.append(bool(row["protected"]))
            kinds.append(row["kinds"])
            late.append(row["tick"] >= 0.8 * last_tick)
    return np.stack(features), np.array(y, dtype=np.float32), np.array(protected), kinds, np.array(late)


def pixel_features(clip):
    """The fixed first layer, exactly as the ONNX graph computes it: clip [T, 3, H, W] -> [9, H*W]."""
    mean = clip.mean(axis=0)
    motion = np.abs(clip[1:] - clip[:-1]).mean(axis=0)
    change = np.abs(clip[CLIP // 2:].mean(axis=0) - clip[: CLIP // 2].mean(axis=0))
    return np.concatenate([mean, motion, change]).reshape(FEATURES, -1).astype(np.float32)


# ---------------------------------------------------------------- model

def init(rng):
    return {
        "w1": rng.normal(0, np.sqrt(2 / FEATURES), (HIDDEN1, FEATURES)).astype(np.float32),
        "b1": np.zeros(HIDDEN1, np.float32),
        "w2": rng.normal(0, np.sqrt(2 / (HIDDEN1 * 9)), (HIDDEN2, HIDDEN1 * 9)).astype(np.float32),
        "b2": np.zeros(HIDDEN2, np.float32),
        "w3": rng.normal(0, np.sqrt(1 / HIDDEN2), (1, HIDDEN2)).astype(np.float32),
        "b3": np.full(1, -2.0, np.float32),
    }


def im2col(g):
    """[B, C, 9, 16] -> [B, C*9, 144]: each region's 3x3 neighbourhood (zero padded)."""
    b, c, h, w = g.shape
    padded = np.pad(g, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.empty((b, c, 3, 3, h, w), g.dtype)
    for dy in range(3):
        for dx in range(3):
            cols[:, :, dy, dx] = padded[:, :, dy:dy + h, dx:dx + w]
    return cols.reshape(b, c * 9, h * w)


def col2im(cols, shape):
    b, c, h, w = shape
    cols = cols.reshape(b, c, 3, 3, h, w)
    padded = np.zeros((b, c, h + 2, w + 2), cols.dtype)
    for dy in range(3):
        for dx in range(3):
            padded[:, :, dy:dy + h, dx:dx + w] += cols[:, :, dy, dx]
    return padded[:, :, 1:-1, 1:-1]


def forward(p, f):
    """f [B, 9, H*W] -> region logits [B, 144] and the cache for backward."""
    b = f.shape[0]
    z1 = np.matmul(p["w1"], f) + p["b1"][None, :, None]
    a1 = np.maximum(z1, 0)
    g = a1.reshape(b, HIDDEN1, GRID_H, CELL, GRID_W, CELL).mean(axis=(3, 5))
    cols = im2col(g)
    z2 = np.matmul(p["w2"], cols) + p["b2"][None, :, None]
    a2 = np.maximum(z2, 0)
    z3 = np.einsum("ok,bkp->bop", p["w3"], a2)[:, 0] + p["b3"][0]
    return z3, (f, z1, g.shape, cols, z2, a2)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def loss_and_grads(p, f, y, weights):
    z3, (f, z1, g_shape, cols, z2, a2) = forward(p, f)
    b = f.shape[0]
    top = z3.argmax(axis=1)
    m = z3[np.arange(b), top]
    prob = sigmoid(m)
    eps = 1e-7
    loss = -(weights * (y * np.log(prob + eps) + (1 - y) * np.log(1 - prob + eps))).sum() / weights.sum()
    dm = weights * (prob - y) / weights.sum()
    dz3 = np.zeros_like(z3)
    dz3[np.arange(b), top] = dm
    grads = {"w3": np.einsum("bp,bkp->k", dz3, a2)[None], "b3": np.array([dz3.sum()], np.float32)}
    dz2 = np.einsum("ok,bp->bkp", p["w3"], dz3) * (z2 > 0)
    grads["w2"] = np.matmul(dz2, cols.transpose(0, 2, 1)).sum(axis=0)
    grads["b2"] = dz2.sum(axis=(0, 2))
    dg = col2im(np.matmul(p["w2"].T, dz2), g_shape)
    da1 = np.repeat(np.repeat(dg, CELL, axis=2), CELL, axis=3).reshape(b, HIDDEN1, -1) / (CELL * CELL)
    dz1 = da1 * (z1 > 0)
    grads["w1"] = np.matmul(dz1, f.transpose(0, 2, 1)).sum(axis=0)
    grads["b1"] = dz1.sum(axis=(0, 2))
    return loss, {k: v.astype(np.float32) for k, v in grads.items()}


def check_gradients(rng):
    """Finite differences on a tiny batch: the hand-written gradients must be right."""
    p = {k: v.astype(np.float64) for k, v in init(rng).items()}
    f = rng.random((3, FEATURES, WIDTH * HEIGHT))
    y, w = np.array([1.0, 0.0, 1.0]), np.array([1.0, 2.0, 1.0])
    _, grads = loss_and_grads(p, f, y, w)
    for name in p:
        index = tuple(rng.integers(0, s) for s in p[name].shape)
        for h in (1e-4,):
            p[name][index] += h
            up, _ = loss_and_grads(p, f, y, w)
            p[name][index] -= 2 * h
            down, _ = loss_and_grads(p, f, y, w)
            p[name][index] += h
            numeric = (up - down) / (2 * h)
            analytic = grads[name][index]
            if abs(numeric - analytic) > 1e-3 * max(1e-3, abs(numeric)) + 1e-6:
                sys.exit(f"gradient check failed for {name}{index}: numeric {numeric}, analytic {analytic}")


def scores(p, f, batch=64):
    out = []
    for i in range(0, len(f), batch):
        z3, _ = forward(p, f[i:i + batch])
        out.append(sigmoid(z3.max(axis=1)))
    return np.concatenate(out)


def auc(score, y):
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    pos, neg = score[y == 1], score[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    order = np.argsort(np.concatenate([pos, neg]), kind="mergesort")
    ranks = np.empty(len(order))
    values = np.concatenate([pos, neg])[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def train(p, f, y, epochs, rng, lr=3e-3, batch=32):
    positives = y.mean()
    weights_of = lambda labels: np.where(labels == 1, 0.5 / positives, 0.5 / (1 - positives)).astype(np.float32)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(v) for k, v in p.items()}
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(len(f))
        total = 0.0
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            loss, grads = loss_and_grads(p, f[idx], y[idx], weights_of(y[idx]))
            total += loss * len(idx)
            step += 1
            for k in p:
                grads[k] += 1e-4 * p[k]
                m[k] = 0.9 * m[k] + 0.1 * grads[k]
                v[k] = 0.999 * v[k] + 0.001 * grads[k] ** 2
                p[k] -= lr * (m[k] / (1 - 0.9 ** step)) / (np.sqrt(v[k] / (1 - 0.999 ** step)) + 1e-8)
        yield epoch, total / len(f)


# ---------------------------------------------------------------- ONNX

def to_onnx(p, path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def const(name, array):
        return numpy_helper.from_array(np.asarray(array), name)

    init_ = [
        const("shape_tchw", np.array([CLIP, 3, HEIGHT, WIDTH], np.int64)),
        const("zero", np.array([0], np.int64)), const("one", np.array([1], np.int64)),
        const("last", np.array([CLIP - 1], np.int64)), const("all", np.array([CLIP], np.int64)),
        const("half", np.array([CLIP // 2], np.int64)),
        const("w1", p["w1"].reshape(HIDDEN1, FEATURES, 1, 1)), const("b1", p["b1"]),
        const("w2", p["w2"].reshape(HIDDEN2, HIDDEN1, 3, 3)), const("b2", p["b2"]),
        const("w3", p["w3"].reshape(1, HIDDEN2, 1, 1)), const("b3", p["b3"]),
        const("score_shape", np.array([1], np.int64)),
    ]
    n = helper.make_node
    nodes = [
        n("Reshape", ["clip", "shape_tchw"], ["frames"]),
        n("ReduceMean", ["frames"], ["mean"], axes=[0], keepdims=1),
        n("Slice", ["frames", "one", "all", "zero"], ["later"]),
        n("Slice", ["frames", "zero", "last", "zero"], ["earlier"]),
        n("Sub", ["later", "earlier"], ["diff"]),
        n("Abs", ["diff"], ["absdiff"]),
        n("ReduceMean", ["absdiff"], ["motion"], axes=[0], keepdims=1),
        n("Slice", ["frames", "half", "all", "zero"], ["second_half"]),
        n("Slice", ["frames", "zero", "half", "zero"], ["first_half"]),
        n("ReduceMean", ["second_half"], ["late"], axes=[0], keepdims=1),
        n("ReduceMean", ["first_half"], ["early"], axes=[0], keepdims=1),
        n("Sub", ["late", "early"], ["late_minus_early"]),
        n("Abs", ["late_minus_early"], ["change"]),
        n("Concat", ["mean", "motion", "change"], ["features"], axis=1),
        n("Conv", ["features", "w1", "b1"], ["z1"]),
        n("Relu", ["z1"], ["a1"]),
        n("AveragePool", ["a1"], ["g"], kernel_shape=[CELL, CELL], strides=[CELL, CELL]),
        n("Conv", ["g", "w2", "b2"], ["z2"], pads=[1, 1, 1, 1]),
        n("Relu", ["z2"], ["a2"]),
        n("Conv", ["a2", "w3", "b3"], ["z3"]),
        n("Sigmoid", ["z3"], ["regions"]),
        n("ReduceMax", ["regions"], ["top"], keepdims=0),
        n("Reshape", ["top", "score_shape"], ["score"]),
    ]
    graph = helper.make_graph(
        nodes, "crowdtwin_anomaly_mil",
        [helper.make_tensor_value_info("clip", TensorProto.FLOAT, [1, 3 * CLIP, HEIGHT, WIDTH])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, [1]),
         helper.make_tensor_value_info("regions", TensorProto.FLOAT, [1, 1, GRID_H, GRID_W])],
        init_,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="crowdtwin models/train/train_anomaly.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def clip_tensor(frames):
    """Frames [T, 3, H, W] in 0..1 -> the model input [1, 3T, H, W]."""
    return frames.reshape(1, 3 * CLIP, HEIGHT, WIDTH).astype(np.float32)


# ---------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", nargs="+", required=True, help="datasets to train on")
    parser.add_argument("--validation", help="dataset choosing the epoch and the threshold (default: the last fifth of each training dataset's time, kept out of training)")
    parser.add_argument("--test", required=True, help="held-out dataset (another site and seed): the reported AUC")
    parser.add_argument("--out", default="models", help="folder for anomaly_mil.onnx and anomaly_mil_metrics.json")
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    check_gradients(np.random.default_rng(0))
    print("gradient check passed", flush=True)

    parts = [load_clips(d) for d in args.train]
    f = np.concatenate([x[0] for x in parts])
    y = np.concatenate([x[1] for x in parts])
    if args.validation:
        fv, yv, _, _, _ = load_clips(args.validation)
    else:
        late = np.concatenate([x[4] for x in parts])
        fv, yv, f, y = f[late], y[late], f[~late], y[~late]
    ft, yt, protected_t, kinds_t, _ = load_clips(args.test)
    print(f"train {len(y)} clips ({int(y.sum())} anomalous), validation {len(yv)}, test {len(yt)}", flush=True)

    p = init(rng)
    best = (-1.0, None, -1)
    for epoch, loss in train(p, f, y, args.epochs, rng):
        validation_auc = auc(scores(p, fv), yv)
        print(f"epoch {epoch + 1:2d}: loss {loss:.4f}, validation AUC {validation_auc:.3f}", flush=True)
        if validation_auc > best[0]:
            best = (validation_auc, {k: v.copy() for k, v in p.items()}, epoch + 1)
    validation_auc, p, epoch = best

    # Threshold: Youden's J on validation (best true-positive minus false-positive rate).
    sv = scores(p, fv)
    candidates = np.unique(np.round(sv, 3))
    threshold = float(max(candidates, key=lambda t: ((sv >= t) & (yv == 1)).sum() / max(1, yv.sum()) - ((sv >= t) & (yv == 0)).sum() / max(1, (yv == 0).sum())))
    threshold = min(max(threshold, 0.01), 0.99)

    st = scores(p, ft)
    test_auc = auc(st, yt)
    per_kind = {}
    for kind in sorted({k for ks in kinds_t for k in ks.split(",") if k}):
        rows = np.array([kind in ks.split(",") for ks in kinds_t])
        per_kind[kind] = {"frames": int(rows.sum()), "flagged_at_threshold": float((st[rows] >= threshold).mean())}
    negatives = yt == 0
    metrics = {
        "epoch": epoch,
        "validation_frame_auc": round(validation_auc, 4),
        "test_frame_auc": round(test_auc, 4),
        "threshold": round(threshold, 3),
        "test_true_positive_rate": round(float((st[yt == 1] >= threshold).mean()), 4),
        "test_false_positive_rate": round(float((st[negatives] >= threshold).mean()), 4),
        "test_protected_only_frames_flagged": round(float((st[negatives & protected_t] >= threshold).mean()), 4) if (negatives & protected_t).any() else None,
        "test_frames": int(len(yt)), "test_anomalous_frames": int(yt.sum()),
        "train_clips": int(len(y)), "train_anomalous_clips": int(y.sum()),
        "per_kind_on_test": per_kind,
    }
    out = pathlib.Path(args.out)
    sha = to_onnx(p, out / "anomaly_mil.onnx")
    metrics["sha256"] = sha
    (out / "anomaly_mil_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")

    # The exported graph must agree with the NumPy model it came from.
    import onnxruntime as ort
    session = ort.InferenceSession(str(out / "anomaly_mil.onnx"), providers=["CPUExecutionProvider"])
    test_folder = pathlib.Path(args.test)
    labels = pl.read_parquet(test_folder / "labels.parquet").sort(["camera", "tick"])
    files = labels.filter(pl.col("camera") == labels["camera"][0])["file"].to_list()
    frames = np.stack([np.asarray(Image.open(test_folder / name).convert("RGB"), np.float32).transpose(2, 0, 1) / 255.0 for name in files[100:100 + CLIP]])
    onnx_score, onnx_regions = session.run(None, {"clip": clip_tensor(frames)})
    z3, _ = forward(p, pixel_features(frames)[None])
    numpy_regions = sigmoid(z3).reshape(GRID_H, GRID_W)
    difference = float(np.abs(onnx_regions[0, 0] - numpy_regions).max())
    assert difference < 1e-4, f"ONNX and NumPy disagree by {difference}"
    print(json.dumps(metrics, indent=2))
    print(f"wrote {out / 'anomaly_mil.onnx'} (sha256 {sha}); ONNX matches NumPy within {difference:.1e}")


if __name__ == "__main__":
    main()
