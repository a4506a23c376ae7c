"""Build the compact advisory snapshot bundled in app/selfheal/data/advisories/.

    python scripts/build_advisories.py [--source PATH] [--out PATH]

The source defaults to the PyPA advisory database export kept in this repository,
``scripts/data/`` (CC-BY-4.0, see the README there). The output keeps only what matching
needs, plus the attribution and the snapshot date, and is byte-for-byte reproducible (a test
rebuilds it and compares).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "app"))

from selfheal.scanner.advisories import (  # noqa: E402
    BUNDLED_NAME,
    build_compact,
    read_advisories,
    write_compact,
)

SOURCE = REPO_ROOT / "scripts" / "data" / "pypa-advisory-database-2024-10-10.osv.jsonl.gz"
OUT = REPO_ROOT / "app" / "selfheal" / "data" / "advisories" / BUNDLED_NAME
HEADER = {
    "source": "PyPA advisory database (OSV)",
    "snapshot": "2024-10-10",
    "license": "CC-BY-4.0",
    "attribution": (
        "Vulnerability data from the PyPA Advisory Database "
        "(https://github.com/pypa/advisory-database), by the Python Packaging Authority and "
        "the database's contributors, licensed under Creative Commons Attribution 4.0 "
        "International (CC-BY-4.0). Snapshot of 2024-10-10, commit "
        "3ccb612573e2511ab5cad7dafecd838605c80cda. Converted to a compact form by selfheal "
        "(fields kept: id, aliases, summary, PyPI affected ranges and versions, severity, "
        "withdrawn, published, modified; details truncated)."
    ),
    "origin": "pypa-advisory-database-2024-10-10.osv.jsonl.gz",
}


def build(source: Path) -> dict[str, Any]:
    _, advisories = read_advisories(source)
    return build_compact(advisories, **HEADER)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if not args.source.is_file():
        print(f"source data not found: {args.source}", file=sys.stderr)
        return 2
    document = build(args.source)
    write_compact(document, args.out)
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({document['count']} advisories, {size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
