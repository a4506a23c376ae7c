"""``selfheal advisories update|info``: manage the local OSV advisory data.

``update --from FILE|DIR`` validates an OSV export (zip, folder of JSON, JSON lines, or our
compact file), converts it to the compact form and stores it atomically where
:meth:`AdvisoryDB.load` looks first; bad input leaves the previous data untouched (exit 2).
``info`` prints which data a scan would use, its date, size and attribution.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from selfheal.cli import EXIT_OK, UsageError
from selfheal.scanner.advisories import (
    AdvisoryDataError,
    AdvisoryDB,
    build_compact,
    bundled_path,
    read_advisories,
    updated_path,
    write_compact,
)

DEFAULT_LICENSE = "CC-BY-4.0"
DEFAULT_ATTRIBUTION = (
    "Vulnerability data from the OSV export {name} (the PyPA Advisory Database and other OSV "
    "sources, published under CC-BY-4.0); see https://osv.dev for each source's terms."
)


def _update(args: argparse.Namespace) -> int:
    source: Path = args.source
    target: Path = args.to or updated_path()
    try:
        header, advisories = read_advisories(source)
    except AdvisoryDataError as exc:
        raise UsageError(f"cannot use {source}: {exc}; previous advisory data kept") from None
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc}; previous advisory data kept") from None
    if not advisories:
        raise UsageError(f"no PyPI advisories found in {source}; previous advisory data kept")
    newest = max((a.modified for a in advisories), default="")
    if not header:
        header = {
            "source": args.name or f"OSV export {source.name}",
            "snapshot": newest[:10] or "unknown date",
            "license": args.license,
            "attribution": args.attribution or DEFAULT_ATTRIBUTION.format(name=source.name),
            "origin": source.name,
        }
    kept: dict[str, Any] = {
        k: v
        for k, v in header.items()
        if k not in ("format", "version", "count", "newest_modified")
    }
    document = build_compact(advisories, **kept)
    try:
        write_compact(document, target)
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc}; previous advisory data kept") from None
    withdrawn = sum(1 for a in advisories if a.withdrawn)
    packages = len({aff.package for a in advisories for aff in a.affected})
    print(
        f"stored {len(advisories)} advisories ({withdrawn} withdrawn) for {packages} packages "
        f"in {target}\nnewest modified: {newest or 'unknown'}\ndata: {kept.get('source')}, "
        f"snapshot {kept.get('snapshot')}, {kept.get('license')}"
    )
    return EXIT_OK


def _info(args: argparse.Namespace) -> int:
    try:
        db = AdvisoryDB.load(args.advisories)
    except AdvisoryDataError as exc:
        raise UsageError(f"cannot load advisory data: {exc}") from None
    where = db.path
    kind = (
        "given with --advisories"
        if args.advisories
        else "bundled snapshot"
        if where == bundled_path()
        else "updated copy (selfheal advisories update)"
    )
    packages = len({aff.package for a in db.advisories for aff in a.affected})
    lines = [
        f"advisory data: {db.description}",
        f"file: {where} ({kind})",
        f"advisories: {db.active_count} active, {len(db.advisories) - db.active_count} withdrawn,"
        f" {packages} packages",
        f"newest modified: {db.newest_modified or 'unknown'}",
    ]
    if db.attribution:
        lines.append(f"attribution: {db.attribution}")
    print("\n".join(lines))
    return EXIT_OK


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "advisories", help="manage the offline OSV advisory data used for dependency checks"
    )
    sub = parser.add_subparsers(dest="advisories_command", metavar="ACTION", required=True)
    update = sub.add_parser("update", help="load a newer OSV export (zip, folder, .jsonl)")
    update.add_argument("--from", dest="source", type=Path, required=True, metavar="FILE|DIR")
    update.add_argument(
        "--to", type=Path, metavar="PATH", help=f"where to store it (default: {updated_path()})"
    )
    update.add_argument("--name", help="how the data is named in scan output")
    update.add_argument("--license", default=DEFAULT_LICENSE, help="licence of the data")
    update.add_argument("--attribution", help="attribution text kept with the data")
    update.set_defaults(handler=_update)
    info = sub.add_parser("info", help="show which advisory data a scan would use")
    info.add_argument("--advisories", type=Path, metavar="PATH", help="data to describe")
    info.set_defaults(handler=_info)
