"""``GET /api/monitor/stats``: the seed's statistics as JSON, read from the ledger.

An operator endpoint like ``/metrics`` until the API's token checks cover it (see
docs/monitor.md): it tells counts, never an event's text.
"""

from __future__ import annotations

import calendar
import time
from typing import Any

from aiohttp import web

from selfheal.ledger import monitor as store
from selfheal.runtime.context import WebRoute
from selfheal.runtime.server import LEDGER, SETTINGS, WORKER

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
    window = request.app[SETTINGS].monitor.window_days * 86_400
    found: dict[str, Any] = await request.app[LEDGER].aread(
        lambda c: store.stats(c, now=time.time(), window=window)
    )
    worker = request.app.get(WORKER)
    running = worker is not None and worker.concurrency > 0 and worker.loops_alive()
    return web.json_response({"is_running": running, **found})


ROUTES = (WebRoute("GET", "/api/monitor/stats", stats),)
