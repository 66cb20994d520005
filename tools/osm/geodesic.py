#!/usr/bin/env python3
"""Geodesic (WGS84 ellipsoid) distances, the reference for the site importer's projection.

    echo '{"pairs": [[lat1, lon1, lat2, lon2], ...]}' | .venv/bin/python tools/osm/geodesic.py

prints {"distances_m": [...]} (geographiclib's Geodesic.WGS84.Inverse, s12, accurate to about
15 nm), one distance per pair, in order. Fails (exit 2, message on stderr) on input that is not
that JSON or has a latitude outside [-90, 90].
"""

import json
import math
import pathlib
import sys

sys.dont_write_bytecode = True  # no __pycache__ left in tools/osm/ by test runs
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from osmgeo import WGS84, fail  # noqa: E402


def main():
    if len(sys.argv) > 1:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(0 if sys.argv[1] in ("-h", "--help") else 2)
    try:
        data = json.load(sys.stdin)
    except json.JSONDecodeError as e:
        fail(f"stdin is not JSON: {e}")
    pairs = data.get("pairs") if isinstance(data, dict) else None
    if not isinstance(pairs, list):
        fail('want {"pairs": [[lat1, lon1, lat2, lon2], ...]} on stdin')
    out = []
    for i, pair in enumerate(pairs):
        if (not isinstance(pair, list) or len(pair) != 4
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                           and math.isfinite(v) for v in pair)):
            fail(f"pairs[{i}] is not four finite numbers [lat1, lon1, lat2, lon2]: {pair!r}")
        lat1, lon1, lat2, lon2 = pair
        if abs(lat1) > 90 or abs(lat2) > 90:
            fail(f"pairs[{i}] has a latitude outside [-90, 90]: {pair!r}")
        out.append(WGS84.Inverse(lat1, lon1, lat2, lon2)["s12"])
    json.dump({"distances_m": out}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
