#!/usr/bin/env python3
"""Writes tests/fixtures/anomaly_tracks_clip/: the first FRAMES masked frames of one camera of a
`crowdtwin dataset` folder (320 x 180, outlined or solid masks), the blobs per frame the export
found, and each frame's score as the training script computes it: ONNX Runtime's Python API on
the dataset's exported track rows (`tracks.parquet`), each frame its highest track, averaged over
the camera's last 10 frames. The Rust test reads the PNGs alone, cuts and tracks the paint and
scores it with the `person_tracks` decoder: it must find the same blobs and give the same scores.

    .venv/bin/python models/tools/make_anomaly_tracks_fixture.py --model models/anomaly_tracks.onnx --dataset DS --out tests/fixtures/anomaly_tracks_clip
"""

import argparse
import hashlib
import json
import pathlib
import shutil

import numpy as np
import onnxruntime as ort
import polars as pl

FRAMES, CONTEXT = 16, 10


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--camera", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    folder = pathlib.Path(args.dataset)
    labels = pl.read_parquet(folder / "labels.parquet").filter(pl.col("camera") == args.camera).sort("tick").head(FRAMES)
    tracks = pl.read_parquet(folder / "tracks.parquet").filter(pl.col("camera") == args.camera)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    best, blobs = [], []
    for index, row in enumerate(labels.iter_rows(named=True)):
        shutil.copy(folder / row["file"], out / f"frame_{index}.png")
        here = tracks.filter(pl.col("tick") == row["tick"])
        blobs.append(here.height)
        if here.height:
            x = np.asarray(here["features"].to_list(), np.float32)
            best.append(float(session.run(["probabilities"], {"tracks": x})[0][:, 1].max()))
        else:
            best.append(0.0)
    scores = [float(np.mean(np.asarray(best[max(0, i - CONTEXT + 1):i + 1], np.float32))) for i in range(len(best))]
    reference = {
        "sha256": hashlib.sha256(pathlib.Path(args.model).read_bytes()).hexdigest(),
        "source": f"{folder.name}, camera {args.camera}: ticks {labels['tick'][0]} .. {labels['tick'][-1]}",
        "blobs": blobs,
        "scores": scores,
    }
    (out / "reference.json").write_text(json.dumps(reference, indent=1) + "\n")
    print(f"{len(scores)} frames, blobs {blobs}, scores {[round(s, 3) for s in scores]}")


if __name__ == "__main__":
    main()
