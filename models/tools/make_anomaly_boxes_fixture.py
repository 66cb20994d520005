#!/usr/bin/env python3
"""Writes tests/fixtures/anomaly_boxes_clip/: 8 consecutive masked frames of one camera from a
`crowdtwin dataset` folder (320 x 180), and the score and region scores ONNX Runtime's Python
API gives for the clip they make — so the Rust test pins crowdtwin's pre-processing, clip
assembly and outputs to the path the model was trained and checked on (the training script
checks that path against the scikit-learn trees themselves).

    .venv/bin/python models/tools/make_anomaly_boxes_fixture.py --model models/anomaly_boxes.onnx --dataset DS --out tests/fixtures/anomaly_boxes_clip
"""

import argparse
import hashlib
import json
import pathlib
import shutil

import numpy as np
import onnxruntime as ort
import polars as pl
from PIL import Image

CLIP = 8


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    folder = pathlib.Path(args.dataset)
    labels = pl.read_parquet(folder / "labels.parquet").sort(["camera", "tick"])
    rows = labels.filter(pl.col("camera") == labels["camera"][0])
    anomalous = rows["anomaly"].to_list()
    start = next(i - CLIP + 1 for i in range(20, len(anomalous)) if anomalous[i])  # a clip ending on an incident
    files = rows["file"].to_list()[start:start + CLIP]
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frames = []
    for index, name in enumerate(files):
        shutil.copy(folder / name, out / f"frame_{index}.png")
        frames.append(np.asarray(Image.open(folder / name).convert("RGB"), np.float32).transpose(2, 0, 1) / 255.0)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    score, regions = session.run(["score", "regions"], {"clip": np.concatenate(frames)[None]})
    reference = {
        "sha256": hashlib.sha256(pathlib.Path(args.model).read_bytes()).hexdigest(),
        "source": f"{folder.name}: {files[0]} .. {files[-1]}",
        "score": float(score[0]),
        "grid": [int(regions.shape[3]), int(regions.shape[2])],
        "regions": [float(v) for v in regions.ravel()],
    }
    (out / "reference.json").write_text(json.dumps(reference, indent=1) + "\n")
    print(f"clip {files[0]} .. {files[-1]}: score {reference['score']:.4f}")


if __name__ == "__main__":
    main()
