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
    junit.add_argument("--github-issues", action="store_true",
                       help="without the App: keep counts in plain monitor issues, with "
                            "$GITHUB_TOKEN")  # fmt: skip
    junit.add_argument("--issue-author", default="github-actions[bot]",
                       help="whose monitor issues to update")  # fmt: skip
    junit.add_argument("--window-days", type=float, default=7.0,
                       help="how long a run counts in the issue's table (default 7)")  # fmt: skip
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


async def _file_issues(
    events: list[dict[str, Any]], repo: str, token: str, author: str, window: float
) -> tuple[int, int]:
    """Without the App: create or update one plain monitor issue per fingerprint; returns
    (issues created, issues updated)."""
    import time

    import aiohttp

    from selfheal.github.client import GitHubClient
    from selfheal.github.repo import split
    from selfheal.model.labels import MONITOR_LABEL
    from selfheal.monitor import fingerprint, parse_event
    from selfheal.monitor import issue as render
    from selfheal.monitor.standalone import new_body, updated_body

    owner, name = split(repo)
    now = time.time()
    created = updated = 0
    async with aiohttp.ClientSession() as session:
        gh = GitHubClient.for_token(token, session=session)
        known: dict[str, dict[str, Any]] = {}
        async for item in gh.paginate("issues.list_for_repo", owner=owner, repo=name,
                                      state="all", labels=MONITOR_LABEL):  # fmt: skip
            login = str((item.get("user") or {}).get("login") or "")
            mark = render.marked_fingerprint(item.get("body"))
            if "pull_request" not in item and login.lower() == author.lower() and mark:
                known.setdefault(mark, dict(item))
        for raw in events:
            event = parse_event(raw)
            fp = fingerprint(event)
            run = event.run_id or f"local-{int(now)}"
            item = known.get(fp.value)
            if item is None:
                data = {"title": render.title(event, fp), "labels": [MONITOR_LABEL],
                        "body": new_body(event, fp, run, now, window)}  # fmt: skip
                known[fp.value] = dict(await gh.call("issues.create", owner=owner, repo=name,
                                                     data=data))  # fmt: skip
                created += 1
                continue
            body, _ = updated_body(str(item.get("body") or ""), event.source, run, now, window)
            if body != item.get("body"):
                await gh.call("issues.update", owner=owner, repo=name,
                              issue_number=int(item["number"]), data={"body": body})  # fmt: skip
                item["body"] = body
                updated += 1
    return created, updated


def _run_github_issues(args: argparse.Namespace, events: list[dict[str, Any]]) -> int:
    import asyncio

    import gidgethub

    from selfheal.github.client import GitHubGaveUp

    token = os.environ.get("GITHUB_TOKEN", "").strip()
    repo = args.repository or os.environ.get("GITHUB_REPOSITORY", "").strip()
    if not token or not repo:
        raise UsageError("--github-issues needs GITHUB_TOKEN and GITHUB_REPOSITORY (--repository)")
    if args.window_days <= 0:
        raise UsageError("--window-days must be positive")
    try:
        created, updated = asyncio.run(
            _file_issues(events, repo, token, args.issue_author, args.window_days * 86_400)
        )
    except (gidgethub.GitHubException, GitHubGaveUp, OSError) as exc:
        print(f"selfheal: GitHub refused the monitor issues: {type(exc).__name__}: "
              f"{terminal_safe(str(exc))[:200]}", file=sys.stderr)  # fmt: skip
        return EXIT_FINDINGS
    print(f"monitor issues: {created} opened, {updated} updated")
    return EXIT_OK


def run_junit(args: argparse.Namespace) -> int:
    events = _events(args)
    if args.github_issues and not args.dry_run:
        return _run_github_issues(args, events) if events else EXIT_OK
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
