"""Where ``POST /api/monitor/events`` hands the failure events it accepted.

:class:`EventSink` is the whole interface: ``await sink.record(events, reporter=...)`` takes
validated event objects (the fields of the API's ``Event`` schema) and the name of the token
that reported them, and returns how many it recorded. The monitor feature provides its own
sink (grouping, thresholds), wired in by the registry; without it, :class:`LedgerSink` stores
the events in the ledger's ``monitor_events`` table (migration 7), one row per event with its
JSON. A sink raises ``ValueError`` for events it will not take; the API answers 422.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from aiohttp import web

from selfheal.ledger import Ledger
from selfheal.runtime.server import LEDGER

Event = Mapping[str, Any]


class EventSink(Protocol):
    async def record(self, events: Sequence[Event], *, reporter: str) -> int: ...


# Builds the sink from the server's application (its ledger, settings and worker), once,
# while the server builds it.
SinkFactory = Callable[[web.Application], EventSink]


def _insert(conn: sqlite3.Connection, events: Sequence[Event], reporter: str, now: float) -> int:
    rows = [
        (reporter, str(e["source"]), e.get("repository"), e.get("agent_id"), e.get("error_type"),
         e.get("severity"), json.dumps(dict(e), sort_keys=True), now)
        for e in events
    ]  # fmt: skip
    conn.executemany(
        "INSERT INTO monitor_events (reporter, source, repository, agent_id, error_type,"
        " severity, event, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


class LedgerSink:
    """The default sink: the events, as given, in the ledger's ``monitor_events`` table."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def record(self, events: Sequence[Event], *, reporter: str) -> int:
        now = time.time()
        return await self.ledger.awrite(lambda c: _insert(c, events, reporter, now))


def ledger_sink(app: web.Application) -> LedgerSink:
    return LedgerSink(app[LEDGER])


def stored_events(conn: sqlite3.Connection, limit: int = 1000) -> list[dict[str, Any]]:
    """The stored events, oldest first, each with ``reporter`` and ``received_at`` added."""
    rows = conn.execute(
        "SELECT reporter, event, received_at FROM monitor_events ORDER BY id LIMIT ?", (limit,)
    ).fetchall()
    return [
        {**json.loads(r["event"]), "reporter": r["reporter"], "received_at": r["received_at"]}
        for r in rows
    ]
