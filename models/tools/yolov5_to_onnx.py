#!/usr/bin/env python3
"""Converts a YOLOv5 (v6.x, COCO) PyTorch checkpoint into an ONNX detector in Ultralytics v8's
output layout, without PyTorch and without running the checkpoint's pickle.

Why not `torch.onnx.export`: PyPI's only Linux x86-64 PyTorch is the CUDA build (about 6 GB
with its libraries), and loading a `.pt` runs whatever its pickle names. Here the pickle is read
by an unpickler that builds nothing but plain records (every class it names becomes an inert
record of its state; the tensors are read from the archive's storages as NumPy arrays), and the
network is rebuilt in ONNX from those records, module by module, as YOLOv5's `models/common.py`
and `models/yolo.py` (v6.0) define them:

* `Conv`: Conv2d (no bias) → BatchNorm2d → SiLU; the batch norm is folded into the convolution
  (w' = w·γ/√(σ²+ε), b' = β − μ·γ/√(σ²+ε));
* `C3`: cv3(concat(m(cv1(x)), cv2(x))), m a chain of `Bottleneck`s (cv2(cv1(x)), plus x when
  `add`); `SPPF`: cv2(concat(x, p(x), p(p(x)), p(p(p(x))))) after cv1, p a 5 × 5 max pool;
  `Upsample` (nearest, × 2), `Concat` (channels);
* `Detect`: per level a 1 × 1 convolution, viewed as [1, anchors, 5 + classes, ny, nx], through a
  sigmoid; centre = (2s − 0.5 + cell) × stride, size = (2s)² × anchor (anchor = the checkpoint's
  `anchors` × stride, input pixels); levels joined in YOLOv5's order (level, anchor, row, column).

Output `output0`: [1, 4 + classes, anchors] — centre x, centre y, width, height in input pixels,
then each class's score = objectness × class probability (YOLOv5's own `non_max_suppression`
scores) — the layout of an Ultralytics v8 detection export, so crowdtwin's `yolo` decoder reads
it. Input `images`: [1, 3, H, W], RGB / 255, letterboxed (H and W multiples of 32).

    python yolov5_to_onnx.py CHECKPOINT.pt OUT.onnx --height 384 --width 640

Deterministic: the same checkpoint and size give the same bytes. Errors name the module the
converter does not know.
"""

import argparse
import collections
import pickle
import sys
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
STORAGE_DTYPES = {
    "HalfStorage": np.float16, "FloatStorage": np.float32, "DoubleStorage": np.float64, "BFloat16Storage": None,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "ByteStorage": np.uint8,
    "CharStorage": np.int8, "BoolStorage": np.bool_,
}


class Record:
    """Whatever class the pickle names: its constructor arguments and state, nothing run."""

    kind = "?"

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        if isinstance(state, dict):
            self.__dict__.update(state)
        elif isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
            self.__dict__.update(state[1] or {})  # (dict, slots)
            if isinstance(state[0], dict):
                self.__dict__.update(state[0])
        else:
            self.state = state


class StorageType:
    def __init__(self, name):
        self.name = name


class Unpickler(pickle.Unpickler):
    """Reads a torch zip checkpoint's `data.pkl` into Records and NumPy arrays."""

    def __init__(self, file, archive, prefix):
        super().__init__(file)
        self.archive, self.prefix, self.storages, self.kinds = archive, prefix, {}, {}

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return self.rebuild_tensor
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return lambda data, requires_grad, hooks, *rest: data
        if (module, name) == ("torch", "Size"):
            return tuple
        if module == "torch" and name.endswith("Storage"):
            return StorageType(name)
        if module == "builtins" and name in ("set", "frozenset", "slice"):
            return {"set": set, "frozenset": frozenset, "slice": slice}[name]
        key = f"{module}.{name}"
        if key not in self.kinds:
            self.kinds[key] = type(name, (Record,), {"kind": key})
        return self.kinds[key]

    def persistent_load(self, saved_id):
        tag, storage_type, key, _location, _numel = saved_id[:5]
        if tag != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {tag!r}")
        name = storage_type.name if isinstance(storage_type, StorageType) else str(storage_type)
        dtype = STORAGE_DTYPES.get(name)
        if dtype is None:
            raise SystemExit(f"tensor storage {name} is not supported")
        if key not in self.storages:
            self.storages[key] = np.frombuffer(self.archive.read(f"{self.prefix}data/{key}"), dtype=dtype)
        return self.storages[key]

    @staticmethod
    def rebuild_tensor(storage, offset, size, stride, *rest):
        # The view must lie inside its storage: as_strided trusts whatever the pickle says.
        size, stride = tuple(size), tuple(stride)
        if offset < 0 or any(s < 0 for s in stride) or any(n < 0 for n in size) or len(size) != len(stride):
            raise SystemExit(f"tensor with offset {offset}, size {size}, stride {stride}: not a plain tensor")
        last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else offset - 1
        if last >= storage.size:
            raise SystemExit(f"tensor with offset {offset}, size {size}, stride {stride} reaches beyond its storage of {storage.size}")
        if not size:
            return storage[offset:offset + 1].reshape(()).copy()
        strides = [s * storage.itemsize for s in stride]
        return np.lib.stride_tricks.as_strided(storage[offset:], shape=size, strides=strides).copy()


