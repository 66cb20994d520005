#!/usr/bin/env bash
# The default anomaly model (models/anomaly_tracks.md), one command: write the generated training
# and held-out scenarios (models/train/make_ad_scenarios.py), render each into a frame store,
# export its masked frames, labels and paint tracks (`crowdtwin dataset --frames`, masked by
# YOLOv5s over the whole frame, outlined: models/yolov5s.ron, made by `make setup`; another masker
# with AD_MASK_MODEL=MANIFEST), then train and export models/anomaly_tracks.onnx (+ its manifest);
# last, run it and the weak baseline (anomaly_mil) on the held-out stores through the real
# pipeline and pool those runs into DIR/heldout.md (the card's table).
# With ORACLE=1 it also runs the oracle study (oracle_tracks.py) into DIR/oracle.md.
# Stores and datasets already in DIR are reused. Deterministic: the same datasets give the same
# trees. See models/train/README.md for the time it takes.
#
#   models/train/train_anomaly.sh DIR [OUT]     (OUT: where the model goes, default models/)
set -euo pipefail
shopt -s inherit_errexit  # a failed render or export inside $(data …) stops the script
dir=$(realpath -m "${1:?usage: models/train/train_anomaly.sh DIR [OUT]}")
out=$(realpath -m "${2:-$(dirname "$0")/../../models}")
cd "$(dirname "$0")/../.."
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
bin=${CARGO_TARGET_DIR:-target}/release/crowdtwin
[ -x "$bin" ] || { echo "build first: make build" >&2; exit 2; }
mask=$(realpath -m "${AD_MASK_MODEL:-models/yolov5s.ron}")
[ -f "$mask" ] || { echo "no masker manifest $mask (models/yolov5s.ron's model comes from make setup)" >&2; exit 2; }
mask_sha=$(sed -n 's/^ *sha256: "\([0-9a-f]*\)".*/\1/p' "$mask")
TRAIN=${AD_TRAIN_SCENARIOS:-42} HOLDOUT=${AD_HOLDOUT_SCENARIOS:-20} VALIDATION=${AD_VALIDATION_SCENARIOS:-6}
.venv/bin/python models/train/make_ad_scenarios.py --split train --count "$TRAIN" --out "$dir/scenarios" >/dev/null
.venv/bin/python models/train/make_ad_scenarios.py --split holdout --count "$HOLDOUT" --out "$dir/scenarios" >/dev/null
data() { # name
  local store="$dir/stores/$1" set="$dir/datasets/$1"
  [ -f "$store/store.json" ] || "$bin" render "$dir/scenarios/$1.ron" --out "$store" --quiet >&2 || exit 1
  # The scenario file, not the store's copy: masking may differ from what the store was rendered with.
  # A dataset exported by another masker, or before dataset.json recorded the mask colour, frame
  # rates, tiles and turns, is exported again.
  { [ -f "$set/tracks.parquet" ] && grep -q '"masking_quarter_turns"' "$set/dataset.json" && grep -q "\"masking_model_sha256\": \"$mask_sha\"" "$set/dataset.json"; } ||
    "$bin" dataset --frames "$store" "$dir/scenarios/$1.ron" --out "$set" --size 320x180 --mask-model "$mask" --quiet >&2 || exit 1
  echo "$set"
}
train=() holdout=()
for i in $(seq 1 "$HOLDOUT"); do holdout+=("$(data "ad-holdout-$i")"); done
for i in $(seq 1 "$TRAIN"); do train+=("$(data "ad-train-$i")"); done
.venv/bin/python models/train/train_anomaly_tracks.py --train "${train[@]}" --validation "$VALIDATION" --test "${holdout[@]}" --out "$out"
# The held-out scenarios through the real pipeline (the same masker, anomaly model, alerts, scoring
# under the default profile), once per model; the runs are replaced whenever the model is retrained.
for model in anomaly_tracks anomaly_mil; do
  runs=()
  for i in $(seq 1 "$HOLDOUT"); do
    run="$dir/runs/$model/ad-holdout-$i"
    manifest="$out/$model.ron"
    [ "$model" = anomaly_mil ] && manifest=models/anomaly_mil.ron  # the shipped baseline, never retrained here
    "$bin" run "$dir/scenarios/ad-holdout-$i.ron" --frames "$dir/stores/ad-holdout-$i" --mask-model "$mask" --ad-model "$manifest" --out "$run" --quiet >&2
    runs+=("$run")
  done
  eval "${model}_runs=(\"\${runs[@]}\")"
done
.venv/bin/python models/train/score_anomaly_runs.py --model "anomaly_tracks (default)" "${anomaly_tracks_runs[@]}" \
  --model "anomaly_mil (weak baseline)" "${anomaly_mil_runs[@]}" --json "$dir/heldout.json" | tee "$dir/heldout.md"
if [ "${ORACLE:-0}" = 1 ]; then
  # What perfect boxes or silhouettes, tracked by the ground truth, would allow on the same scenes.
  .venv/bin/python models/train/oracle_tracks.py "$dir" --train "$TRAIN" --holdout "$HOLDOUT" --json "$dir/oracle.json" | tee "$dir/oracle.md"
fi
