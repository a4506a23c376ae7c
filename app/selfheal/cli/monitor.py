"""``selfheal monitor fingerprint|stats|list``: the monitor's grouping offline, and its state.

``fingerprint`` reads failure events in the API's shape, one JSON object per line, and prints
one fingerprint per line in input order, with the code the App groups with. A line that is
not an event is reported with its number on stderr, and nothing is printed to stdout (exit
2), so a partial listing is never taken for a whole one. ``stats`` and ``list`` read the
ledger (``--db`` or ``SELFHEAL_DB``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from selfheal.cli import EXIT_OK, EXIT_USAGE, UsageError
from selfheal.cli.ledger_access import add_db_option, reading, terminal_safe

MAX_INPUT_BYTES = 256 * 1024 * 1024


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("monitor", help="the failure monitor: fingerprints, stats")
    sub = parser.add_subparsers(dest="monitor_command", metavar="ACTION", required=True)
    fp = sub.add_parser("fingerprint", help="print the fingerprint of each event (JSON lines)")
    fp.add_argument(
        "--input", required=True, help="events file, one JSON object a line (- for stdin)"
    )
    fp.add_argument("--format", choices=("text", "json"), default="text",
                    help="json: also the identity and signature of each")  # fmt: skip
    fp.set_defaults(handler=run_fingerprint)
    stats = sub.add_parser("stats", help="the monitor's statistics")
    add_db_option(stats)
    stats.add_argument("--format", choices=("text", "json"), default="text")
    stats.set_defaults(handler=run_stats)
    listing = sub.add_parser("list", help="fingerprints with their counts, states and issues")
    add_db_option(listing)
    listing.add_argument("--repo", help="only this repository (owner/name)")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--format", choices=("text", "json"), default="text")
    listing.set_defaults(handler=run_list)


def _lines(source: str) -> list[str]:
    if source == "-":
        text = sys.stdin.read(MAX_INPUT_BYTES + 1)
    else:
        try:
            with Path(source).open(encoding="utf-8") as handle:
                text = handle.read(MAX_INPUT_BYTES + 1)
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {source}: {type(exc).__name__}: {exc}") from None
    if len(text) > MAX_INPUT_BYTES:
        raise UsageError(f"{source} is larger than {MAX_INPUT_BYTES // (1024 * 1024)} MiB")
    return text.splitlines()


def run_fingerprint(args: argparse.Namespace) -> int:
    from selfheal.monitor import EventError, fingerprint, parse_event

    out: list[str] = []
    errors = 0
    for number, line in enumerate(_lines(args.input), start=1):
        if not line.strip():
            continue
        try:
            fp = fingerprint(parse_event(json.loads(line)))
        except (ValueError, RecursionError, EventError) as exc:
            errors += 1
            print(terminal_safe(f"line {number}: {str(exc)[:300]}"), file=sys.stderr)
            continue
        if args.format == "json":
            out.append(json.dumps({"fingerprint": fp.value, "identity": fp.identity,
                                   "signature": fp.signature}))  # fmt: skip
        else:
            out.append(fp.value)
    if errors:
        print(f"selfheal: {errors} line(s) are not failure events; nothing printed",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    if out:
        print("\n".join(out))
    return EXIT_OK


def run_stats(args: argparse.Namespace) -> int:
    from selfheal.config.settings import SettingsError, environment, monitor_options
    from selfheal.ledger import monitor as store
    from selfheal.monitor.web import running_from

    try:
        window = monitor_options(environment()).window_days * 86_400
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    now = time.time()
    with reading(args) as conn:
        found = store.stats(conn, now=now, window=window)
    stats = {"is_running": running_from(found["last_check"], now), **found}
    if args.format == "json":
        print(json.dumps(stats, indent=2))
    else:
        for key, value in stats.items():
            print(f"{key:<17} {value if value is not None else '-'}")
    return EXIT_OK


def run_list(args: argparse.Namespace) -> int:
    from selfheal.ledger import monitor as store

    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    with reading(args) as conn:
        found = store.listing(conn, args.repo, args.limit)
    rows = [
        {"repository": t.repository, "fingerprint": t.fingerprint, "identity": t.identity,
         "occurrences": t.total, "issue": t.issue_number, "state": t.issue_state,
         "attempts": t.attempts,
         "last_seen": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t.last_seen))}
        for t in found
    ]  # fmt: skip
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for r in rows:
        issue = f"#{r['issue']}" if r["issue"] else "-"
        line = (f"{r['fingerprint']}  {r['occurrences']:>5}  {r['state']:<6} {issue:<7} "
                f"{r['repository']}  {r['identity']}")  # fmt: skip
        print(terminal_safe(line[:300]))
    if not rows:
        print("no fingerprints yet", file=sys.stderr)
    return EXIT_OK
