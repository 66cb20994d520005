#!/usr/bin/env python3
"""Regenerate the NanoDet test fixtures in tests/fixtures/.

  astronaut_416.png                 skimage's astronaut.png (NASA, public domain),
                                    512x512 -> 416x416 (bilinear; square, so stretch
                                    and letterbox are the same)
  astronaut_small_416.png           the same photo shrunk to 104x104 (the person is
                                    ~100 px tall) and pasted at (268, 72) on a flat
                                    grey (128,128,128) 416x416 canvas
  *_reference.json                  models/tools/nanodet_reference.py output for each

Needs: numpy, onnxruntime, pillow, scikit-image (only for its bundled astronaut.png).
Usage: .venv/bin/python models/tools/make_nanodet_fixtures.py   (the project's Python environment; from the repository)
"""
import json
import os
import sys

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import nanodet_reference as ref  # noqa: E402

SMALL_SIDE = 104
SMALL_AT = (268, 72)
GREY = 128


def astronaut() -> Image.Image:
    import skimage

    path = os.path.join(os.path.dirname(skimage.__file__), "data", "astronaut.png")
    return Image.open(path).convert("RGB")


def write(det, name: str, img: Image.Image):
    out = os.path.join(ROOT, "tests", "fixtures")
    os.makedirs(out, exist_ok=True)
    png = os.path.join(out, f"{name}.png")
    img.save(png, optimize=True)
    rgb = np.asarray(Image.open(png).convert("RGB"))  # decode back: exactly what Rust reads
    x, _ = ref.preprocess(rgb, det.manifest["input"])
    outputs = det.run_tensor(x)
    dets = ref.decode(outputs, det.manifest)
    # margin report: anything close to the score threshold makes a brittle fixture
    near = ref.decode(outputs, det.manifest, det.manifest["decoder"]["score_threshold"] - 0.03)
    brittle = [d for d in near if abs(d["score"] - det.manifest["decoder"]["score_threshold"]) < 0.03]
    rounded = [{"class_id": d["class_id"], "score": round(d["score"], 4),
                "box": [round(v, 2) for v in d["box"]]} for d in dets]
    with open(os.path.join(out, f"{name}_reference.json"), "w", encoding="utf-8") as f:
        json.dump({"model_sha256": det.sha256, "detections": rounded}, f, indent=1)
        f.write("\n")
    print(f"{name}.png {os.path.getsize(png)} bytes; {len(dets)} detections:")
    for d in rounded:
        print("   ", d)
    if brittle:
        print("    WARNING: candidates within 0.03 of the threshold:", [(d["class_id"], round(d["score"], 4)) for d in brittle])


def main():
    det = ref.Detector(os.path.join(ROOT, "models", "nanodet.ron"))
    big = astronaut()
    write(det, "astronaut_416", big.resize((416, 416), Image.BILINEAR))
    small = Image.new("RGB", (416, 416), (GREY, GREY, GREY))
    small.paste(big.resize((SMALL_SIDE, SMALL_SIDE), Image.LANCZOS), SMALL_AT)
    write(det, "astronaut_small_416", small)


if __name__ == "__main__":
    main()
