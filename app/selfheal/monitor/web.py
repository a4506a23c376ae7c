"""``GET /api/monitor/stats``: the seed's statistics as JSON, read from the ledger.

An operator endpoint like ``/metrics``, behind the same bearer token when the operator set
``SELFHEAL_METRICS_TOKEN`` (see docs/monitor.md): it tells counts, never an event's text.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from selfheal.ledger import monitor as store
from selfheal.monitor.filing import limits_from
from selfheal.monitor.ingest import Ingest
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


def summary_markdown(summary: Mapping[str, int]) -> str | None:
    """The dashboard issue's monitor section (pure); None when nothing was seen."""
    if not summary.get("errors"):
        return None
    return (
        "| distinct failures | occurrences | fix requests open | fix attempts |\n"
        "|---:|---:|---:|---:|\n"
        f"| {summary['errors']} | {summary['occurrences']} | {summary['open_issues']} "
        f"| {summary['attempts']} |"
    )


async def dashboard_section(ctx: JobContext, gh: Any, repo: str) -> tuple[str, str] | None:
    """The monitor's section of the dashboard issue, for this repository."""
    found = await ctx.ledger.aread(lambda c: store.repository_summary(c, repo))
    text = summary_markdown(found)
    return None if text is None else ("Monitor", text)
