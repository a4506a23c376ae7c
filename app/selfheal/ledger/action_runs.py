"""Dispatched Actions runs as their ``workflow_run`` and ``workflow_job`` webhooks report them.

The ``actions`` executor follows the run it dispatched here: the webhook handlers record each
status change, the executor reads it (and asks the REST API only now and then, in case a
delivery was lost). Only runs started by ``workflow_dispatch`` are kept.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from selfheal.ledger.db import from_row

ORDER = {"requested": 0, "queued": 1, "waiting": 1, "pending": 1, "in_progress": 2, "completed": 3}


@dataclass(frozen=True)
class ActionRun:
    run_id: int
    repository: str
    path: str
    status: str
    conclusion: str | None
    jobs: dict[str, Any]  # job name -> {"status", "conclusion"}
    updated_at: float


def get(conn: sqlite3.Connection, run_id: int) -> ActionRun | None:
    row = conn.execute("SELECT * FROM action_runs WHERE run_id = ?", (run_id,)).fetchone()
    return from_row(ActionRun, row, jobs=json.loads(row["jobs"])) if row is not None else None


def record_run(
    conn: sqlite3.Connection,
    run_id: int,
    repository: str,
    path: str,
    status: str,
    conclusion: str | None,
    *,
    now: float | None = None,
) -> ActionRun | None:
    """Record a run's status; a late delivery never moves a run back (completed stays)."""
    now = time.time() if now is None else now
    current = get(conn, run_id)
    if current is not None and ORDER.get(current.status, 0) > ORDER.get(status, 0):
        return current
    conn.execute(
        "INSERT INTO action_runs (run_id, repository, path, status, conclusion, jobs, updated_at)"
        " VALUES (?, ?, ?, ?, ?, '{}', ?) ON CONFLICT(run_id) DO UPDATE SET"
        " status = excluded.status, conclusion = excluded.conclusion,"
        " updated_at = excluded.updated_at",
        (run_id, repository, path, status, conclusion, now),
    )
    return get(conn, run_id)


def record_job(
    conn: sqlite3.Connection, run_id: int, name: str, status: str, conclusion: str | None
) -> None:
    """Record a job of a run already recorded (jobs of other runs are not kept)."""
    current = get(conn, run_id)
    if current is None:
        return
    old = current.jobs.get(name, {}).get("status", "")
    if ORDER.get(str(old), 0) > ORDER.get(status, 0):
        return
    jobs = {**current.jobs, name: {"status": status, "conclusion": conclusion}}
    conn.execute(
        "UPDATE action_runs SET jobs = ?, updated_at = ? WHERE run_id = ?",
        (json.dumps(jobs, sort_keys=True), time.time(), run_id),
    )
