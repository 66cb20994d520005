#!/usr/bin/env python3
"""Writes a test fixture shaped exactly as an Ultralytics YOLOv8n-seg ONNX export at 640x640:

    input   images   [1, 3, 640, 640]   letterboxed RGB / 255
    output  output0  [1, 116, 8400]     per anchor: cx, cy, w, h, 80 class scores, 32 mask coefficients
    output  output1  [1, 32, 160, 160]  prototype masks

Its weights are set by hand: both outputs are fixed tensors scaled by the input's mean over
that of the known input (a uniform grey, pixel value 128), which therefore gives these boxes
and masks (a black frame gives none):

  anchor  100  person   box (120, 80)–(200, 320)  score 0.90  mask: an ellipse (prototype 0)
  anchor  101  person   the same person, shifted 4 px, score 0.60 (NMS removes it)
  anchor 5000  person   box (360, 200)–(480, 400)  score 0.80  mask: an ellipse (prototype 1)
  anchor 7000  car      box (420, 520)–(580, 600)  score 0.70  mask: a rectangle (prototype 2)
  anchor 8000  person   score 0.20 (under the threshold)
  anchor 8100  bicycle  score 0.95 (a class the manifest does not list)

No weights of any trained model are in it (Ultralytics' are AGPL and fetched at run time by
their users). Needs numpy and onnx (the project's Python environment).

    .venv/bin/python models/tools/make_yolo_seg_fixture.py OUT.onnx
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CLASSES, COEFFICIENTS, ANCHORS, SIZE = 80, 32, 8400, 640
PROTO = SIZE // 4


def detections():
    out = np.zeros((1, 4 + CLASSES + COEFFICIENTS, ANCHORS), dtype=np.float32)

    def anchor(index, box, cls, score, prototype=None):
        x0, y0, x1, y1 = box
        out[0, 0:4, index] = [(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0]
        out[0, 4 + cls, index] = score
        if prototype is not None:
            out[0, 4 + CLASSES + prototype, index] = 4.0

    anchor(100, (120, 80, 200, 320), 0, 0.90, 0)
    anchor(101, (124, 80, 204, 320), 0, 0.60, 0)
    anchor(5000, (360, 200, 480, 400), 0, 0.80, 1)
    anchor(7000, (420, 520, 580, 600), 2, 0.70, 2)
    anchor(8000, (20, 20, 60, 100), 0, 0.20, 0)
    anchor(8100, (300, 20, 340, 80), 1, 0.95, 0)
    return out


def prototypes():
    rows, cols = np.mgrid[0:PROTO, 0:PROTO].astype(np.float32)
    protos = np.zeros((1, COEFFICIENTS, PROTO, PROTO), dtype=np.float32)

    def ellipse(cx, cy, rx, ry):
        return ((cols - cx) / rx) ** 2 + ((rows - cy) / ry) ** 2 <= 1.0

    protos[0, 0] = np.where(ellipse(40, 50, 8, 27), 2.0, -2.0)
    protos[0, 1] = np.where(ellipse(105, 75, 12, 22), 2.0, -2.0)
    protos[0, 2] = np.where((cols >= 110) & (cols < 142) & (rows >= 132) & (rows < 148), 2.0, -2.0)
    return protos


def main():
    out = sys.argv[1]
    nodes = [
        # A scalar: the input's mean over the known input's (1 for the known grey).
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Div", ["mean", "half"], ["gain"]),
        helper.make_node("Mul", ["detections", "gain"], ["output0"]),
        helper.make_node("Mul", ["prototypes", "gain"], ["output1"]),
    ]
    initializers = [
        numpy_helper.from_array(np.array(128 / 255, dtype=np.float32), "half"),
        numpy_helper.from_array(detections(), "detections"),
        numpy_helper.from_array(prototypes(), "prototypes"),
    ]
    graph = helper.make_graph(
        nodes,
        "yolov8n-seg-shaped-fixture",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [
            helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4 + CLASSES + COEFFICIENTS, ANCHORS]),
            helper.make_tensor_value_info("output1", TensorProto.FLOAT, [1, COEFFICIENTS, PROTO, PROTO]),
        ],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, out)


if __name__ == "__main__":
    main()
