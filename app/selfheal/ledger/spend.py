"""A request's model spend: one row per metered call (migration 6), the request's running
total, and an audit entry for each call, written in one transaction as the call is charged,
so a restart keeps every cent that was spent."""

from __future__ import annotations

import calendar
import math
import sqlite3
import time
from dataclasses import dataclass

from selfheal.ledger import audit
from selfheal.ledger.db import from_row


@dataclass(frozen=True)
class Call:
    request_id: str
    agent_id: str
    model: str
    input_tokens: int
    output_tokens: int
    cache_write_5m: int
    cache_write_1h: int
    cache_read: int
    cost_usd: float
    at: float


def record_call(conn: sqlite3.Connection, call: Call, *, actor: str = "selfheal") -> float:
    """Store ``call``, add its cost to the request, audit it; returns the request's total."""
    if not math.isfinite(call.cost_usd) or call.cost_usd < 0:
        raise ValueError(f"a call's cost must be a finite amount of at least 0: {call.cost_usd}")
    row = conn.execute(
        "SELECT repository, issue_number FROM requests WHERE id = ?", (call.request_id,)
    ).fetchone()
    if row is None:
        raise KeyError(call.request_id)
    conn.execute(
        "INSERT INTO request_calls (request_id, agent_id, model, input_tokens, output_tokens,"
        " cache_write_5m, cache_write_1h, cache_read, cost_usd, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (call.request_id, call.agent_id, call.model, call.input_tokens, call.output_tokens,
         call.cache_write_5m, call.cache_write_1h, call.cache_read, call.cost_usd,
         call.at or time.time()),
    )  # fmt: skip
    conn.execute(
        "UPDATE requests SET cost_usd = cost_usd + ? WHERE id = ?", (call.cost_usd, call.request_id)
    )
    total = float(
        conn.execute("SELECT cost_usd FROM requests WHERE id = ?", (call.request_id,)).fetchone()[0]
    )
    details = {"request": call.request_id, "agent": call.agent_id, "model": call.model,
               "cost_usd": round(call.cost_usd, 6), "total_usd": round(total, 6),
               "tokens": {"input": call.input_tokens, "output": call.output_tokens,
                          "cache_write_5m": call.cache_write_5m,
                          "cache_write_1h": call.cache_write_1h,
                          "cache_read": call.cache_read}}  # fmt: skip
    audit.append(conn, actor, "request.spend", repository=row["repository"],
                 request=row["issue_number"], details=details)  # fmt: skip
    return total


def calls(conn: sqlite3.Connection, request_id: str) -> list[Call]:
    rows = conn.execute(
        "SELECT request_id, agent_id, model, input_tokens, output_tokens, cache_write_5m,"
        " cache_write_1h, cache_read, cost_usd, at FROM request_calls WHERE request_id = ?"
        " ORDER BY id",
        (request_id,),
    ).fetchall()
    return [from_row(Call, r) for r in rows]


def total(conn: sqlite3.Connection, request_id: str) -> float:
    """The exact sum of the request's calls."""
    return math.fsum(c.cost_usd for c in calls(conn, request_id))


def month_of(now: float) -> tuple[str, float]:
    """The calendar month (UTC) that ``now`` falls in: its label (``2026-12``) and the epoch
    second it began."""
    t = time.gmtime(now)
    start = calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0, 0, 0, 0))
    return f"{t.tm_year:04d}-{t.tm_mon:02d}", float(start)


def repository_spend(conn: sqlite3.Connection, repository: str, since: float) -> float:
    """What the repository's requests spent since ``since``: every metered call (and every
    run's reported cost) charged from then on, whichever request it belongs to."""
    row = conn.execute(
        "SELECT COALESCE(SUM(c.cost_usd), 0) FROM request_calls c JOIN requests r"
        " ON r.id = c.request_id WHERE r.repository = ? COLLATE NOCASE AND c.at >= ?",
        (repository, since),
    ).fetchone()
    return float(row[0])
