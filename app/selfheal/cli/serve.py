"""``selfheal serve``, ``selfheal audit verify|log`` and ``selfheal jobs list|retry``.

``serve`` reads the settings (environment and ``.env``), refuses to start when they are
incomplete (exit 2), configures structured logging, imports ``SELFHEAL_PLUGINS`` modules (which
may register job kinds and dispatch hooks), opens the ledger and runs the aiohttp app until
SIGINT/SIGTERM. ``audit`` and ``jobs`` work on the ledger file only and need no App
credentials; ``jobs retry`` records who retried a dead job in the audit log.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from selfheal.cli import EXIT_FINDINGS, EXIT_OK, UsageError
from selfheal.config.settings import SettingsError, db_path_from, environment, load_settings

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 15.0
# The ledger writer thread and the event loop hand the GIL back and forth on every write;
# a shorter switch interval than the default 5 ms keeps that handoff from adding latency.
SWITCH_INTERVAL = 0.0005


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser("serve", help="run the GitHub App webhook server and workers")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (0 = any)")
    serve.add_argument("--db", type=Path, help="ledger file (default: $SELFHEAL_DB)")
    serve.add_argument("--env-file", type=Path, default=Path(".env"), help="dotenv file")
    serve.set_defaults(handler=run_serve)

    audit = subparsers.add_parser("audit", help="verify or list the audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_sub.add_parser("verify", help="check the hash chain")
    verify.add_argument("--db", type=Path, help="ledger file (default: $SELFHEAL_DB)")
    verify.add_argument(
        "--expect", metavar="HASH", help="a head hash printed by an earlier verify: fail if no "
        "entry has it (detects entries cut off the end)",
    )  # fmt: skip
    verify.set_defaults(handler=run_verify)
    log = audit_sub.add_parser("log", help="list audit entries, newest first")
    log.add_argument("--db", type=Path, help="ledger file (default: $SELFHEAL_DB)")
    log.add_argument("--repo", metavar="OWNER/NAME")
    log.add_argument("--request", type=int, metavar="N", help="request issue number")
    log.add_argument("--actor", metavar="LOGIN")
    log.add_argument("--action")
    log.add_argument("--limit", type=int, default=50)
    log.add_argument("--format", choices=("text", "json"), default="text")
    log.set_defaults(handler=run_log)

    jobs_parser = subparsers.add_parser("jobs", help="inspect the job queue, retry dead jobs")
    jobs_sub = jobs_parser.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    listing = jobs_sub.add_parser("list", help="list jobs (default: dead ones)")
    listing.add_argument("--db", type=Path, help="ledger file (default: $SELFHEAL_DB)")
    listing.add_argument(
        "--status", default="dead", choices=("queued", "running", "done", "dead", "all")
    )
    listing.add_argument("--kind")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--format", choices=("text", "json"), default="text")
    listing.set_defaults(handler=run_jobs_list)
    retry = jobs_sub.add_parser("retry", help="give a dead job a fresh set of attempts")
    retry.add_argument("job_id", type=int, metavar="ID")
    retry.add_argument("--db", type=Path, help="ledger file (default: $SELFHEAL_DB)")
    retry.set_defaults(handler=run_jobs_retry)


def run_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from selfheal.ledger import Ledger
    from selfheal.runtime.logs import setup_logging
    from selfheal.runtime.server import create_app

    try:
        settings = load_settings(args.env_file)
    except SettingsError as exc:
        raise UsageError(f"cannot start: {exc}") from None
    if args.db is not None:
        settings = dataclasses.replace(settings, db_path=args.db)
    sys.setswitchinterval(SWITCH_INTERVAL)
    if settings.semgrep_engine is not None:  # from the environment or .env: the scanner reads
        from selfheal.scanner.semgrep_engine import ENGINE_VARIABLE  # the process environment

        os.environ[ENGINE_VARIABLE] = settings.semgrep_engine
    setup_logging(settings.log_level, secrets=settings.secret_values())
    for name in settings.plugins:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise UsageError(f"SELFHEAL_PLUGINS: cannot import {name!r}: {exc}") from None
    try:
        ledger = Ledger.open(settings.db_path)
    except sqlite3.Error as exc:
        raise UsageError(f"cannot open the ledger {settings.db_path}: {exc}") from None
    log.info(
        "starting",
        extra={
            "app_id": settings.app_id,
            "db": str(settings.db_path),
            "api_url": settings.api_url,
            "workers": settings.workers,
            "migrations_applied": ledger.applied_migrations,
            "plugins": list(settings.plugins),
        },
    )
    try:
        app = create_app(settings, ledger=ledger)
        web.run_app(
            app,
            host=args.host,
            port=args.port,
            print=lambda _text: log.info(
                "listening", extra={"url": f"http://{args.host}:{args.port}/webhook"}
            ),
            shutdown_timeout=SHUTDOWN_TIMEOUT,
            access_log=None,
        )
    except OSError as exc:  # address in use, permission denied
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    finally:
        ledger.close()
    return EXIT_OK


def _db(args: argparse.Namespace) -> Path:
    path: Path = args.db if args.db is not None else db_path_from(environment())
    if not path.is_file():
        raise UsageError(f"no ledger at {path} (pass --db or set SELFHEAL_DB)")
    return path


def _terminal_safe(text: str) -> str:
    """One line with every control character escaped: a job's last error can quote issue
    text, and ESC sequences or newlines from it must not drive the operator's terminal."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


@contextlib.contextmanager
def _reading(args: argparse.Namespace) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the ledger; a file that is not a (readable) selfheal ledger
    is a clear exit 2, not a traceback."""
    from selfheal.ledger import connect

    path = _db(args)
    try:
        conn = connect(path, readonly=True)
    except sqlite3.Error as exc:
        raise UsageError(f"cannot open the ledger {path}: {exc}") from None
    try:
        yield conn
    except sqlite3.Error as exc:
        raise UsageError(
            f"cannot read the ledger {path}: {exc} (is it a selfheal ledger?)"
        ) from None
    finally:
        conn.close()


def run_verify(args: argparse.Namespace) -> int:
    from selfheal.ledger import audit

    with _reading(args) as conn:
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
    with _reading(args) as conn:
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
        print(_terminal_safe(line.rstrip()))
    if not found:
        print("no audit entries match", file=sys.stderr)
    return EXIT_OK


def run_jobs_list(args: argparse.Namespace) -> int:
    from selfheal.ledger import jobs

    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    with _reading(args) as conn:
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
        print(_terminal_safe(line.rstrip()))
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

    path = _db(args)
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
