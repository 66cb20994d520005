#!/usr/bin/env python3
"""Writes a two-stage anomaly model shaped as RTFM, MGFN, UR-DMU and PEL4VAD are deployed, small
enough for a test: a snippet feature extractor and a temporal head, two ONNX files.

    extractor, layout ncthw:     video [1, 3, T, H, W] -> features [1, D]
        features = tanh(W1 . flatten(mean over rows of the video) + b1)   (depends on channel, time and column)
    extractor, layout per_frame: image [1, 3, H, W] -> features [1, D]
        features = tanh(W1 . flatten(mean over rows of the image) + b1)
    head:                        snippet_features [1, S, D] -> scores [1, S]
        y_s = w2 . x_s;  z_j = sum_{i <= j} M[i, j] y_i + b2_j   (causal mixing over snippets)
        scores = sigmoid(z), or z itself with --logits

Random weights from a fixed seed; no trained model's weights. two_stage_reference.py reads the
weights back from the files (onnx.numpy_helper) and recomputes the scores in NumPy. Needs numpy
and onnx (the project's Python environment).

    .venv/bin/python models/tools/make_two_stage_fixture.py --layout ncthw --frames 4 --height 24 --width 32 \
        --features 8 --snippets 5 OUT_DIR
"""
import argparse
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--layout", choices=["ncthw", "per_frame"], required=True)
    parser.add_argument("--frames", type=int, default=4, help="T, frames per snippet (ncthw)")
    parser.add_argument("--height", type=int, default=24)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--features", type=int, default=8, help="D")
    parser.add_argument("--snippets", type=int, default=5, help="S")
    parser.add_argument("--logits", action="store_true", help="the head returns logits (no sigmoid)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("out")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    h, w, d, s = args.height, args.width, args.features, args.snippets
    if args.layout == "ncthw":
        t = args.frames
        shape, reduced = [1, 3, t, h, w], 3 * t * w
        axis = 3
        name = "video"
    else:
        shape, reduced = [1, 3, h, w], 3 * w
        axis = 2
        name = "image"
    w1 = (rng.standard_normal((reduced, d)) * 2.0 / np.sqrt(reduced)).astype(np.float32)
    b1 = (rng.standard_normal(d) * 0.1).astype(np.float32)
    extractor = helper.make_graph(
        [
            helper.make_node("ReduceMean", [name], ["rows"], axes=[axis], keepdims=0),
            helper.make_node("Reshape", ["rows", "flat_shape"], ["flat"]),
            helper.make_node("MatMul", ["flat", "w1"], ["projected"]),
            helper.make_node("Add", ["projected", "b1"], ["biased"]),
            helper.make_node("Tanh", ["biased"], ["features"]),
        ],
        "extractor",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, d])],
        [numpy_helper.from_array(np.array([1, reduced], dtype=np.int64), "flat_shape"), numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1")],
    )
    save(extractor, out / "extractor.onnx")
    w2 = (rng.standard_normal((d, 1)) * 1.5).astype(np.float32)
    mixing = np.triu(rng.uniform(0.2, 1.0, (s, s))).astype(np.float32)
    b2 = (rng.standard_normal(s) * 0.2).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["snippet_features", "w2"], ["per_snippet"]),
        helper.make_node("Reshape", ["per_snippet", "scores_shape"], ["flat_scores"]),
        helper.make_node("MatMul", ["flat_scores", "mixing"], ["mixed"]),
        helper.make_node("Add", ["mixed", "b2"], ["logits" if not args.logits else "scores"]),
    ]
    if not args.logits:
        nodes.append(helper.make_node("Sigmoid", ["logits"], ["scores"]))
    head = helper.make_graph(
        nodes,
        "head",
        [helper.make_tensor_value_info("snippet_features", TensorProto.FLOAT, [1, s, d])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, s])],
        [
            numpy_helper.from_array(w2, "w2"),
            numpy_helper.from_array(np.array([1, s], dtype=np.int64), "scores_shape"),
            numpy_helper.from_array(mixing, "mixing"),
            numpy_helper.from_array(b2, "b2"),
        ],
    )
    save(head, out / "head.onnx")


if __name__ == "__main__":
    main()
