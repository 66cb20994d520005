#!/usr/bin/env python3
"""The masking stage as a user would write it without crowdtwin: a plain Python loop over frames
with ONNX Runtime and NumPy — letterbox (PIL bilinear), inference, NanoDet's GFL decoding with
NMS (the project's NumPy reference decoder, models/tools/nanodet_reference.py), and painting each
kept box, grown by the dilation, in the mask colour. `crowdtwin bench-peers` times it against
crowdtwin's own masking stage on the same frames with the same ONNX Runtime thread count.

    .venv/bin/python tools/peers/masking_loop.py --manifest models/nanodet.ron --threads 2 \
        --dilation 2 FRAME.png ...   # prints {"frames", "seconds", "masked_px"} as JSON
"""

import argparse
import json
import pathlib
import sys
import time

import numpy as np
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "models" / "tools"))
import nanodet_reference  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dilation", type=int, default=2)
    parser.add_argument("--colour", default="0,160,230")
    parser.add_argument("frames", nargs="+")
    args = parser.parse_args()
    colour = np.array([int(v) for v in args.colour.split(",")], dtype=np.uint8)
    detector = nanodet_reference.Detector(args.manifest, threads=args.threads)
    classes = {c["id"] for c in detector.manifest["decoder"]["classes"]}
    frames = [np.asarray(Image.open(path).convert("RGB")) for path in args.frames]  # decoded before timing
    masked_px = 0
    started = time.perf_counter()
    for rgb in frames:
        h, w = rgb.shape[:2]
        detections, _ = detector.detect(rgb)
        mask = np.zeros((h, w), dtype=bool)
        for d in detections:
            if d["class_id"] not in classes:
                continue
            x0, y0, x1, y1 = d["box"]
            g = args.dilation
            # Pixels whose centre lies inside the grown box, as crowdtwin paints them.
            c0, r0 = max(int(np.ceil(x0 - g - 0.5)), 0), max(int(np.ceil(y0 - g - 0.5)), 0)
            c1, r1 = min(int(np.floor(x1 + g - 0.5)), w - 1), min(int(np.floor(y1 + g - 0.5)), h - 1)
            mask[r0:r1 + 1, c0:c1 + 1] = True
        painted = rgb.copy()
        painted[mask] = colour
        masked_px += int(mask.sum())
    seconds = time.perf_counter() - started
    print(json.dumps({"frames": len(frames), "seconds": seconds, "masked_px": masked_px}))


if __name__ == "__main__":
    main()
