#!/usr/bin/env python3
"""Writes tests/fixtures/anomaly_clip/: 8 consecutive masked frames of one camera from a
`crowdtwin dataset` folder, and the score and region scores of the clip they make, computed in
NumPy from the weights stored in the ONNX file (models/train/train_anomaly.py's forward pass) —
a reference independent of ONNX Runtime for the Rust test.

    .venv/bin/python models/tools/make_anomaly_fixture.py --model models/anomaly_mil.onnx --dataset DS --out tests/fixtures/anomaly_clip
"""

import argparse
import hashlib
import json
import pathlib
import shutil
import sys

import numpy as np
import onnx
import polars as pl
from onnx import numpy_helper
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "train"))
import train_anomaly as model  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--start", type=int, default=-1, help="first frame (default: the first clip of the camera ending on an anomalous frame after 20 frames)")
    args = parser.parse_args()
    graph = onnx.load(args.model).graph
    weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    p = {
        "w1": weights["w1"].reshape(model.HIDDEN1, model.FEATURES), "b1": weights["b1"],
        "w2": weights["w2"].reshape(model.HIDDEN2, model.HIDDEN1 * 9), "b2": weights["b2"],
        "w3": weights["w3"].reshape(1, model.HIDDEN2), "b3": weights["b3"],
    }
    folder = pathlib.Path(args.dataset)
    labels = pl.read_parquet(folder / "labels.parquet").sort(["camera", "tick"])
    rows = labels.filter(pl.col("camera") == labels["camera"][0])
    start = args.start
    if start < 0:
        anomalous = rows["anomaly"].to_list()
        start = next(i - model.CLIP + 1 for i in range(20, len(anomalous)) if anomalous[i])
    files = rows["file"].to_list()[start:start + model.CLIP]
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frames = []
    for index, name in enumerate(files):
        shutil.copy(folder / name, out / f"frame_{index}.png")
        frames.append(np.asarray(Image.open(folder / name).convert("RGB"), np.float32).transpose(2, 0, 1) / 255.0)
    z3, _ = model.forward(p, model.pixel_features(np.stack(frames))[None])
    regions = model.sigmoid(z3[0].astype(np.float64))
    reference = {
        "sha256": hashlib.sha256(pathlib.Path(args.model).read_bytes()).hexdigest(),
        "source": f"{folder.name}: {files[0]} .. {files[-1]}",
        "score": float(regions.max()),
        "regions": [float(v) for v in regions],
    }
    (out / "reference.json").write_text(json.dumps(reference, indent=1) + "\n")
    print(f"clip {files[0]} .. {files[-1]}: score {reference['score']:.4f}")


if __name__ == "__main__":
    main()
