#!/usr/bin/env python3
"""Regenerate the pose-silhouette test fixtures in tests/fixtures/.

  astronaut_pose_crop.png           the exact 256x256 RGB image fed to pose_landmark_lite.onnx:
                                    tests/fixtures/astronaut_416.png cropped around the NanoDet
                                    person box in astronaut_416_reference.json, grown by
                                    crop_expand (1.25) with black outside the frame, letterboxed
                                    to 256x256 (see pose_reference.py for the exact steps)
  astronaut_pose_reference.json     {"model_sha256", "mask_fraction", "mask_rows"}:
                                    mask_fraction = share of the 256x256 output pixels with
                                    sigmoid(logit) > threshold; mask_rows = that mask at rows and
                                    columns 0, 8, ..., 248 (32 strings of 32 '0'/'1')

Needs: numpy, onnxruntime, pillow.
Usage: .venv/bin/python models/tools/make_pose_fixtures.py   (the project's Python environment; from the repository)
"""
import json
import os
import sys

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import pose_reference as ref  # noqa: E402


def main():
    fx = os.path.join(ROOT, "tests", "fixtures")
    sil = ref.Silhouette(os.path.join(ROOT, "models", "pose_landmark_lite.ron"))
    dec = sil.manifest["decoder"]
    frame = np.asarray(Image.open(os.path.join(fx, "astronaut_416.png")).convert("RGB"))
    with open(os.path.join(fx, "astronaut_416_reference.json"), encoding="utf-8") as f:
        box = [d for d in json.load(f)["detections"] if d["class_id"] == 0][0]["box"]
    crop, origin = ref.crop(frame, box, float(dec["crop_expand"]))
    img, info = sil.tensor_image(crop)
    png = os.path.join(fx, "astronaut_pose_crop.png")
    Image.fromarray(img).save(png, optimize=True)
    img = np.asarray(Image.open(png).convert("RGB"))  # decode back: exactly what Rust reads
    r = sil.run_image(img)
    mask = r["prob"] > float(dec["threshold"])
    sub = mask[::8, ::8]
    rows = ["".join("1" if v else "0" for v in row) for row in sub]
    out = {
        "model_sha256": sil.sha256,
        "mask_fraction": round(float(mask.mean()), 6),
        "mask_rows": rows,
    }
    with open(os.path.join(fx, "astronaut_pose_reference.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    # margin report: sampled pixels whose logit is near 0 may flip between runtimes
    logit = r["logit"][::8, ::8]
    near = int((np.abs(logit) < 1.0).sum())
    print(f"astronaut_pose_crop.png {os.path.getsize(png)} bytes; crop box "
          f"{[origin[0], origin[1], origin[0] + crop.shape[1], origin[1] + crop.shape[0]]}; "
          f"fit {info}; pose_flag {r['pose_flag']:.4f}; mask_fraction {out['mask_fraction']}; "
          f"{near}/1024 sampled pixels have |logit| < 1")
    for row in rows:
        print("   ", row)


if __name__ == "__main__":
    main()