def load_checkpoint(path):
    archive = zipfile.ZipFile(path)
    pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
    if len(pickles) != 1:
        raise SystemExit(f"{path}: not a PyTorch zip checkpoint (no single */data.pkl)")
    prefix = pickles[0][: -len("data.pkl")]
    with archive.open(pickles[0]) as f:
        return Unpickler(f, archive, prefix).load()


def attribute(module, name):
    """A module's attribute, buffer or parameter (PyTorch keeps the latter two apart)."""
    for place in (module.__dict__, module.__dict__.get("_buffers", {}), module.__dict__.get("_parameters", {})):
        if name in place and place[name] is not None:
            return place[name]
    raise SystemExit(f"{module.kind} has no `{name}`")


def children(module):
    return list(module.__dict__.get("_modules", {}).values())


class Graph:
    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, hint):
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, array, hint="c"):
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def op(self, op_type, inputs, hint=None, **attrs):
        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x, conv, bn=None, act=True):
        weight = conv._parameters["weight"].astype(np.float64)
        bias = conv._parameters.get("bias")
        bias = np.zeros(weight.shape[0]) if bias is None else bias.astype(np.float64)
        if bn is not None:
            p, b = bn._parameters, bn._buffers
            scale = p["weight"].astype(np.float64) / np.sqrt(b["running_var"].astype(np.float64) + bn.eps)
            weight = weight * scale[:, None, None, None]
            bias = (bias - b["running_mean"].astype(np.float64)) * scale + p["bias"].astype(np.float64)
        pads = list(conv.padding) * 2
        y = self.op("Conv", [x, self.const(weight.astype(np.float32), "w"), self.const(bias.astype(np.float32), "b")],
                    kernel_shape=list(conv.kernel_size), strides=list(conv.stride), pads=pads,
                    dilations=list(conv.dilation), group=conv.groups)
        return self.op("Mul", [y, self.op("Sigmoid", [y])], "silu") if act else y


