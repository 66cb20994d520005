#!/usr/bin/env python3
"""Render assets/humans/*.json to PNG (front, side, back; segments coloured) with
matplotlib, for a visual check of build_humans.py's output.

    python tools/humans/preview_humans.py assets/humans/adult_feminine_average.json -o /tmp/p.png

Optional pose check: --arms-down rotates the upper arms (about their pivots, in the
body's frontal plane) so that they hang alongside the body; --sit bends hips and knees
by 90 degrees (both only to eyeball the rigid segments / caps, not a real animation).
Back faces are culled like Bevy does, so inside-out triangles show up as holes.
"""
import argparse
import json
import math

import numpy as np
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402

COLORS = {
    "pelvis": (0.85, 0.55, 0.45), "spine": (0.9, 0.75, 0.55), "head": (0.95, 0.8, 0.7),
    "upper_arm_l": (0.55, 0.75, 0.9), "lower_arm_l": (0.45, 0.6, 0.85), "hand_l": (0.6, 0.5, 0.85),
    "upper_arm_r": (0.55, 0.85, 0.6), "lower_arm_r": (0.45, 0.75, 0.5), "hand_r": (0.6, 0.8, 0.4),
    "thigh_l": (0.9, 0.6, 0.7), "shin_l": (0.85, 0.5, 0.6), "foot_l": (0.75, 0.4, 0.5),
    "thigh_r": (0.7, 0.85, 0.85), "shin_r": (0.55, 0.75, 0.75), "foot_r": (0.45, 0.65, 0.65),
}
MAT_COLORS = {"hair": (0.25, 0.17, 0.1), "eye": (0.95, 0.95, 0.95)}


def rot(axis, deg):
    axis = np.asarray(axis, float)
    axis = axis / np.linalg.norm(axis)
    a = math.radians(deg)
    K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(a) * K + (1 - math.cos(a)) * K @ K


def world_transforms(doc, pose):
    """joint name -> (R, t) world transform, joints rotated by pose[name] (3x3)."""
    out = {}
    for j in doc["joints"]:
        R_local = pose.get(j["name"], np.eye(3))
        off = np.array(j["offset"])
        if j["parent"] is None:
            out[j["name"]] = (R_local, off)
        else:
            Rp, tp = out[j["parent"]]
            out[j["name"]] = (Rp @ R_local, tp + Rp @ off)
    return out


def make_pose(doc, arms_down=False, sit=False):
    pose = {}
    joints = {j["name"]: j for j in doc["joints"]}
    if arms_down:
        for s, sign in (("l", 1), ("r", -1)):
            t = np.array(joints[f"upper_arm_{s}"]["tail"])
            ang = math.degrees(math.atan2(abs(t[0]), -t[1]))
            pose[f"upper_arm_{s}"] = rot([0, 0, 1], -sign * ang)
    if sit:
        for s in ("l", "r"):
            pose[f"thigh_{s}"] = rot([1, 0, 0], -90)
            pose[f"shin_{s}"] = rot([1, 0, 0], 90)
    return pose


def render(doc, path, title="", pose=None):
    W = world_transforms(doc, pose or {})
    tris, cols = [], []
    for p in doc["parts"]:
        R, t = W[p["joint"]]
        P = np.array(p["positions"]).reshape(-1, 3) @ R.T + t
        T = np.array(p["indices"]).reshape(-1, 3)
        col = MAT_COLORS.get(p["material"], COLORS.get(p["name"], (0.8, 0.8, 0.8)))
        tris.append(P[T])
        cols.append(np.repeat(np.array(col)[None], len(T), axis=0))
    tris = np.concatenate(tris)
    cols = np.concatenate(cols)
    n = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-20
    light = np.array([0.3, 0.5, 0.8])
    light /= np.linalg.norm(light)
    views = [("front (+Z toward viewer)", np.eye(3)),
             ("left side (+X toward viewer)", rot([0, 1, 0], -90)),
             ("back", rot([0, 1, 0], 180))]
    fig, axs = plt.subplots(1, 3, figsize=(15, 8.5))
    fig.subplots_adjust(left=0.03, right=0.99, bottom=0.04, top=0.92, wspace=0.08)
    h = doc["height_m"]
    for ax, (name, Rv) in zip(axs, views):
        X = tris @ Rv.T
        nv = n @ Rv.T
        vis = nv[:, 2] > 0  # counter-clockwise = front face facing the viewer
        shade = 0.35 + 0.65 * np.clip(nv[vis] @ light, 0, 1)
        order = np.argsort(X[vis][:, :, 2].mean(axis=1))
        polys = X[vis][:, :, :2][order]
        fc = np.clip(cols[vis][order] * shade[order, None], 0, 1)
        ax.add_collection(PolyCollection(polys, facecolors=fc, edgecolors=fc, linewidths=0.2))
        ax.set_xlim(-0.5 * h - 0.05, 0.5 * h + 0.05)
        ax.set_ylim(-0.03, 1.03 * h)
        ax.set_aspect("equal")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_title(name, fontsize=9)
    ntri = sum(len(p["indices"]) // 3 for p in doc["parts"])
    fig.suptitle(f"{title}  height {h:.3f} m, {ntri} triangles")
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("-o", "--out", default=None, help="output PNG (single input) or prefix")
    ap.add_argument("--arms-down", action="store_true")
    ap.add_argument("--sit", action="store_true")
    a = ap.parse_args()
    for f in a.files:
        doc = json.load(open(f))
        v = doc["variant"]
        name = f"{v['age']}_{v['gender']}_{v['size']}"
        out = a.out if (a.out and len(a.files) == 1) else f"{a.out or '/tmp/humans_'}{name}.png"
        render(doc, out, name, make_pose(doc, a.arms_down, a.sit))
        print(out)


if __name__ == "__main__":
    main()
