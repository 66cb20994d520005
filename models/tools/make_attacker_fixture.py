#!/usr/bin/env python3
"""Writes tests/fixtures/attacker/: one raw frame of a frame store, and for each person large
enough in it their box, the attacker's input computed in NumPy (models/train/train_attacker.py's
`attacker_input`, the one the model was trained on) and the class probabilities onnxruntime's
Python API gives for it. The Rust test pins crowdtwin_vision::attacker::attacker_input to that
input and the Rust decoding to those classes.

    .venv/bin/python models/tools/make_attacker_fixture.py --model models/attribute_attacker.onnx --store STORE --out tests/fixtures/attacker
"""

import argparse
import hashlib
import json
import pathlib
import shutil
import sys

import numpy as np
import onnxruntime as ort
import pyarrow.parquet as pq
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "train"))
import train_attacker as attacker  # noqa: E402


def forward(session, crop, geometry):
    outputs = session.run([name for name, _ in attacker.ATTRIBUTES], {"crop": crop[None], "geometry": geometry[None]})
    return {name: o[0].astype(float).tolist() for (name, _), o in zip(attacker.ATTRIBUTES, outputs)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--persons", type=int, default=6, help="persons of the frame kept")
    args = parser.parse_args()
    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    store = pathlib.Path(args.store)
    widths = attacker.sensor_widths((store / "scenario.ron").read_text())
    frames = pq.read_table(store / "frames.parquet").to_pylist()
    in_frame = pq.read_table(store / "persons_in_frame.parquet").to_pylist()
    # The frame with the most persons large enough to crop.
    counts = {}
    for p in in_frame:
        if p["visible_px"] >= attacker.MIN_VISIBLE_PX:
            counts[(p["tick"], p["camera"])] = counts.get((p["tick"], p["camera"]), 0) + 1
    key = max(sorted(counts), key=lambda k: counts[k])
    frame = next(f for f in frames if (f["tick"], f["camera"]) == key)
    rgba = np.asarray(Image.open(store / frame["colour"]).convert("RGBA"))
    ids = np.asarray(Image.open(store / frame["ids"]).convert("RGBA")).astype(np.uint32)
    ids = ids[:, :, 0] | (ids[:, :, 1] << 8) | (ids[:, :, 2] << 16) | (ids[:, :, 3] << 24)
    render_per_sensor = np.float32(frame["width"]) / np.float32(widths[frame["camera"]])
    persons = []
    for p in [p for p in in_frame if (p["tick"], p["camera"]) == key and p["visible_px"] >= attacker.MIN_VISIBLE_PX][: args.persons]:
        ys, xs = np.nonzero(ids == attacker.PERSON_BASE + p["person"])
        bbox = [int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())]
        ppm = float(np.float32(p["pixels_per_metre"]) * render_per_sensor)
        crop, geometry = attacker.attacker_input(rgba, bbox, np.float32(ppm))
        probabilities = forward(session, crop, geometry)
        persons.append({
            "person": p["person"], "bbox": bbox, "pixels_per_metre": ppm,
            "crop": crop.reshape(-1).tolist(), "geometry": geometry.tolist(),
            "probabilities": probabilities,
            "classes": [int(np.argmax(probabilities[name])) for name, _ in attacker.ATTRIBUTES],
        })
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(store / frame["colour"], out / "frame.png")
    reference = {
        "sha256": hashlib.sha256(pathlib.Path(args.model).read_bytes()).hexdigest(),
        "source": f"store {store.name}: {frame['colour']}",
        "persons": persons,
    }
    (out / "reference.json").write_text(json.dumps(reference) + "\n")
    print(f"wrote {out}: {len(persons)} persons of {frame['colour']}")


if __name__ == "__main__":
    main()
