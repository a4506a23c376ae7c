"""``selfheal report junit FILE...``: failing tests of a JUnit XML report sent to the monitor.

Each failed or errored test case becomes a failure event with the run's identity (GitHub
Actions' ``GITHUB_RUN_ID`` and ``GITHUB_RUN_ATTEMPT``, ``GITHUB_SHA`` and
``GITHUB_REPOSITORY``, or the options), posted to ``POST /api/monitor/events`` of the App's
API at ``SELFHEAL_URL`` with the bearer token in ``SELFHEAL_TOKEN`` (a token with the
``report`` scope). ``--dry-run`` prints the events as JSON lines instead. The token is never
printed, and an answer from the server is shown without its headers.

Exit codes: 0 sent (or nothing failed), 1 the API refused the events or could not be
reached, 2 bad input (a file that is not JUnit XML, a missing URL or token).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from selfheal.cli import EXIT_FINDINGS, EXIT_OK, UsageError
from selfheal.cli.ledger_access import terminal_safe

TIMEOUT = 30.0
BATCH = 100


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("report", help="send failures to the selfheal monitor")
    sub = parser.add_subparsers(dest="report_command", metavar="KIND", required=True)
    junit = sub.add_parser("junit", help="the failing tests of JUnit XML reports")
    junit.add_argument("files", nargs="+", type=Path, metavar="FILE")
    junit.add_argument("--url", help="the App's base URL (default: $SELFHEAL_URL)")
    junit.add_argument("--repository", help="owner/name (default: $GITHUB_REPOSITORY)")
    junit.add_argument("--run-id", help="the run (default: $GITHUB_RUN_ID.$GITHUB_RUN_ATTEMPT)")
    junit.add_argument("--commit", help="the commit tested (default: $GITHUB_SHA)")
    junit.add_argument("--dry-run", action="store_true", help="print the events, send nothing")
    junit.set_defaults(handler=run_junit)


def _run_id(args: argparse.Namespace) -> str | None:
    if args.run_id:
        return str(args.run_id)
    run = os.environ.get("GITHUB_RUN_ID", "").strip()
    return f"{run}.{os.environ.get('GITHUB_RUN_ATTEMPT', '1').strip() or '1'}" if run else None


def _events(args: argparse.Namespace) -> list[dict[str, Any]]:
    from selfheal.monitor import parse_events
    from selfheal.monitor.ci import JUnitError, junit_events, parse_junit
    from selfheal.monitor.events import EventError

    repository = args.repository or os.environ.get("GITHUB_REPOSITORY", "").strip() or None
    commit = args.commit or os.environ.get("GITHUB_SHA", "").strip() or None
    events: list[dict[str, Any]] = []
    for path in args.files:
        try:
            failures = parse_junit(path.read_bytes())
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {type(exc).__name__}") from None
        except JUnitError as exc:
            raise UsageError(f"{path}: {exc}") from None
        events.extend(junit_events(failures, run=_run_id(args), commit=commit,
                                   repository=repository))  # fmt: skip
    if events:
        try:
            parse_events(events)  # what the API will check, checked before sending
        except EventError as exc:
            raise UsageError(f"the report does not make valid events: {exc}") from None
    return events


def _post(url: str, token: str, events: list[dict[str, Any]]) -> tuple[int, str]:
    request = urllib.request.Request(  # noqa: S310 (http(s) only, checked by run_junit)
        url.rstrip("/") + "/api/monitor/events", data=json.dumps(events).encode(),
        method="POST", headers={"Content-Type": "application/json",
                                "Authorization": f"Bearer {token}"},
    )  # fmt: skip
    try:  # the scheme was checked: http(s) only
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            return int(response.status), response.read(4_096).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read(4_096).decode("utf-8", "replace")


def run_junit(args: argparse.Namespace) -> int:
    events = _events(args)
    if args.dry_run:
        for event in events:
            print(json.dumps(event, sort_keys=True))
        return EXIT_OK
    if not events:
        print("no failing tests to report", file=sys.stderr)
        return EXIT_OK
    url = args.url or os.environ.get("SELFHEAL_URL", "").strip()
    token = os.environ.get("SELFHEAL_TOKEN", "").strip()
    if not url.startswith(("https://", "http://")):
        raise UsageError("set --url or SELFHEAL_URL to the App's http(s) base URL")
    if not token:
        raise UsageError("set SELFHEAL_TOKEN to an API token with the report scope")
    for start in range(0, len(events), BATCH):
        try:
            status, text = _post(url, token, events[start : start + BATCH])
        except (OSError, ValueError) as exc:
            print(f"selfheal: cannot reach {terminal_safe(url)}: {type(exc).__name__}",
                  file=sys.stderr)  # fmt: skip
            return EXIT_FINDINGS
        if status >= 300:
            print(terminal_safe(f"selfheal: the API answered {status}: {text[:300]}"),
                  file=sys.stderr)  # fmt: skip
            return EXIT_FINDINGS
    print(f"reported {len(events)} failing test(s)")
    return EXIT_OK
