#!/usr/bin/env python3
"""Convert an OSM XML file to PBF with pyosmium, element for element.

    .venv/bin/python tools/osm/xml_to_pbf.py tests/fixtures/osm/small.osm \
        tests/fixtures/osm/small.osm.pbf

Every node, way and relation is copied as it is: ids, versions, tags, node refs and members;
a way's ref to a node that is absent from the input stays a ref to an absent node (nothing is
looked up or repaired). The header keeps the input's bounding box. The output is written to a
temporary file beside it and renamed over it, then read back and compared with the input; a
difference fails the run (exit 2). Prints {"nodes", "ways", "relations", "output"} as JSON.
"""

import argparse
import json
import os
import pathlib
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ left in tools/osm/ by test runs
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from osmgeo import fail  # noqa: E402


def elements(path):
    """Everything the two files must agree on, as plain tuples, in file order."""
    import osmium

    out = []
    for o in osmium.FileProcessor(str(path)):
        tags = tuple((t.k, t.v) for t in o.tags)
        if o.is_node():
            loc = o.location
            geo = (loc.x, loc.y) if loc.valid() else None  # 1e-7 degree fixed point
            out.append(("n", o.id, o.version, tags, geo))
        elif o.is_way():
            out.append(("w", o.id, o.version, tags, tuple(n.ref for n in o.nodes)))
        else:
            out.append(("r", o.id, o.version, tags,
                        tuple((m.type, m.ref, m.role) for m in o.members)))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", type=pathlib.Path, help="OSM XML file (.osm)")
    parser.add_argument("output", type=pathlib.Path, help="PBF file to write (.osm.pbf)")
    args = parser.parse_args()
    if not args.input.is_file():
        fail(f"no such file: {args.input}")

    import osmium

    try:
        source = osmium.io.Reader(str(args.input), osmium.osm.osm_entity_bits.NOTHING)
        box = source.header().box()
        source.close()
        header = osmium.io.Header()
        if box.valid():
            header.add_box(box)
        header.set("generator", "crowdtwin tools/osm/xml_to_pbf.py (pyosmium)")

        args.output.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{args.output.name}.", suffix=".tmp",
                                   dir=args.output.parent)
        os.close(fd)
        try:
            with osmium.SimpleWriter(osmium.io.File(tmp, "pbf"), header=header,
                                     overwrite=True) as writer:
                for obj in osmium.FileProcessor(str(args.input)):
                    writer.add(obj)
            os.chmod(tmp, 0o644)
            os.replace(tmp, args.output)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        want, got = elements(args.input), elements(args.output)
    except RuntimeError as e:  # libosmium's errors: unreadable or malformed input
        fail(f"{args.input}: {e}")
    if want != got:
        diff = next((a, b) for a, b in zip(want + [None] * len(got), got + [None] * len(want))
                    if a != b)
        fail(f"{args.output} differs from {args.input}: first difference {diff}")
    kinds = [e[0] for e in want]
    json.dump({"nodes": kinds.count("n"), "ways": kinds.count("w"),
               "relations": kinds.count("r"), "output": str(args.output)}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
