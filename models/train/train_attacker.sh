#!/usr/bin/env bash
# The trained privacy attacker, one command: render the frame stores it learns from (plaza and
# station, seeds 1 and 2), the ones its card is measured on (the same scenes, seed 3: other
# persons) and a scene it never sees (the night street in the rain, seeds 1 and 2), then train
# and export models/attribute_attacker.onnx. About 40 min on 2 cores, nearly all rendering;
# stores already in DIR are reused. Deterministic: the same stores give the same trees.
#
#   models/train/train_attacker.sh DIR [OUT]     (OUT: where the model goes, default models/)
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:?usage: models/train/train_attacker.sh DIR [OUT]}
out=${2:-models}
bin=${CARGO_TARGET_DIR:-target}/release/crowdtwin
[ -x "$bin" ] || { echo "build first: make build" >&2; exit 2; }
store() { # scenario seed
  local path="$dir/$1-s$2"
  [ -f "$path/store.json" ] || "$bin" render "scenarios/$1.ron" --seed "$2" --out "$path" --quiet >&2
  echo "$path"
}
train=() test=() other=()
for scenario in plaza station; do
  train+=("$(store "$scenario" 1)" "$(store "$scenario" 2)")
  test+=("$(store "$scenario" 3)")
done
other+=("$(store night-street 1)" "$(store night-street 2)")
.venv/bin/python models/train/train_attacker.py --train "${train[@]}" --test "${test[@]}" --other-scene "${other[@]}" --out "$out"
echo "now: put the sha256 above into models/attribute_attacker.ron and the accuracies (also in $out/attribute_attacker_metrics.json) into models/attribute_attacker.md, then"
echo "     .venv/bin/python models/tools/make_attacker_fixture.py --model $out/attribute_attacker.onnx --store $dir/plaza-s3 --out tests/fixtures/attacker"
