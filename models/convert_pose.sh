#!/usr/bin/env bash
# Reproducibly convert MediaPipe's BlazePose GHUM "lite" pose-landmark model
# (pose_landmark_lite.tflite, shipped in the npm package @mediapipe/pose@0.5.1675469404)
# into models/pose_landmark_lite.onnx, and print its sha256.
#
# Idempotent: reuses its venv (outside the repo) and overwrites the output.
# The output is byte-identical from run to run.
# Needs: bash, python3 (3.11 tested), npm, openssl, network access to PyPI and npm.
#
# Environment overrides:
#   POSE_CONVERT_VENV  venv location (default: the NanoDet converter's venv,
#                      ${NANODET_CONVERT_VENV:-${TMPDIR:-/tmp}/crowdtwin-nanodet-convert-venv};
#                      the pins are the same, so one venv serves both scripts)
#   POSE_OUT           output file     (default: <this dir>/pose_landmark_lite.onnx)
#   PYTHON             python used to create the venv (default: python3)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${POSE_OUT:-$HERE/pose_landmark_lite.onnx}"
VENV="${POSE_CONVERT_VENV:-${NANODET_CONVERT_VENV:-${TMPDIR:-/tmp}/crowdtwin-nanodet-convert-venv}}"
PYTHON="${PYTHON:-python3}"

NPM_PKG="@mediapipe/pose@0.5.1675469404"
# sha512 integrity the npm registry publishes for that tarball (npm pack checks it too)
NPM_INTEGRITY="sha512-DFZsNWTsSphRIZppnUCuunzBiHP2FdJXR9ehc7mMi4KG+oPaOH0Em3d6kr7Py+TSyTXC1doH88KcF28k2sBxsQ=="
TFLITE_SHA256="f17bfbecadb61c3be1baa8b8d851cc6619c870a87167b32848ad20db306b9d61"
OPSET=13

WORK="$(mktemp -d "${TMPDIR:-/tmp}/pose-convert.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

log() { printf '[convert_pose] %s\n' "$*" >&2; }
# shellcheck source=tools/convert_common.sh
source "$HERE/tools/convert_common.sh"

# --- 1. venv ---------------------------------------------------------------
ensure_converter_venv

# --- 2. fetch the npm tarball ---------------------------------------------
fetch_npm_tarball "$NPM_PKG" "$NPM_INTEGRITY"
mkdir -p "$WORK/pkg"
tar -xzf "$TGZ" -C "$WORK/pkg" package/pose_landmark_lite.tflite
TFLITE="$WORK/pkg/package/pose_landmark_lite.tflite"
echo "$TFLITE_SHA256  $TFLITE" | sha256sum -c --quiet

# --- 3. tflite -> onnx -------------------------------------------------------
run_tf2onnx --tflite "$TFLITE"

# --- 4. post-process: readable names, static batch-1 shapes, canonical names --
cat > "$WORK/post.py" <<'EOF'
import sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference
from onnx.reference import ReferenceEvaluator

src, dst = sys.argv[1], sys.argv[2]
m = onnx.load(src)
g = m.graph

# 4a. fold nodes that depend only on initializers (none expected for this model,
#     kept so the script stays correct if tf2onnx leaves shape arithmetic behind).
const = {i.name for i in g.initializer}
const_nodes = []
for n in g.node:  # tf2onnx emits nodes in topological order
    if n.op_type == "Constant" or all((not x) or x in const for x in n.input):
        const_nodes.append(n)
        const.update(n.output)
const_out = {o for n in const_nodes for o in n.output}
live_nodes = [n for n in g.node if n not in const_nodes]
boundary = sorted({x for n in live_nodes for x in n.input if x in const_out}
                  | {o.name for o in g.output if o.name in const_out})
folded = []
if boundary:
    sub = helper.make_model(
        helper.make_graph(const_nodes, "fold", [], [helper.make_tensor_value_info(b, 0, None) for b in boundary],
                          initializer=list(g.initializer)),
        opset_imports=list(m.opset_import))
    vals = ReferenceEvaluator(sub).run(None, {})
    folded = [numpy_helper.from_array(np.asarray(v), b) for b, v in zip(boundary, vals)]
used = {x for n in live_nodes for x in n.input}
inits = [i for i in g.initializer if i.name in used] + folded
del g.node[:]
g.node.extend(live_nodes)
del g.initializer[:]
g.initializer.extend(inits)

