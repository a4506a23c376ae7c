"""``selfheal jobs list|retry``: inspect the job queue and give dead jobs new attempts.

Works on the ledger file only; ``retry`` records who retried a dead job in the audit log.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sqlite3
import sys
from typing import Any

from selfheal.cli import EXIT_FINDINGS, EXIT_OK, UsageError
from selfheal.cli.ledger_access import add_db_option, ledger_path, reading, terminal_safe


def register(subparsers: Any) -> None:
    jobs_parser = subparsers.add_parser("jobs", help="inspect the job queue, retry dead jobs")
    jobs_sub = jobs_parser.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    listing = jobs_sub.add_parser("list", help="list jobs (default: dead ones)")
    add_db_option(listing)
    listing.add_argument(
        "--status", default="dead", choices=("queued", "running", "done", "dead", "all")
    )
    listing.add_argument("--kind")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--format", choices=("text", "json"), default="text")
    listing.set_defaults(handler=run_jobs_list)
    retry = jobs_sub.add_parser("retry", help="give a dead job a fresh set of attempts")
    retry.add_argument("job_id", type=int, metavar="ID")
    add_db_option(retry)
    retry.set_defaults(handler=run_jobs_retry)


def run_jobs_list(args: argparse.Namespace) -> int:
    from selfheal.ledger import jobs

    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    with reading(args) as conn:
        status = None if args.status == "all" else args.status
        found = jobs.find(conn, status=status, kind=args.kind, limit=args.limit)
    if args.format == "json":
        print(json.dumps([dataclasses.asdict(j) for j in found], indent=2))
        return EXIT_OK
    for j in found:
        line = (
            f"{j.id:>6}  {j.status:<7} {j.kind:<16} attempts {j.attempts}/{j.max_attempts}"
            f"  {j.repository or '-'}  {j.last_error or ''}"
        )
        print(terminal_safe(line.rstrip()))
    if not found:
        print("no jobs match", file=sys.stderr)
    return EXIT_OK


def run_jobs_retry(args: argparse.Namespace) -> int:
    import getpass

    from selfheal.ledger import Ledger, audit, jobs

    job_id: int = args.job_id
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"

    def retry(conn: sqlite3.Connection) -> bool:
        if not jobs.requeue(conn, job_id):
            return False
        audit.append(conn, f"cli:{who}", "job.retried", details={"job_id": job_id})
        return True

    path = ledger_path(args)
    try:
        with Ledger.open(path) as ledger:
            if ledger.write(retry):
                print(f"job {job_id} queued again")
                return EXIT_OK
            job = ledger.read(lambda c: jobs.get(c, job_id))
    except sqlite3.Error as exc:
        raise UsageError(f"cannot use the ledger {path}: {exc}") from None
    state = "does not exist" if job is None else f"is {job.status}, not dead"
    print(f"job {job_id} {state}; nothing to retry", file=sys.stderr)
    return EXIT_FINDINGS
