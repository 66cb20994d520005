#!/bin/sh
# Cheaper frames, measured: render the plaza under each render set-up — the build before the
# change and this one — in interleaved rounds (the median of 3 is reported: noise here is
# ±10–30 %), then score each set-up's frames with the default models and judge its miss rate
# against the build before by the eval's own regression rule.
#
#   tools/bench/cheaper_frames.sh BEFORE_BINARY AFTER_BINARY WORK_DIR [SECONDS] [ROUNDS]
#
# BEFORE_BINARY is a crowdtwin build from before the change (it must have `render`).
set -eu
before=$1 after=$2 work=$3 seconds=${4:-4} rounds=${5:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$work"
plaza="$root/scenarios/plaza.ron"
variant() { # name, render settings
    sed "s|render: ([^)]*).*|render: $2,|" "$plaza" > "$work/$1.ron"
    grep -q "render: $2" "$work/$1.ron" || { echo "cannot set render: $2 in $plaza" >&2; exit 2; }
}
variant before "(msaa: 4, shadows: true)"
variant direct "(msaa: 4, shadows: true, shadow_filter: gaussian)"
variant hw2x2 "(msaa: 4, shadows: true, shadow_filter: hardware2x2)"
variant hw2x2_msaa1 "(msaa: 1, shadows: true, shadow_filter: hardware2x2)"
variant msaa1_no_shadows "(msaa: 1, shadows: false)"
names="before direct hw2x2 hw2x2_msaa1 msaa1_no_shadows"
: > "$work/fps.txt"
for round in $(seq "$rounds"); do
    for name in $names; do
        bin=$after; [ "$name" = before ] && bin=$before
        "$bin" render "$work/$name.ron" --seconds "$seconds" --out "$work/store-$name" --quiet > "$work/render.txt" 2>&1 \
            || { cat "$work/render.txt" >&2; exit 2; }
        fps=$(sed -n 's/.*rendered at \([0-9.]*\) frames\/s.*/\1/p' "$work/render.txt")
        [ -n "$fps" ] || { echo "$bin render printed no frames/s:" >&2; cat "$work/render.txt" >&2; exit 2; }
        echo "$name $round $fps" | tee -a "$work/fps.txt"
    done
done
for name in $names; do
    bin=$after; [ "$name" = before ] && bin=$before
    printf '(version: 1, name: "cheaper-frames", runs: [(name: Some("plaza"), scenario: "%s.ron", seconds: Some(%s), frames: Some("store-%s"))])\n' "$name" "$seconds" "$name" > "$work/suite-$name.ron"
    if [ "$name" = before ]; then
        "$bin" eval --suite "$work/suite-$name.ron" --out "$work/eval-$name" --quiet > "$work/eval-$name.txt" 2>&1
    else
        # Exit 1 is a regression, reported in the table; 2 is an error.
        status=0
        "$bin" eval --suite "$work/suite-$name.ron" --out "$work/eval-$name" --baseline "$work/eval-before" --quiet > "$work/eval-$name.txt" 2>&1 || status=$?
        [ "$status" -le 1 ] || { cat "$work/eval-$name.txt" >&2; exit 2; }
    fi
done
python3 - "$work" "$rounds" $names <<'PY'
import json, statistics, sys
work, rounds, names = sys.argv[1], sys.argv[2], sys.argv[3:]
fps = {}
for line in open(f"{work}/fps.txt"):
    name, _, value = line.split()
    fps.setdefault(name, []).append(float(value))
base = statistics.median(fps["before"])
print(f"| set-up | frames/s (median of {rounds}; runs) | × before | miss rate (± s.e.) | miss rate against before |")
print("|---|---|---|---|---|")
for name in names:
    summary = json.load(open(f"{work}/eval-{name}/summary.json"))
    m = next(m for m in summary["measurements"] if m["metric"] == "miss_rate" and m["group"] == "everybody")
    verdict = "—"
    if name != "before":
        c = next(c for c in summary["comparisons"] if c["measurement"]["metric"] == "miss_rate" and c["measurement"]["group"] == "everybody")
        groups = [c for c in summary["comparisons"] if c["measurement"]["metric"] == "miss_rate"]
        regressions = sum(1 for c in groups if c["status"] == "regression")
        verdict = f"{c['worse_by']*100:+.1f} points (allowance {c['allowance']*100:.1f}): {c['status']}; groups: {regressions} regression(s) of {len(groups)}"
    median = statistics.median(fps[name])
    runs = ", ".join(f"{v:.2f}" for v in fps[name])
    print(f"| {name} | {median:.2f} ({runs}) | ×{median / base:.2f} | {m['value']*100:.1f} % ± {m['standard_error']*100:.1f} | {verdict} |")
PY
