#!/usr/bin/env python3
"""Reference area of one OSM way's polygon, for the site importer's tests.

    .venv/bin/python tools/osm/reference_area.py FILE WAY_ID [--allow-missing]

Reads FILE (OSM XML or PBF) with pyosmium, takes the way's node locations, projects them to a
local azimuthal-equidistant east/north frame about their mean (geographiclib, WGS84; see
osmgeo.py for the error bound) and prints, as JSON on stdout:

    {"way": ID, "area_m2": A, "nodes": N, "closed": bool, "valid": bool, "missing_nodes": M,
     "area_m2_make_valid": A2, "perimeter_m": P, "centroid": [LAT, LON]}

area_m2 is shapely's area of the ring as given (closed implicitly when the way is not; a
self-intersecting ring's lobes count with their signs, so a symmetric bow-tie gives about 0);
area_m2_make_valid is the area after shapely's make_valid (a bow-tie's two triangles added), and
nodes is the way's number of node refs (a closed way counts its first node twice). A way with
nodes absent from the file is an error unless --allow-missing, which builds the ring from the
nodes that are there. Fails (exit 2, message on stderr) on a missing file or way, or when fewer
than 3 distinct located nodes remain.
"""

import argparse
import json
import pathlib
import sys

sys.dont_write_bytecode = True  # no __pycache__ left in tools/osm/ by test runs
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from osmgeo import LocalFrame, fail, way_locations  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=pathlib.Path, help="OSM XML (.osm) or PBF (.osm.pbf) file")
    parser.add_argument("way_id", type=int)
    parser.add_argument("--allow-missing", action="store_true",
                        help="build the ring from the located nodes when some are absent")
    args = parser.parse_args()
    if not args.file.is_file():
        fail(f"no such file: {args.file}")

    from shapely import make_valid
    from shapely.geometry import Polygon

    _tags, refs = way_locations(args.file, args.way_id)
    missing = [ref for ref, lat, _ in refs if lat is None]
    if missing and not args.allow_missing:
        fail(f"way {args.way_id} has {len(missing)} node(s) absent from {args.file} "
             f"(missing node locations: {', '.join(map(str, missing[:10]))}); "
             "pass --allow-missing to use the others")
    closed = len(refs) >= 2 and refs[0][0] == refs[-1][0]
    pts = [(lat, lon) for _, lat, lon in refs if lat is not None]
    ring = pts[:-1] if len(pts) >= 2 and pts[0] == pts[-1] else pts
    if len(set(ring)) < 3:
        fail(f"way {args.way_id} has {len(set(ring))} distinct located node(s); a polygon needs 3")

    frame = LocalFrame(sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring))
    poly = Polygon([frame.to_local(lat, lon) for lat, lon in ring])
    fixed = make_valid(poly)
    c = fixed.centroid
    lat, lon = frame.to_geo(c.x, c.y)
    json.dump({
        "way": args.way_id,
        "area_m2": round(poly.area, 4),
        "nodes": len(refs),
        "closed": closed,
        "valid": bool(poly.is_valid),
        "missing_nodes": len(missing),
        "area_m2_make_valid": round(fixed.area, 4),
        "perimeter_m": round(poly.exterior.length, 4),
        "centroid": [round(lat, 7), round(lon, 7)],
    }, sys.stdout)
    print()


if __name__ == "__main__":
    main()
