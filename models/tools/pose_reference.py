#!/usr/bin/env python3
"""Reference silhouette decoder for models/pose_landmark_lite.ron (crop_mask), numpy + onnxruntime.

Given a frame and one person box (frame pixels, x0 y0 x1 y1, e.g. from NanoDet), it does
what the Rust side should do:

  1. grow the box about its centre: width and height are each multiplied by crop_expand
     (1.25 -> 12.5 % of the box width added left and right, 12.5 % of its height above and below);
  2. cut the integer pixel rectangle floor(x0), floor(y0), ceil(x1), ceil(y1) out of the frame;
     pixels of that rectangle that fall outside the frame are black (0, 0, 0);
  3. fit that crop into the 256x256 input as the manifest says (letterbox: scale by
     r = min(256/w, 256/h), size round(w*r) x round(h*r), resampled with PIL BILINEAR
     (antialiased triangle filter, same as vision/src/detector.rs `resample`), pasted at
     ((256-nw)//2, (256-nh)//2) on black), then tensor = pixel / 255, RGB, NHWC;
  4. run the model; output `segmentation` [1, 256, 256, 1] holds logits: p = sigmoid(logit);
     a pixel is person where p > threshold (0.5, i.e. logit > 0);
  5. map back: frame pixel (x, y) inside the crop rectangle reads the mask at
     u = (x + 0.5 - cx0) * r + pad_x - 0.5, v = (y + 0.5 - cy0) * r + pad_y - 0.5
     (bilinear on p, then threshold); pixels outside the crop rectangle are not person.

The model's other outputs are not needed for the mask; `pose_flag` (presence probability)
is useful as a sanity check: when it is low the mask is unreliable and the masker should fall
back to painting the whole box.

Usage:
  pose_reference.py IMAGE X0 Y0 X1 Y1 [--manifest models/pose_landmark_lite.ron] [--overlay OUT.png]

Dependencies: numpy, onnxruntime, pillow: the project's Python environment (.venv/, `make setup`).
"""
from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from nanodet_reference import VerifiedModel, preprocess  # noqa: E402


def expand_box(box, factor: float) -> list[float]:
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    w, h = (x1 - x0) * factor, (y1 - y0) * factor
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def crop(rgb: np.ndarray, box, factor: float) -> tuple[np.ndarray, tuple[int, int]]:
    """Returns (crop HxWx3 uint8, (x0, y0) of the crop in the frame); black outside the frame."""
    ex = expand_box(box, factor)
    x0, y0 = math.floor(ex[0]), math.floor(ex[1])
    x1, y1 = max(x0 + 1, math.ceil(ex[2])), max(y0 + 1, math.ceil(ex[3]))
    H, W = rgb.shape[:2]
    out = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(W, x1), min(H, y1)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = rgb[sy0:sy1, sx0:sx1, :3]
    return out, (x0, y0)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free


class Silhouette(VerifiedModel):
    def __init__(self, manifest_path: str, threads: int = 1):
        super().__init__(manifest_path, threads)
        assert self.manifest["decoder"]["variant"] == "crop_mask", self.manifest["decoder"]

    def tensor_image(self, crop_rgb: np.ndarray) -> tuple[np.ndarray, dict]:
        """The exact 256x256 RGB uint8 image the model sees (before /255), and the fit info."""
        inp = dict(self.manifest["input"], mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0], layout="nhwc", channel_order="rgb")
        x, info = preprocess(crop_rgb, inp)
        return np.clip(np.round(x[0]), 0, 255).astype(np.uint8), info

    def run_image(self, img256: np.ndarray) -> dict:
        """img256: 256x256x3 uint8 RGB -> dict with `prob` (256x256), `logit`, `pose_flag`."""
        inp = self.manifest["input"]
        x, _ = preprocess(img256, inp)  # same size as the input: no resize, just normalise/reorder
        out = dict(zip(self.output_names, self.session.run(None, {inp["name"]: x})))
        dec = self.manifest["decoder"]
        raw = np.asarray(out[dec["output"]], np.float32)
        w, h = dec["size"]
        raw = raw.reshape(h, w)  # [1, 256, 256, 1]: rows, then columns
        prob = sigmoid(raw) if dec["logits"] else raw
        return {"prob": prob, "logit": raw, "pose_flag": float(np.ravel(out.get("pose_flag", [np.nan]))[0])}

    def frame_mask(self, rgb: np.ndarray, box) -> tuple[np.ndarray, dict]:
        """Person mask (HxW bool) for one box, plus intermediates."""
        dec = self.manifest["decoder"]
        c, (cx0, cy0) = crop(rgb, box, float(dec["crop_expand"]))
        img, info = self.tensor_image(c)
        r = self.run_image(img)
        H, W = rgb.shape[:2]
        ch, cw = c.shape[:2]
        xs = np.arange(W, dtype=np.float64)
        ys = np.arange(H, dtype=np.float64)
        us = (xs + 0.5 - cx0) * info["scale_x"] + info["pad_x"] - 0.5
        vs = (ys + 0.5 - cy0) * info["scale_y"] + info["pad_y"] - 0.5
        p = _bilinear(r["prob"], us, vs)
        inside = ((ys >= cy0) & (ys < cy0 + ch))[:, None] & ((xs >= cx0) & (xs < cx0 + cw))[None, :]
        mask = inside & (p > float(dec["threshold"]))
        return mask, {"crop": c, "crop_origin": (cx0, cy0), "image": img, "fit": info, **r}


def _bilinear(a: np.ndarray, us: np.ndarray, vs: np.ndarray) -> np.ndarray:
    """Sample a (HxW) at columns us, rows vs (edge-clamped)."""
    h, w = a.shape
    us = np.clip(us, 0, w - 1)
    vs = np.clip(vs, 0, h - 1)
    u0 = np.minimum(np.floor(us).astype(int), w - 2)
    v0 = np.minimum(np.floor(vs).astype(int), h - 2)
    fu = (us - u0)[None, :]
    fv = (vs - v0)[:, None]
    a00 = a[v0][:, u0]
    a01 = a[v0][:, u0 + 1]
    a10 = a[v0 + 1][:, u0]
    a11 = a[v0 + 1][:, u0 + 1]
    return (a00 * (1 - fu) + a01 * fu) * (1 - fv) + (a10 * (1 - fu) + a11 * fu) * fv


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("image")
    ap.add_argument("box", type=float, nargs=4, metavar=("X0", "Y0", "X1", "Y1"))
    ap.add_argument("--manifest", default=os.path.join(HERE, "..", "pose_landmark_lite.ron"))
    ap.add_argument("--overlay", help="write the frame with the mask tinted green here")
    a = ap.parse_args(argv)
    from PIL import Image

    rgb = np.asarray(Image.open(a.image).convert("RGB"))
    s = Silhouette(a.manifest)
    mask, info = s.frame_mask(rgb, a.box)
    print(f"crop {info['crop'].shape[1]}x{info['crop'].shape[0]} at {info['crop_origin']}, "
          f"pose_flag {info['pose_flag']:.3f}, mask fraction in 256x256 "
          f"{(info['prob'] > s.manifest['decoder']['threshold']).mean():.4f}, frame pixels {int(mask.sum())}")
    if a.overlay:
        ov = rgb.astype(np.float32)
        ov[mask] = ov[mask] * 0.4 + np.array([0, 255, 0], np.float32) * 0.6
        Image.fromarray(ov.astype(np.uint8)).save(a.overlay)
    return 0


if __name__ == "__main__":
    sys.exit(main())
