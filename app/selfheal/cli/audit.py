"""``selfheal audit verify|log``: check the audit log's hash chain, list its entries.

Works on the ledger file only; needs no App credentials.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from selfheal.cli import EXIT_FINDINGS, EXIT_OK, UsageError
from selfheal.cli.ledger_access import add_db_option, reading, terminal_safe


def register(subparsers: Any) -> None:
    audit = subparsers.add_parser("audit", help="verify or list the audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_sub.add_parser("verify", help="check the hash chain")
    add_db_option(verify)
    verify.add_argument(
        "--expect", metavar="HASH", help="a head hash printed by an earlier verify: fail if no "
        "entry has it (detects entries cut off the end)",
    )  # fmt: skip
    verify.set_defaults(handler=run_verify)
    log = audit_sub.add_parser("log", help="list audit entries, newest first")
    add_db_option(log)
    log.add_argument("--repo", metavar="OWNER/NAME")
    log.add_argument("--request", type=int, metavar="N", help="request issue number")
    log.add_argument("--actor", metavar="LOGIN")
    log.add_argument("--action")
    log.add_argument("--limit", type=int, default=50)
    log.add_argument("--format", choices=("text", "json"), default="text")
    log.set_defaults(handler=run_log)


def run_verify(args: argparse.Namespace) -> int:
    from selfheal.ledger import audit

    with reading(args) as conn:
        result = audit.verify(conn, expect_hash=args.expect)
    if result.ok:
        print(f"audit chain ok: {result.checked} entries verified")
        print(f"head {result.head_hash}")
        return EXIT_OK
    if result.broken_id is None:
        print(f"audit chain BROKEN: {result.reason}")
    else:
        print(f"audit chain BROKEN at entry {result.broken_id}: {result.reason}")
    print(f"({result.checked} entries before it verified)")
    return EXIT_FINDINGS


def run_log(args: argparse.Namespace) -> int:
    from selfheal.ledger import audit

    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    with reading(args) as conn:
        found = audit.entries(
            conn,
            repository=args.repo,
            request=args.request,
            actor=args.actor,
            action=args.action,
            limit=args.limit,
        )
    if args.format == "json":
        print(json.dumps([e.to_dict() for e in found], indent=2))
        return EXIT_OK
    for e in found:
        where = e.repository or "-"
        if e.request is not None:
            where += f"#{e.request}"
        details = json.dumps(e.details, sort_keys=True) if e.details else ""
        line = f"{e.id:>6}  {e.ts}  {e.actor:<20} {e.action:<24} {where}  {details}"
        print(terminal_safe(line.rstrip()))
    if not found:
        print("no audit entries match", file=sys.stderr)
    return EXIT_OK
