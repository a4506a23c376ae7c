"""``GET /api/monitor/stats``: the seed's statistics as JSON, read from the ledger; and the
monitor's section of the dashboard issue.

The stats are an operator endpoint like ``/metrics``, behind the same bearer token when the
operator set ``SELFHEAL_METRICS_TOKEN`` (see docs/monitor.md): it tells counts, never an
event's text. The dashboard section (rendered by ``render``) is in the repository itself,
next to the fix-request issues that quote the same failures.
"""

from __future__ import annotations

import calendar
import sqlite3
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from selfheal.ledger import monitor as store
from selfheal.monitor.events import EventError, parse_event
from selfheal.monitor.filing import limits_from
from selfheal.monitor.fingerprint import exception_type
from selfheal.monitor.ingest import Ingest
from selfheal.monitor.render import TOP, TopFailure, section
from selfheal.runtime.context import JobContext
from selfheal.runtime.server import LEDGER, SETTINGS, WORKER, metrics_allowed

RECENT = 15 * 60.0


def running_from(last_check: str | None, now: float) -> bool:
    """For a reader without a worker at hand (the CLI): whether the monitor checked
    something within the last 15 minutes."""
    if not last_check:
        return False
    try:
        at = calendar.timegm(time.strptime(last_check, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return False
    return now - at <= RECENT


async def stats(request: web.Request) -> web.Response:
    if not metrics_allowed(request):
        return web.json_response(
            {"error": "unauthorized"}, status=401, headers={"WWW-Authenticate": "Bearer"}
        )
    window = request.app[SETTINGS].monitor.window_days * 86_400
    found: dict[str, Any] = await request.app[LEDGER].aread(
        lambda c: store.stats(c, now=time.time(), window=window)
    )
    worker = request.app.get(WORKER)
    running = worker is not None and worker.concurrency > 0 and worker.loops_alive()
    return web.json_response({"is_running": running, **found})


def setup(app: web.Application) -> None:
    """The monitor's web route, added while the server builds its application."""
    app.router.add_get("/api/monitor/stats", stats)


class EventSink:
    """The API's sink for ``POST /api/monitor/events``: the monitor's :class:`Ingest`, with
    the operator's limits, waking the worker when a sync job was queued."""

    def __init__(self, ingest: Ingest) -> None:
        self.ingest = ingest

    async def record(self, events: Sequence[Mapping[str, Any]], *, reporter: str) -> int:
        return await self.ingest.record(list(events), reporter=reporter)


def event_sink(app: web.Application) -> EventSink:
    settings, worker = app[SETTINGS], app[WORKER]
    return EventSink(Ingest(app[LEDGER], limits=limits_from(settings.monitor),
                            notify=worker.notify))  # fmt: skip


def top_failure(found: store.Failing) -> TopFailure:
    """A fingerprint as the dashboard shows it: the error and message of its representative
    event (a sample that no longer parses shows neither, rather than failing the rebuild)."""
    t = found.tracked
    try:
        event = parse_event(t.sample)
    except EventError:
        kind, message = "", ""
    else:
        kind, message = exception_type(event) or event.source, event.message
    return TopFailure(t.fingerprint, kind, message, found.recent, t.last_seen, t.issue_number)


async def dashboard_section(ctx: JobContext, gh: Any, repo: str) -> tuple[str, str] | None:
    """The monitor's section of the dashboard issue, for this repository: its counts and its
    top failing fingerprints in the operator's window."""
    window_days = ctx.worker.config.monitor.window_days
    since = time.time() - window_days * 86_400

    def read(c: sqlite3.Connection) -> tuple[dict[str, int], list[store.Failing]]:
        return store.repository_summary(c, repo), store.top_failing(c, repo, since=since, limit=TOP)

    summary, top = await ctx.ledger.aread(read)
    text = section(summary, [top_failure(f) for f in top], window_days)
    return None if text is None else ("Monitor", text)
