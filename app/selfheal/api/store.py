"""The API's reads and writes in the ledger: the requests it filed, history and status.

A request filed through the API is in ``api_requests`` from the moment its issue exists (its
id, the token's name and the caller's ``requester_id``); the request job then records the
request itself in ``requests`` under the same id. Until it does, the request reads as
``received``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from selfheal.ledger import audit, gates, requests

# What a filed request shows as its budget until the request job records the request with
# its own (the ledger's default for a new request).
DEFAULT_BUDGET = 5.0


@dataclass(frozen=True)
class Filed:
    id: str
    repository: str
    issue_number: int
    token: str
    requester_id: str | None
    change_type: str
    priority: int
    agent_id: str | None
    budget_usd: float


def record_filed(conn: sqlite3.Connection, filed: Filed, now: float | None = None) -> None:
    conn.execute(
        "INSERT INTO api_requests (id, repository, issue_number, token, requester_id,"
        " change_type, priority, agent_id, budget_usd, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (filed.id, filed.repository, filed.issue_number, filed.token, filed.requester_id,
         filed.change_type, filed.priority, filed.agent_id, filed.budget_usd,
         time.time() if now is None else now),
    )  # fmt: skip


def filed(conn: sqlite3.Connection, request_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT * FROM api_requests WHERE id = ?", (request_id,)).fetchone()
    return None if row is None else dict(row)


# Every request, with what the API knows of it: those the request job recorded (joined with
# the API's row when the API filed it), and those the API filed that the job has not yet read.
_ALL = """
SELECT r.id, r.repository, r.issue_number, r.state, r.requester, a.requester_id,
       r.change_type, r.priority, r.agent_id, r.cost_usd, r.budget_usd, r.created_at
  FROM requests r LEFT JOIN api_requests a ON a.id = r.id
UNION ALL
SELECT a.id, a.repository, a.issue_number, 'received', 'api:' || a.token, a.requester_id,
       a.change_type, a.priority, a.agent_id, 0.0, a.budget_usd, a.created_at
  FROM api_requests a WHERE NOT EXISTS (SELECT 1 FROM requests r WHERE r.id = a.id)
"""


@dataclass(frozen=True)
class HistoryQuery:
    repositories: Sequence[str]
    requester: str | None = None
    agent_id: str | None = None
    state: str | None = None
    since: float | None = None
    limit: int = 50
    offset: int = 0


def history(conn: sqlite3.Connection, query: HistoryQuery) -> list[dict[str, Any]]:
    """Requests in the given repositories, newest first, filtered and paginated."""
    marks = ", ".join("?" * len(query.repositories))
    where = [f"lower(repository) IN ({marks})"]
    args: list[Any] = [r.lower() for r in query.repositories]
    if query.requester is not None:
        where.append("(requester_id = ? OR requester = ?)")
        args += [query.requester, query.requester]
    for clause, value in (("agent_id = ?", query.agent_id), ("state = ?", query.state),
                          ("created_at >= ?", query.since)):  # fmt: skip
        if value is not None:
            where.append(clause)
            args.append(value)
    sql = (f"SELECT * FROM ({_ALL}) WHERE {' AND '.join(where)}"  # noqa: S608 (fixed clauses)
           " ORDER BY created_at DESC, id LIMIT ? OFFSET ?")  # fmt: skip
    return [dict(r) for r in conn.execute(sql, (*args, query.limit, query.offset))]


def summary(conn: sqlite3.Connection, request_id: str) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT * FROM ({_ALL}) WHERE id = ?", (request_id,)).fetchone()  # noqa: S608
    return None if row is None else dict(row)


def timeline(conn: sqlite3.Connection, repository: str, issue_number: int) -> list[dict[str, Any]]:
    """The request's audit entries, oldest first."""
    found = audit.entries(conn, repository=repository, request=issue_number, limit=500)
    return [
        {"at": e.ts, "actor": e.actor, "action": e.action, "details": dict(e.details or {})}
        for e in reversed(found)
    ]


def details(conn: sqlite3.Connection, request_id: str) -> dict[str, Any] | None:
    """The summary plus the PR, branch, gate, targets and timeline (None: unknown id)."""
    base = summary(conn, request_id)
    if base is None:
        return None
    request = requests.get(conn, request_id)
    gate = None
    if request is not None and request.head_sha:
        run = gates.latest_gate_run(conn, request.repository, request.head_sha)
        if run is not None:
            gate = {"status": run.status, "conclusion": run.conclusion, "risk": run.risk}
    return {
        **base,
        "pr_number": None if request is None else request.pr_number,
        "branch": None if request is None else request.branch,
        "targets": [] if request is None else list(request.targets),
        "updated_at": base["created_at"] if request is None else request.updated_at,
        "gate": gate,
        "timeline": timeline(conn, base["repository"], base["issue_number"]),
    }


def stats(conn: sqlite3.Connection, repositories: Sequence[str]) -> dict[str, Any]:
    """Gate conclusions and request states in ``repositories``."""
    marks = ", ".join("?" * len(repositories))
    lowered = [r.lower() for r in repositories]
    gate_rows = conn.execute(
        "SELECT COALESCE(conclusion, status), COUNT(*) FROM gate_runs"  # noqa: S608
        f" WHERE lower(repository) IN ({marks}) GROUP BY 1",
        lowered,
    ).fetchall()
    request_rows = conn.execute(
        f"SELECT state, COUNT(*) FROM ({_ALL}) WHERE lower(repository) IN ({marks})"  # noqa: S608
        " GROUP BY state",
        lowered,
    ).fetchall()
    return {
        "gate_runs": {str(r[0]): int(r[1]) for r in gate_rows},
        "requests": {str(r[0]): int(r[1]) for r in request_rows},
        "repositories": list(repositories),
    }
