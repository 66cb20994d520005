# Shared by models/convert_*.sh (sourced, not run): the pinned converter venv, fetching an npm
# tarball with its published integrity checked, and tf2onnx under numpy 2.
# The caller sets VENV, PYTHON and WORK (a scratch folder it removes) and defines `log`.

# Versions the conversions were run with (python 3.11, linux x86_64); one venv serves every script.
CONVERT_PIP_PINS=(
  "tensorflow-cpu==2.21.0"
  "tf2onnx==1.17.0"
  "numpy==2.4.6"
  "onnx==1.23.2"
  "protobuf==7.36.2"
  "onnxruntime==1.31.1"
)

# Creates (or reuses, when its pins match) the venv; sets PY to its python.
ensure_converter_venv() {
  local stamp="$VENV/.crowdtwin-pins"
  if [[ ! -x "$VENV/bin/python" ]] || ! diff -q <(printf '%s\n' "${CONVERT_PIP_PINS[@]}") "$stamp" >/dev/null 2>&1; then
    log "creating venv $VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet "${CONVERT_PIP_PINS[@]}"
    printf '%s\n' "${CONVERT_PIP_PINS[@]}" > "$stamp"
  else
    log "reusing venv $VENV"
  fi
  PY="$VENV/bin/python"
}

# fetch_npm_tarball PACKAGE@VERSION SHA512_INTEGRITY: `npm pack` into $WORK, check the tarball
# against the integrity the registry publishes, set TGZ to its path.
fetch_npm_tarball() {
  local package="$1" integrity="$2" got
  log "fetching $package"
  (cd "$WORK" && npm pack --silent "$package" >/dev/null 2>"$WORK/npm.log") || { cat "$WORK/npm.log" >&2; exit 1; }
  TGZ="$(ls "$WORK"/*.tgz)"
  got="sha512-$(openssl dgst -sha512 -binary "$TGZ" | base64 -w0)"
  if [[ "$got" != "$integrity" ]]; then
    log "tarball integrity mismatch: $got"; exit 1
  fi
}

# run_tf2onnx ARGS...: tf2onnx with reproducible settings, writing $WORK/raw.onnx.
run_tf2onnx() {
  # tf2onnx 1.17 still calls np.product, removed in numpy 2: shim it.
  cat > "$WORK/tf2onnx_np2.py" <<'PY'
import sys
import numpy as np
if not hasattr(np, "product"):
    np.product = np.prod
from tf2onnx import convert
sys.exit(convert.main())
PY
  log "converting with tf2onnx (opset $OPSET)"
  TF_CPP_MIN_LOG_LEVEL=2 CUDA_VISIBLE_DEVICES="" PYTHONHASHSEED=0 \
    "$PY" "$WORK/tf2onnx_np2.py" "$@" --opset "$OPSET" \
    --output "$WORK/raw.onnx" >"$WORK/tf2onnx.log" 2>&1 || { cat "$WORK/tf2onnx.log" >&2; exit 1; }
}
