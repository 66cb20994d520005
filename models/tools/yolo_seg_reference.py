#!/usr/bin/env python3
"""Reference decoder for Ultralytics YOLO (v8/11) ONNX exports, NumPy + ONNX Runtime only, following
Ultralytics' published post-processing (non_max_suppression, then process_mask: the sigmoid of each
instance's coefficients over the prototypes, cropped to its box at prototype resolution, upsampled
bilinearly with align_corners=False, thresholded). It checks crowdtwin's Rust decoder
(`vision::detector`, decoder `yolo`).

    yolo_seg_reference.py MODEL.onnx IMAGE.png --conf 0.25 --iou 0.45 --mask-threshold 0.5 \\
        --classes 0,2 --json OUT.json

The image must have the model's input size (no letterbox here). Per kept detection the JSON holds
class_id, score, box [x0, y0, x1, y1] in input pixels, and the mask as row runs [y, x_start, x_end).
Dependencies: numpy, onnxruntime, pillow (the project's Python environment).
"""
import argparse
import json

import numpy as np
import onnxruntime as ort
from PIL import Image


def iou(a, b):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return 0.0 if union <= 0 else inter / union


def upsample(mask, height, width):
    """Bilinear resize with half-pixel centres and clamped edges (PyTorch, align_corners=False)."""
    mh, mw = mask.shape

    def axis(out_len, in_len):
        src = (np.arange(out_len, dtype=np.float32) + 0.5) * np.float32(in_len / out_len) - np.float32(0.5)
        src = np.maximum(src, 0)
        i0 = np.minimum(np.floor(src).astype(int), in_len - 1)
        i1 = np.minimum(i0 + 1, in_len - 1)
        return i0, i1, (src - i0).astype(np.float32)

    y0, y1, wy = axis(height, mh)
    x0, x1, wx = axis(width, mw)
    top = mask[y0][:, x0] * (1 - wx) + mask[y0][:, x1] * wx
    bottom = mask[y1][:, x0] * (1 - wx) + mask[y1][:, x1] * wx
    return top * (1 - wy[:, None]) + bottom * wy[:, None]


def decode(out0, protos, conf, iou_threshold, mask_threshold, keep_classes, size):
    pred = out0[0].T
    coefficients = 0 if protos is None else protos.shape[1]
    classes = pred.shape[1] - 4 - coefficients
    scores = pred[:, 4 : 4 + classes]
    best, score = scores.argmax(1), scores.max(1)
    candidates = [a for a in range(pred.shape[0]) if score[a] >= conf and best[a] in keep_classes]
    boxes = {a: [pred[a, 0] - pred[a, 2] / 2, pred[a, 1] - pred[a, 3] / 2, pred[a, 0] + pred[a, 2] / 2, pred[a, 1] + pred[a, 3] / 2] for a in candidates}
    candidates.sort(key=lambda a: (-score[a], best[a], boxes[a][0], boxes[a][1]))
    kept = []
    for a in candidates:
        if all(best[k] != best[a] or iou(boxes[k], boxes[a]) <= iou_threshold for k in kept):
            kept.append(a)
    out = []
    for a in kept:
        item = {"class_id": int(best[a]), "score": float(score[a]), "box": [float(v) for v in boxes[a]]}
        if protos is not None:
            _, count, mh, mw = protos.shape
            logits = (pred[a, 4 + classes :] @ protos[0].reshape(count, -1)).reshape(mh, mw)
            mask = 1 / (1 + np.exp(-logits))
            h, w = size
            x1, y1, x2, y2 = [v * s for v, s in zip(boxes[a], (mw / w, mh / h, mw / w, mh / h))]
            cols, rows = np.arange(mw)[None, :], np.arange(mh)[:, None]
            mask = mask * ((cols >= x1) & (cols < x2) & (rows >= y1) & (rows < y2))
            binary = upsample(mask.astype(np.float32), h, w) > mask_threshold
            runs = []
            for y in range(h):
                xs = np.flatnonzero(binary[y])
                if xs.size:
                    breaks = np.flatnonzero(np.diff(xs) > 1)
                    starts = np.concatenate(([xs[0]], xs[breaks + 1]))
                    ends = np.concatenate((xs[breaks] + 1, [xs[-1] + 1]))
                    runs.extend([int(y), int(s), int(e)] for s, e in zip(starts, ends))
            item["mask_runs"] = runs
        out.append(item)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("image")
    ap.add_argument("--conf", type=float, required=True)
    ap.add_argument("--iou", type=float, required=True)
    ap.add_argument("--mask-threshold", type=float, default=0.5)
    ap.add_argument("--classes", required=True, help="comma-separated class ids kept")
    ap.add_argument("--json", required=True)
    a = ap.parse_args()
    session = ort.InferenceSession(a.model, providers=["CPUExecutionProvider"])
    rgb = np.asarray(Image.open(a.image).convert("RGB"), dtype=np.float32) / 255.0
    x = rgb.transpose(2, 0, 1)[None].astype(np.float32)
    outputs = session.run(None, {session.get_inputs()[0].name: x})
    protos = outputs[1] if len(outputs) > 1 else None
    keep = {int(c) for c in a.classes.split(",")}
    result = decode(outputs[0], protos, a.conf, a.iou, a.mask_threshold, keep, rgb.shape[:2])
    with open(a.json, "w", encoding="utf-8") as f:
        json.dump({"detections": result}, f)


if __name__ == "__main__":
    main()
