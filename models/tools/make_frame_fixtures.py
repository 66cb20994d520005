#!/usr/bin/env python3
"""Fixtures for the production image path: a 640x360 frame (not the models' input size), so the
Rust side's resampling, letterboxing, mapping boxes back, cropping and mapping silhouettes back
are all compared with the Python references.

Writes tests/fixtures/frame_640x360.png and tests/fixtures/frame_640x360_reference.json:
{"detector_sha256", "detections": [...], "silhouette_sha256", "box", "frame_mask_pixels",
 "mask_rows": [every 4th row, every 4th column of the frame mask as 0/1 text]}.
Run in the project's Python environment (`make setup`): .venv/bin/python models/tools/make_frame_fixtures.py
"""
import json
import os
import sys

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import nanodet_reference as detector_ref  # noqa: E402
import pose_reference as pose_ref  # noqa: E402

FIXTURES = os.path.join(HERE, "..", "..", "tests", "fixtures")


def main():
    photo = Image.open(os.path.join(FIXTURES, "astronaut_416.png")).convert("RGB")
    frame = Image.new("RGB", (640, 360), (118, 124, 120))
    frame.paste(photo.resize((220, 220), Image.BILINEAR), (360, 110))
    frame_path = os.path.join(FIXTURES, "frame_640x360.png")
    frame.save(frame_path, optimize=True)
    rgb = np.asarray(frame)

    det = detector_ref.Detector(os.path.join(HERE, "..", "nanodet.ron"))
    dets, _ = det.detect(rgb)
    people = [d for d in dets if d["class_id"] == 0]
    box = [round(v, 2) for v in people[0]["box"]]

    sil = pose_ref.Silhouette(os.path.join(HERE, "..", "pose_landmark_lite.ron"))
    mask, info = sil.frame_mask(rgb, box)
    rows = ["".join("1" if mask[y, x] else "0" for x in range(0, 640, 4)) for y in range(0, 360, 4)]
    out = {
        "detector_sha256": det.sha256,
        "detections": [{"class_id": d["class_id"], "score": round(d["score"], 4), "box": [round(v, 2) for v in d["box"]]} for d in dets],
        "silhouette_sha256": sil.sha256,
        "box": box,
        "pose_flag": round(float(info["pose_flag"]), 4),
        "frame_mask_pixels": int(mask.sum()),
        "mask_rows": rows,
    }
    with open(os.path.join(FIXTURES, "frame_640x360_reference.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(json.dumps({k: v for k, v in out.items() if k != "mask_rows"}, indent=1))


if __name__ == "__main__":
    main()