def block(g, module, x):
    """One YOLOv5 module on the input(s) x."""
    kind = module.kind.rsplit(".", 1)[-1]
    sub = module._modules
    if kind == "Conv":
        if "bn" not in sub:
            raise SystemExit("a Conv without its batch norm: a fused checkpoint, which this converter does not read")
        act = sub.get("act")
        if act is not None and act.kind.rsplit(".", 1)[-1] not in ("SiLU",):
            raise SystemExit(f"Conv activation {act.kind} is not supported")
        return g.conv(x, sub["conv"], sub["bn"])
    if kind == "Bottleneck":
        y = block(g, sub["cv2"], block(g, sub["cv1"], x))
        return g.op("Add", [x, y]) if module.add else y
    if kind == "C3":
        y = block(g, sub["cv1"], x)
        for bottleneck in children(sub["m"]):
            y = block(g, bottleneck, y)
        return block(g, sub["cv3"], g.op("Concat", [y, block(g, sub["cv2"], x)], axis=1))
    if kind == "SPPF":
        pool = sub["m"]
        k, s, p = (v if isinstance(v, int) else v[0] for v in (pool.kernel_size, pool.stride, pool.padding))
        y = [block(g, sub["cv1"], x)]
        for _ in range(3):
            y.append(g.op("MaxPool", [y[-1]], kernel_shape=[k, k], strides=[s, s], pads=[p] * 4))
        return block(g, sub["cv2"], g.op("Concat", y, axis=1))
    if kind == "Upsample":
        if module.mode != "nearest" or float(module.scale_factor) != 2.0:
            raise SystemExit(f"Upsample {module.mode} x{module.scale_factor} is not supported")
        return g.op("Resize", [x, "", g.const(np.array([1, 1, 2, 2], np.float32), "scales")],
                    mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    if kind == "Concat":
        return g.op("Concat", x, axis=module.d)
    raise SystemExit(f"module {module.kind} is not supported by this converter (YOLOv5 v6.x detection)")


def detect(g, module, inputs, sizes):
    """YOLOv5's Detect head, decoded into [1, anchors, 5 + classes]."""
    na, no = int(module.na), int(module.no)
    strides = np.asarray(attribute(module, "stride"), np.float64)
    anchors = np.asarray(attribute(module, "anchors"), np.float64)  # [levels, na, 2], in strides
    levels = []
    for i, (x, conv) in enumerate(zip(inputs, children(module._modules["m"]))):
        ny, nx = sizes[i]
        y = g.conv(x, conv, act=False)
        y = g.op("Reshape", [y, g.const(np.array([1, na, no, ny, nx], np.int64), "shape")])
        y = g.op("Sigmoid", [g.op("Transpose", [y], perm=[0, 1, 3, 4, 2])])
        cols, rows = np.meshgrid(np.arange(nx), np.arange(ny))
        cell = np.stack([cols, rows], -1)[None, None].astype(np.float64)  # [1, 1, ny, nx, 2]: x, y
        offset = ((cell - 0.5) * strides[i]).astype(np.float32)
        anchor = (anchors[i] * strides[i]).reshape(1, na, 1, 1, 2).astype(np.float32)
        part = lambda a, b: g.op("Slice", [y, g.const(np.array([a], np.int64)), g.const(np.array([b], np.int64)), g.const(np.array([4], np.int64))])
        xy = g.op("Add", [g.op("Mul", [part(0, 2), g.const(np.float32(2 * strides[i]))]), g.const(offset, "grid")])
        twice = g.op("Mul", [part(2, 4), g.const(np.float32(2))])
        wh = g.op("Mul", [g.op("Mul", [twice, twice]), g.const(anchor, "anchor")])
        y = g.op("Concat", [xy, wh, part(4, no)], axis=4)
        levels.append(g.op("Reshape", [y, g.const(np.array([1, na * ny * nx, no], np.int64), "shape")]))
    return g.op("Concat", levels, axis=1), no


def convert(checkpoint, height, width):
    ck = load_checkpoint(checkpoint)
    model = ck.get("ema") or ck["model"]
    layers = children(model._modules["model"])
    head = layers[-1]
    if head.kind.rsplit(".", 1)[-1] != "Detect":
        raise SystemExit(f"{checkpoint}: last module is {head.kind}, not a YOLOv5 Detect head")
    stride = int(np.max(np.asarray(attribute(head, "stride"))))
    if height % stride or width % stride:
        raise SystemExit(f"input {height} x {width} must be a multiple of the model's stride {stride}")
    g = Graph()
    outputs, x = [], "images"
    for layer in layers[:-1]:
        source = layer.f
        if isinstance(source, int):
            inputs = x if source == -1 else outputs[source]
        else:
            inputs = [x if j == -1 else outputs[j] for j in source]
        x = block(g, layer, inputs)
        outputs.append(x)
    sizes = [(height // int(s), width // int(s)) for s in np.asarray(attribute(head, "stride"))]
    decoded, no = detect(g, head, [outputs[j] for j in head.f], sizes)
    anchors = sum(ny * nx for ny, nx in sizes) * int(head.na)
    part = lambda a, b: g.op("Slice", [decoded, g.const(np.array([a], np.int64)), g.const(np.array([b], np.int64)), g.const(np.array([2], np.int64))])
    scores = g.op("Mul", [part(4, 5), part(5, no)])
    joined = g.op("Concat", [part(0, 4), scores], axis=2)
    g.nodes.append(helper.make_node("Transpose", [joined], ["output0"], name="output0", perm=[0, 2, 1]))
    names = getattr(model, "names", None)
    graph = helper.make_graph(
        g.nodes, "yolov5",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, height, width])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, no - 1, anchors])],
        g.inits,
    )
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="crowdtwin yolov5_to_onnx.py")
    onnx_model.ir_version = 8
    if isinstance(names, (list, dict)):
        helper.set_model_props(onnx_model, {"names": repr(list(names.values()) if isinstance(names, dict) else names)})
    onnx.checker.check_model(onnx_model, full_check=True)
    return onnx_model


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("out")
    parser.add_argument("--height", type=int, default=640)
    parser.add_argument("--width", type=int, default=640)
    args = parser.parse_args()
    model = convert(args.checkpoint, args.height, args.width)
    onnx.save(model, args.out)
    print(f"{args.out}: input [1, 3, {args.height}, {args.width}], output0 {[d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim]}", file=sys.stderr)


if __name__ == "__main__":
    main()
