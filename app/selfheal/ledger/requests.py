"""Change requests: one row per request, and every state change it went through.

A request is keyed by a stable id that is not a guessable sequence number (``req_`` and 16
random URL-safe characters) and is unique per (repository, issue). Its state changes only
through :func:`move`, which checks the state it moves from (two workers racing on one
request cannot both move it), records the transition, and appends an audit entry with the
actor, the reason and the cost so far, all in one transaction. The states themselves are the
request state machine's (``selfheal.changes``); this module stores them as text.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from selfheal.ledger import audit
from selfheal.ledger.db import from_row

ID_PREFIX = "req_"
UPDATABLE = frozenset(
    {
        "branch",
        "pr_number",
        "head_sha",
        "budget_usd",
        "agent_id",
        "priority",
        "change_type",
        "targets",
        "data",
    }
)


class StaleState(Exception):
    """The request was not in the state the caller moved it from (someone else moved it)."""


@dataclass(frozen=True)
class Request:
    id: str
    repository: str
    issue_number: int
    state: str
    requester: str
    source: str
    change_type: str
    priority: int
    agent_id: str | None
    targets: tuple[str, ...]
    branch: str | None
    pr_number: int | None
    head_sha: str | None
    cost_usd: float
    budget_usd: float
    created_at: float
    updated_at: float
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Transition:
    request_id: str
    from_state: str | None
    to_state: str
    event: str
    actor: str
    reason: str
    cost_usd: float
    at: float


def _request(row: sqlite3.Row) -> Request:
    return from_row(
        Request, row, targets=tuple(json.loads(row["targets"])), data=json.loads(row["data"])
    )


def new_id() -> str:
    return ID_PREFIX + secrets.token_urlsafe(12)


def create_request(
    conn: sqlite3.Connection,
    repository: str,
    issue_number: int,
    *,
    requester: str,
    source: str = "issue",
    change_type: str = "fix-bug",
    priority: int = 5,
    agent_id: str | None = None,
    targets: Sequence[str] = (),
    budget_usd: float = 5.0,
    state: str = "received",
    now: float | None = None,
    request_id: str | None = None,
) -> tuple[Request, bool]:
    """The request of (repository, issue), created in ``state`` when there is none yet;
    returns it and whether it was created (a redelivered event finds the existing one).
    ``request_id``: the id given in advance (the API's), used unless another request has it."""
    found = find_by_issue(conn, repository, issue_number)
    if found is not None:
        return found, False
    now = time.time() if now is None else now
    if request_id is None or get(conn, request_id) is not None:
        request_id = new_id()
    conn.execute(
        "INSERT INTO requests (id, repository, issue_number, state, requester, source,"
        " change_type, priority, agent_id, targets, budget_usd, cost_usd, data, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '{}', ?, ?)",
        (request_id, repository, issue_number, state, requester, source, change_type, priority,
         agent_id, json.dumps(list(targets)), budget_usd, now, now),
    )  # fmt: skip
    conn.execute(
        "INSERT INTO request_transitions (request_id, from_state, to_state, event, actor,"
        " reason, cost_usd, at) VALUES (?, NULL, ?, 'created', ?, '', 0, ?)",
        (request_id, state, requester, now),
    )
    audit.append(conn, requester, "request.created", repository=repository,
                 request=issue_number, details={"request": request_id, "state": state,
                                                "source": source})  # fmt: skip
    created = get(conn, request_id)
    assert created is not None
    return created, True


def get(conn: sqlite3.Connection, request_id: str) -> Request | None:
    row = conn.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone()
    return None if row is None else _request(row)


def find_by_issue(conn: sqlite3.Connection, repository: str, issue_number: int) -> Request | None:
    row = conn.execute(
        "SELECT * FROM requests WHERE repository = ? COLLATE NOCASE AND issue_number = ?",
        (repository, issue_number),
    ).fetchone()
    return None if row is None else _request(row)


def find_by_pr(conn: sqlite3.Connection, repository: str, pr_number: int) -> Request | None:
    """The request whose pull request is ``pr_number``, if any."""
    row = conn.execute(
        "SELECT * FROM requests WHERE repository = ? COLLATE NOCASE AND pr_number = ?",
        (repository, pr_number),
    ).fetchone()
    return None if row is None else _request(row)


def find_by_revert_pr(conn: sqlite3.Connection, repository: str, pr_number: int) -> Request | None:
    """The request whose revert pull request (``data.revert.pr``) is ``pr_number``, if any."""
    row = conn.execute(
        "SELECT * FROM requests WHERE repository = ? COLLATE NOCASE"
        " AND json_extract(data, '$.revert.pr') = ?",
        (repository, pr_number),
    ).fetchone()
    return None if row is None else _request(row)


def move(
    conn: sqlite3.Connection,
    request_id: str,
    from_state: str,
    to_state: str,
    *,
    event: str,
    actor: str,
    reason: str = "",
    now: float | None = None,
) -> Request:
    """Move the request from ``from_state`` to ``to_state`` (raises :class:`StaleState` when
    it is no longer in ``from_state``), record the transition and audit it."""
    now = time.time() if now is None else now
    moved = conn.execute(
        "UPDATE requests SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
        (to_state, now, request_id, from_state),
    ).rowcount
    request = get(conn, request_id)
    if not moved or request is None:
        actual = "missing" if request is None else request.state
        raise StaleState(f"request {request_id} is {actual}, not {from_state}")
    conn.execute(
        "INSERT INTO request_transitions (request_id, from_state, to_state, event, actor,"
        " reason, cost_usd, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (request_id, from_state, to_state, event, actor, reason, request.cost_usd, now),
    )
    details = {"request": request_id, "from": from_state, "to": to_state, "event": event,
               "reason": reason, "cost_usd": round(request.cost_usd, 6)}  # fmt: skip
    audit.append(conn, actor, "request.state", repository=request.repository,
                 request=request.issue_number, details=details)  # fmt: skip
    return request


def update(conn: sqlite3.Connection, request_id: str, **fields: Any) -> Request:
    """Set the request's branch, PR, head, budget, agent, priority, type, targets or data."""
    unknown = set(fields) - UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
    values = {k: json.dumps(list(v) if k == "targets" else v) if k in ("targets", "data") else v
              for k, v in fields.items()}  # fmt: skip
    assignments = ", ".join(f"{name} = ?" for name in values)
    conn.execute(
        f"UPDATE requests SET {assignments}, updated_at = ? WHERE id = ?",  # noqa: S608 (names are checked)
        (*values.values(), time.time(), request_id),
    )
    request = get(conn, request_id)
    if request is None:
        raise KeyError(request_id)
    return request


def add_cost(conn: sqlite3.Connection, request_id: str, usd: float) -> float:
    """Add ``usd`` to the request's spend; returns the new total."""
    if usd < 0:
        raise ValueError("a cost cannot be negative")
    conn.execute("UPDATE requests SET cost_usd = cost_usd + ? WHERE id = ?", (usd, request_id))
    row = conn.execute("SELECT cost_usd FROM requests WHERE id = ?", (request_id,)).fetchone()
    if row is None:
        raise KeyError(request_id)
    return float(row[0])


def transitions(conn: sqlite3.Connection, request_id: str) -> list[Transition]:
    rows = conn.execute(
        "SELECT request_id, from_state, to_state, event, actor, reason, cost_usd, at"
        " FROM request_transitions WHERE request_id = ? ORDER BY id",
        (request_id,),
    ).fetchall()
    return [from_row(Transition, row) for row in rows]


def find(
    conn: sqlite3.Connection,
    *,
    repository: str | None = None,
    states: Sequence[str] = (),
    requester: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Request]:
    """Requests, newest first, filtered by repository, state and requester."""
    where: list[str] = []
    args: list[Any] = []
    filters: Mapping[str, Any] = {"repository = ? COLLATE NOCASE": repository,
                                  "requester = ?": requester}  # fmt: skip
    for clause, value in filters.items():
        if value is not None:
            where.append(clause)
            args.append(value)
    if states:
        where.append(f"state IN ({', '.join('?' * len(states))})")
        args.extend(states)
    sql = "SELECT * FROM requests"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY created_at DESC, id LIMIT ? OFFSET ?"
    return [_request(r) for r in conn.execute(sql, (*args, limit, offset)).fetchall()]


def opened_since(conn: sqlite3.Connection, repository: str, since: float) -> list[float]:
    """When the requests of ``repository`` went to gating (their PR was opened) since
    ``since``: the hourly PR limit counts these."""
    rows = conn.execute(
        "SELECT t.at FROM request_transitions t JOIN requests r ON r.id = t.request_id"
        " WHERE r.repository = ? COLLATE NOCASE AND t.to_state = 'gating' AND t.at > ?"
        " ORDER BY t.at",
        (repository, since),
    ).fetchall()
    return [float(row[0]) for row in rows]
