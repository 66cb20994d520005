#!/usr/bin/env python3
"""Reference decoder for models/nanodet.ron (gfl_detector), numpy + onnxruntime only.

It reads the RON manifest, preprocesses an image exactly as the manifest says,
runs the ONNX model and decodes the per-stride GFL outputs the way the Rust side
does:

  for each level (stride s, grid W = input_w / s, H = input_h / s):
    anchor i -> col = i % W, row = i // W
    centre   = ((col + centre_offset) * s, (row + centre_offset) * s)
    boxes[i] = 4 groups [left, top, right, bottom] of reg_max + 1 logits;
               softmax each group, d = sum_k k * p_k
    box      = (cx - d_l*s*scale, cy - d_t*s*scale, cx + d_r*s*scale, cy + d_b*s*scale)
    score    = scores[i][class] (sigmoid first unless scores_are_probabilities)
  keep score >= score_threshold for the classes listed in the manifest,
  then greedy NMS per class at nms_iou (IoU on the raw float boxes),
  sorted by descending score.

Boxes are in model-input pixels (0..input_w, 0..input_h), not clipped.

Usage:
  nanodet_reference.py IMAGE [--manifest models/nanodet.ron] [--json OUT.json]
  python -c 'import nanodet_reference as r; ...'   (functions below)

Dependencies: numpy, onnxruntime, pillow (only to read/resize the image): the project's Python
environment (`make setup` builds .venv/), where `cargo test` runs it against the Rust decoder.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys

import numpy as np

# --------------------------------------------------------------------------
# Minimal RON reader (the subset the manifest uses: structs, enum variants,
# lists, strings, numbers, bools, // comments).
# --------------------------------------------------------------------------
_TOKEN = re.compile(
    r'\s*(?:(//[^\n]*)|(/\*.*?\*/)|("(?:[^"\\]|\\.)*")|([-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)'
    r'|([A-Za-z_][A-Za-z0-9_]*)|([()\[\]:,]))',
    re.S,
)


def _tokens(text: str):
    pos = 0
    out = []
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"RON: cannot tokenize at {text[pos:pos + 30]!r}")
        pos = m.end()
        if m.group(1) or m.group(2):
            continue
        if m.group(3):
            out.append(("str", json.loads(m.group(3))))
        elif m.group(4):
            s = m.group(4)
            out.append(("num", float(s) if any(c in s for c in ".eE") else int(s)))
        elif m.group(5):
            out.append(("ident", m.group(5)))
        else:
            out.append(("punct", m.group(6)))
    return out


class _Parser:
    def __init__(self, toks):
        self.t = toks
        self.i = 0

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def take(self, kind=None, val=None):
        k, v = self.peek()
        if (kind and k != kind) or (val is not None and v != val):
            raise ValueError(f"RON: expected {kind} {val!r}, got {k} {v!r}")
        self.i += 1
        return v

    def value(self):
        k, v = self.peek()
        if k in ("str", "num"):
            self.i += 1
            return v
        if k == "punct" and v == "(":
            return self.struct()
        if k == "punct" and v == "[":
            self.take("punct", "[")
            items = []
            while self.peek() != ("punct", "]"):
                items.append(self.value())
                if self.peek() == ("punct", ","):
                    self.i += 1
            self.take("punct", "]")
            return items
        if k == "ident":
            self.i += 1
            if v in ("true", "false"):
                return v == "true"
            if v == "None":
                return None
            if v == "Some":  # Option: Some(value)
                self.take("punct", "(")
                inner = self.value()
                self.take("punct", ")")
                return inner
            if self.peek() == ("punct", "("):  # enum variant with fields
                fields = self.struct()
                return {"variant": v, **fields}
            return v  # unit enum variant
        raise ValueError(f"RON: unexpected {k} {v!r}")

    def struct(self):
        self.take("punct", "(")
        d = {}
        while self.peek() != ("punct", ")"):
            key = self.take("ident")
            self.take("punct", ":")
            d[key] = self.value()
            if self.peek() == ("punct", ","):
                self.i += 1
        self.take("punct", ")")
        return d


def load_manifest(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        p = _Parser(_tokens(f.read()))
    m = p.value()
    if p.i != len(p.t):
        raise ValueError("RON: trailing tokens")
    m["_dir"] = os.path.dirname(os.path.abspath(path))
    return m


# --------------------------------------------------------------------------
# Preprocessing
# --------------------------------------------------------------------------
def preprocess(rgb: np.ndarray, inp: dict) -> tuple[np.ndarray, dict]:
    """rgb: HxWx3 uint8. Returns (tensor, info) where info maps input px -> image px."""
    from PIL import Image

    shape = inp["shape"]
    if inp["layout"] == "nchw":
        h, w = shape[2], shape[3]
    else:
        h, w = shape[1], shape[2]
    ih, iw = rgb.shape[:2]
    if (ih, iw) == (h, w):
        img = rgb.astype(np.float32)
        info = {"scale_x": 1.0, "scale_y": 1.0, "pad_x": 0.0, "pad_y": 0.0}
    elif inp["resize"] == "stretch":
        img = np.asarray(Image.fromarray(rgb).resize((w, h), Image.BILINEAR), dtype=np.float32)
        info = {"scale_x": w / iw, "scale_y": h / ih, "pad_x": 0.0, "pad_y": 0.0}
    elif inp["resize"] == "letterbox":
        r = min(w / iw, h / ih)
        nw, nh = max(1, round(iw * r)), max(1, round(ih * r))
        px, py = (w - nw) // 2, (h - nh) // 2
        img = np.full((h, w, 3), inp.get("pad_value", 0), np.float32)  # the manifest's padding (0 by default), centred
        img[py:py + nh, px:px + nw] = np.asarray(Image.fromarray(rgb).resize((nw, nh), Image.BILINEAR))
        # the exact scales of the resampled size (r rounded to whole pixels), as the Rust side uses
        info = {"scale_x": nw / iw, "scale_y": nh / ih, "pad_x": float(px), "pad_y": float(py)}
    else:
        raise ValueError(inp["resize"])
    if inp["channel_order"] == "bgr":
        img = img[..., ::-1]
    mean = np.asarray(inp["mean"], np.float32)
    std = np.asarray(inp["std"], np.float32)
    x = (img - mean) / std  # mean/std are indexed by *tensor* channel (after reordering)
    if inp["layout"] == "nchw":
        x = x.transpose(2, 0, 1)
    return np.ascontiguousarray(x[None], dtype=np.float32), info


# --------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------
def _softmax(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def iou(a, b) -> np.ndarray:
    """a: (4,), b: (N,4) -> (N,)"""
    ix0 = np.maximum(a[0], b[:, 0])
    iy0 = np.maximum(a[1], b[:, 1])
    ix1 = np.minimum(a[2], b[:, 2])
    iy1 = np.minimum(a[3], b[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area_a = max(a[2] - a[0], 0) * max(a[3] - a[1], 0)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    # stable sort: ties keep anchor order (level order, then row-major index)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[iou(boxes[i], boxes[rest]) <= thr]
    return keep


def decode(outputs: dict, manifest: dict, score_threshold: float | None = None) -> list[dict]:
    inp = manifest["input"]
    dec = manifest["decoder"]
    assert dec["variant"] == "gfl_detector", dec["variant"]
    if inp["layout"] == "nchw":
        in_h, in_w = inp["shape"][2], inp["shape"][3]
    else:
        in_h, in_w = inp["shape"][1], inp["shape"][2]
    nb = dec["reg_max"] + 1
    off = float(dec["centre_offset"])
    scale = float(dec["distance_scale"])
    thr = float(dec["score_threshold"] if score_threshold is None else score_threshold)
    class_ids = [c["id"] for c in dec["classes"]]
    bins = np.arange(nb, dtype=np.float32)

    all_boxes, all_scores, all_cls = [], [], []
    for lvl in dec["levels"]:
        s = lvl["stride"]
        gw, gh = in_w // s, in_h // s
        sc = np.asarray(outputs[lvl["scores"]], np.float32).reshape(gh * gw, -1)
        bx = np.asarray(outputs[lvl["boxes"]], np.float32).reshape(gh * gw, 4, nb)
        if not dec["scores_are_probabilities"]:
            sc = 1.0 / (1.0 + np.exp(-sc))
        idx = np.arange(gh * gw)
        cx = (idx % gw + off) * s
        cy = (idx // gw + off) * s
        d = (_softmax(bx, axis=2) * bins).sum(axis=2) * s * scale  # (N,4) l,t,r,b
        boxes = np.stack([cx - d[:, 0], cy - d[:, 1], cx + d[:, 2], cy + d[:, 3]], axis=1)
        for c in class_ids:
            m = sc[:, c] >= thr
            all_boxes.append(boxes[m])
            all_scores.append(sc[m, c])
            all_cls.append(np.full(int(m.sum()), c))
    boxes = np.concatenate(all_boxes) if all_boxes else np.zeros((0, 4))
    scores = np.concatenate(all_scores) if all_scores else np.zeros(0)
    cls = np.concatenate(all_cls) if all_cls else np.zeros(0, int)

    dets = []
    for c in class_ids:
        m = np.nonzero(cls == c)[0]
        for k in nms(boxes[m], scores[m], float(dec["nms_iou"])):
            j = m[k]
            dets.append({"class_id": int(c), "score": float(scores[j]), "box": [float(v) for v in boxes[j]]})
    dets.sort(key=lambda d: -d["score"])
    return dets


class VerifiedModel:
    """A manifest's model, its sha256 checked, in a single-session ONNX Runtime."""

    def __init__(self, manifest_path: str, threads: int = 1):
        import onnxruntime as ort

        self.manifest = load_manifest(manifest_path)
        self.model_path = os.path.join(self.manifest["_dir"], self.manifest["file"])
        with open(self.model_path, "rb") as f:
            self.sha256 = hashlib.sha256(f.read()).hexdigest()
        if self.sha256 != self.manifest["sha256"]:
            raise ValueError(f"sha256 mismatch: file {self.sha256} manifest {self.manifest['sha256']}")
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.session = ort.InferenceSession(self.model_path, so, providers=["CPUExecutionProvider"])
        self.output_names = [o.name for o in self.session.get_outputs()]