# 4b. input `input`, fixed [1, 256, 256, 3]; outputs named by their shape (the
#     TFLite names Identity..Identity_4 follow the model's output order
#     ld_3d, output_poseflag, output_segmentation, output_heatmap, world_3d).
OUTS = {  # shape -> (name, declared shape)
    (1, 195): "landmarks",            # 39 x (x, y, z, visibility logit, presence logit), x/y in 0..256 px
    (1, 1): "pose_flag",              # pose presence probability (sigmoid inside the model)
    (1, 256, 256, 1): "segmentation", # person-mask logits, NHWC
    (1, 64, 64, 39): "heatmap",       # per-landmark heatmaps
    (1, 117): "world_landmarks",      # 39 x (x, y, z) metres, origin between the hips
}
ORDER = ["segmentation", "pose_flag", "landmarks", "world_landmarks", "heatmap"]
assert len(g.input) == 1 and len(g.output) == len(OUTS)
rename = {g.input[0].name: "input"}
shape_of = {}
for o in g.output:
    s = tuple(d.dim_value if d.dim_value > 0 else 1 for d in o.type.tensor_type.shape.dim)
    rename[o.name] = OUTS[s]
    shape_of[OUTS[s]] = list(s)
assert sorted(rename.values()) == sorted(["input"] + ORDER), rename
for n in g.node:
    n.input[:] = [rename.get(x, x) for x in n.input]
    n.output[:] = [rename.get(x, x) for x in n.output]
del g.input[:]
g.input.append(helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, [1, 256, 256, 3]))
del g.output[:]
for name in ORDER:
    g.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, shape_of[name]))
del g.value_info[:]

# 4c. canonical internal names: tf2onnx's generated names change from run to
#     run; rename everything by topological position so the output file is
#     byte-identical across runs.
keep = {"input"} | set(ORDER)
canon = {}
inits = {i.name: i for i in g.initializer}
nw = 0
for idx, n in enumerate(g.node):
    for x in n.input:
        if x and x not in keep and x not in canon and x in inits:
            canon[x] = f"w{nw}"
            nw += 1
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

m.producer_name = "crowdtwin convert_pose.sh (tf2onnx tflite)"
m.doc_string = ("MediaPipe BlazePose GHUM lite pose landmark model (Apache-2.0), from "
                "@mediapipe/pose@0.5.1675469404 pose_landmark_lite.tflite. Input: person crop, "
                "RGB, NHWC [1,256,256,3], pixel/255. Output `segmentation` [1,256,256,1] holds "
                "person-mask logits (apply a sigmoid); `pose_flag` is the presence probability.")
g.name = "pose_landmark_lite"
g.doc_string = "converted from @mediapipe/pose@0.5.1675469404 pose_landmark_lite.tflite"
del m.metadata_props[:]
m = shape_inference.infer_shapes(m, strict_mode=True)
onnx.checker.check_model(m, full_check=True)
onnx.save(m, dst)
print("folded", len(const_nodes), "constant nodes;", len(g.node), "nodes,", len(g.initializer), "initializers")
EOF
"$PY" "$WORK/post.py" "$WORK/raw.onnx" "$WORK/pose_landmark_lite.onnx" >&2

# --- 5. check against the TFLite interpreter and the raw conversion ------------
"$PY" - "$WORK/pose_landmark_lite.onnx" "$WORK/raw.onnx" "$TFLITE" >&2 <<'EOF'
import os, sys, warnings
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore")
import numpy as np, onnxruntime as ort
import tensorflow as tf
new, raw, tfl = sys.argv[1:4]
x = np.random.default_rng(0).random((1, 256, 256, 3), dtype=np.float32)
s = ort.InferenceSession(new, providers=["CPUExecutionProvider"])
i = s.get_inputs()[0]
print("input ", i.name, i.shape)
outs = dict(zip([o.name for o in s.get_outputs()], s.run(None, {i.name: x})))
for o in s.get_outputs():
    assert list(outs[o.name].shape) == o.shape, (o.name, outs[o.name].shape, o.shape)
    print("output", o.name, o.shape)
r = ort.InferenceSession(raw, providers=["CPUExecutionProvider"])
rv = r.run(None, {r.get_inputs()[0].name: x})
it = tf.lite.Interpreter(model_path=tfl)
it.allocate_tensors()
it.set_tensor(it.get_input_details()[0]["index"], x)
it.invoke()
tv = [it.get_tensor(d["index"]) for d in it.get_output_details()]
for name, a, b in zip(["landmarks", "pose_flag", "segmentation", "heatmap", "world_landmarks"], rv, tv):
    assert np.array_equal(outs[name], a), name
    d = float(np.abs(outs[name] - b).max())
    print(f"{name}: max |onnx - tflite| = {d:.2e}")
    assert d < 1e-2 * max(1.0, float(np.abs(b).max())), name
EOF

mv -f "$WORK/pose_landmark_lite.onnx" "$OUT"
log "wrote $OUT"
sha256sum "$OUT" | cut -d' ' -f1
