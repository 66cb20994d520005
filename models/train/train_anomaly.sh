#!/usr/bin/env bash
# The default anomaly model (models/anomaly_tracks.md), one command: write the generated training
# and held-out scenarios (models/train/make_ad_scenarios.py), render each into a frame store,
# export its masked frames, labels and paint tracks (`crowdtwin dataset --frames`, masked by
# YOLOv5s over the whole frame, outlined: models/yolov5s.ron, made by `make setup`; another masker
# with AD_MASK_MODEL=MANIFEST), then train and export models/anomaly_tracks.onnx (+ its manifest);
# last, run it and the weak baseline (anomaly_mil) on the held-out stores through the real
# pipeline and pool those runs into DIR/heldout.md (the card's table), and copies of them rescored
# with the bag snatch an incident into DIR/heldout_theft_incident.md (theft by TBDC).
# With ORACLE=1 it also runs the oracle study (oracle_tracks.py) into DIR/oracle.md.
# Stores and datasets already in DIR are reused when made from the same scenario file.
# Deterministic: the same datasets give the same trees. See models/train/README.md for the time
# it takes.
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
  local store="$dir/stores/$1" set="$dir/datasets/$1" sha
  sha=$(sha256sum "$dir/scenarios/$1.ron" | cut -d' ' -f1)
  # A store or dataset made from another version of the scenario file (an older generator) is made again.
  grep -q "\"scenario_sha256\": \"$sha\"" "$store/store.json" 2>/dev/null ||
    "$bin" render "$dir/scenarios/$1.ron" --out "$store" --quiet >&2 || exit 1
  # The scenario file, not the store's copy: masking may differ from what the store was rendered with.
  # A dataset exported by another masker, or before dataset.json recorded the mask colour, frame
  # rates, tiles and turns, is exported again.
  { [ -f "$set/tracks.parquet" ] && grep -q "\"scenario_sha256\": \"$sha\"" "$set/dataset.json" && grep -q '"masking_quarter_turns"' "$set/dataset.json" && grep -q "\"masking_model_sha256\": \"$mask_sha\"" "$set/dataset.json"; } ||
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
# Theft by the TBDC criterion, as the issue asks of every incident kind: the default profile calls
# the bag snatch out of scope (an alert on it is disproportionate, counted apart), so copies of the
# same runs are rescored (`crowdtwin report --profile`, no rerun) under its lines with the bag
# snatch an incident.
sed 's/^\( *bag_snatch:\) out_of_scope,/\1 incident,/; s/^\( *name: "unicri\)"/\1-theft-incident"/' profiles/unicri.ron > "$dir/unicri-theft-incident.ron"
grep -q 'bag_snatch: incident' "$dir/unicri-theft-incident.ron" || { echo "profiles/unicri.ron: no bag_snatch line to turn into an incident" >&2; exit 1; }
for model in anomaly_tracks anomaly_mil; do
  runs=()
  for i in $(seq 1 "$HOLDOUT"); do
    copy="$dir/runs/$model-theft-incident/ad-holdout-$i"
    rm -rf "$copy" && mkdir -p "$(dirname "$copy")" && cp -r "$dir/runs/$model/ad-holdout-$i" "$copy"
    "$bin" report "$copy" --profile "$dir/unicri-theft-incident.ron" >/dev/null
    runs+=("$copy")
  done
  eval "${model}_theft=(\"\${runs[@]}\")"
done
.venv/bin/python models/train/score_anomaly_runs.py --model "anomaly_tracks (default)" "${anomaly_tracks_theft[@]}" \
  --model "anomaly_mil (weak baseline)" "${anomaly_mil_theft[@]}" --json "$dir/heldout_theft_incident.json" > "$dir/heldout_theft_incident.md"
if [ "${ORACLE:-0}" = 1 ]; then
  # What perfect boxes or silhouettes, tracked by the ground truth, would allow on the same scenes.
  .venv/bin/python models/train/oracle_tracks.py "$dir" --train "$TRAIN" --holdout "$HOLDOUT" --json "$dir/oracle.json" | tee "$dir/oracle.md"
fi