class Detector(VerifiedModel):

    def run_tensor(self, x: np.ndarray) -> dict:
        name = self.manifest["input"]["name"]
        return dict(zip(self.output_names, self.session.run(None, {name: x})))

    def detect(self, rgb: np.ndarray, score_threshold: float | None = None):
        """Detections with boxes in *frame* pixels (mapped back through the letterbox/stretch and
        clipped to the frame, as the Rust side reports them), and the fit info."""
        x, info = preprocess(rgb, self.manifest["input"])
        h, w = rgb.shape[:2]
        dets = decode(self.run_tensor(x), self.manifest, score_threshold)
        for d in dets:
            x0, y0, x1, y1 = d["box"]
            d["box"] = [
                min(max((x0 - info["pad_x"]) / info["scale_x"], 0.0), w),
                min(max((y0 - info["pad_y"]) / info["scale_y"], 0.0), h),
                min(max((x1 - info["pad_x"]) / info["scale_x"], 0.0), w),
                min(max((y1 - info["pad_y"]) / info["scale_y"], 0.0), h),
            ]
        return dets, info


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("image")
    ap.add_argument("--manifest", default=os.path.join(here, "..", "nanodet.ron"))
    ap.add_argument("--json", help="write {model_sha256, detections} here")
    ap.add_argument("--threshold", type=float, help="override score_threshold")
    a = ap.parse_args(argv)
    from PIL import Image

    rgb = np.asarray(Image.open(a.image).convert("RGB"))
    det = Detector(a.manifest)
    dets, _ = det.detect(rgb, a.threshold)
    names = {c["id"]: c["name"] for c in det.manifest["decoder"]["classes"]}
    for d in dets:
        print(f'{names[d["class_id"]]:>10} {d["score"]:.4f} ' + " ".join(f"{v:7.2f}" for v in d["box"]))
    if a.json:
        rounded = [{"class_id": d["class_id"], "score": round(d["score"], 4),
                    "box": [round(v, 2) for v in d["box"]]} for d in dets]
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump({"model_sha256": det.sha256, "detections": rounded}, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
