#!/usr/bin/env python3
"""NumPy reference for crowdtwin's two-stage anomaly decoder (`two_stage` in a model manifest),
on the fixture models make_two_stage_fixture.py writes. Independent of ONNX Runtime and of the
decoder's incremental state: the weights are read from the ONNX files and every frame's score is
computed from scratch by the documented rule —

  * a snippet ends on every `stride`-th frame of a camera (frames 0, stride, 2 stride, ...) and
    holds the `frames` frames up to it; frames before the camera's first are its first frame;
  * ncthw: the snippet's feature is the extractor's output on [1, 3, T, H, W];
    per_frame: the mean of its frames' features;
  * the head scores the last S snippet features (snippets before the first are the first);
    the newest snippet's score is the frame's score, held until the next snippet ends.

Frames are a raw uint8 file [cameras, count, height, width, 3] at the model's input size
(so resizing is the identity), normalised as (pixel - mean) / std, RGB.

    .venv/bin/python models/tools/two_stage_reference.py --models DIR --layout ncthw --frames 4 \
        --stride 2 --snippets 5 --mean 127.5 --std 127.5 --shape 2,23,24,32 FRAMES.u8 OUT.json
"""
import argparse
import json
import pathlib

import numpy as np
import onnx
from onnx import numpy_helper


def weights(path):
    return {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", required=True)
    parser.add_argument("--layout", choices=["ncthw", "per_frame"], required=True)
    parser.add_argument("--frames", type=int, required=True)
    parser.add_argument("--stride", type=int, required=True)
    parser.add_argument("--snippets", type=int, required=True)
    parser.add_argument("--logits", action="store_true", help="the head returns logits (the score is their sigmoid either way)")
    parser.add_argument("--mean", type=float, required=True)
    parser.add_argument("--std", type=float, required=True)
    parser.add_argument("--shape", required=True, help="cameras,count,height,width")
    parser.add_argument("frames_file")
    parser.add_argument("out")
    args = parser.parse_args()
    cameras, count, height, width = (int(v) for v in args.shape.split(","))
    pixels = np.fromfile(args.frames_file, dtype=np.uint8).reshape(cameras, count, height, width, 3)
    # [cameras, count, 3, H, W], normalised.
    video = ((pixels.astype(np.float32) - args.mean) / args.std).transpose(0, 1, 4, 2, 3)
    models = pathlib.Path(args.models)
    e, h = weights(models / "extractor.onnx"), weights(models / "head.onnx")

    def extract(x):
        # ncthw: x [3, T, H, W] -> mean over rows [3, T, W]; per_frame: x [3, H, W] -> [3, W].
        rows = x.mean(axis=-2)
        return np.tanh(rows.reshape(-1) @ e["w1"] + e["b1"])

    def head(window):
        z = (window @ h["w2"])[:, 0] @ h["mixing"] + h["b2"]
        # The fixture's head ends in a sigmoid; a logit head (--logits) leaves it to the decoder:
        # the score is the same probability either way.
        return 1.0 / (1.0 + np.exp(-z))

    t, stride, s = args.frames, args.stride, args.snippets
    scores = []
    for camera in range(cameras):
        frames = video[camera]

        def snippet_feature(end):
            held = [frames[max(i, 0)] for i in range(end - t + 1, end + 1)]
            if args.layout == "ncthw":
                return extract(np.stack(held, axis=1))
            return np.mean([extract(f) for f in held], axis=0)

        row = []
        for n in range(count):
            last = n // stride
            window = np.stack([snippet_feature(max(j, 0) * stride) for j in range(last - s + 1, last + 1)])
            row.append(float(np.clip(head(window)[-1], 0.0, 1.0)))
        scores.append(row)
    pathlib.Path(args.out).write_text(json.dumps({"scores": scores}))


if __name__ == "__main__":
    main()
