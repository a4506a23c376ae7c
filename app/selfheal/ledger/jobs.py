"""The durable job queue kept in the ledger.

Statuses: ``queued`` -> ``running`` (leased by one worker until ``lease_expires_at``) ->
``done``, or back to ``queued`` with a backoff after a failure, or ``dead`` after
``max_attempts`` (the reason is kept in ``last_error``). A lease that expires (the worker
crashed or was killed) makes the job runnable again, so nothing is lost; the retake counts as
an attempt, so a job that kills its worker every time still ends up dead.

A ``key`` deduplicates: while a job with that key is queued or running, enqueueing it again
returns the existing job. A job kind may have a dead-letter hook (the
``hooks`` that :func:`lease` and :func:`fail` take, by kind): it runs in the same transaction
that marks a job of that kind dead,
whichever way it died (failed its last attempt, or its worker died mid-way through it), so a
follow-up it enqueues is never lost. Every function takes the writer's connection (run them through
``Ledger.write``/``awrite``); times are epoch seconds and can be injected for tests.
"""

from __future__ import annotations

import json
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from selfheal.ledger.db import from_row

STATUSES = ("queued", "running", "done", "dead")
MAX_ERROR_CHARS = 2000
DeadLetterHook = Callable[[sqlite3.Connection, "Job", str], object]
NO_HOOKS: Mapping[str, DeadLetterHook] = {}


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    key: str | None
    repository: str | None
    payload: dict[str, Any]
    status: str
    attempts: int
    max_attempts: int
    lease_owner: str | None
    lease_expires_at: float | None
    run_after: float
    last_error: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Job:
        return from_row(cls, row, payload=json.loads(row["payload"]))


def backoff_delay(
    attempts: int, base: float, maximum: float, rng: random.Random | None = None
) -> float:
    """Exponential backoff with jitter: base * 2**(attempts-1), capped, times 0.5..1.0."""
    delay = min(maximum, base * (2.0 ** max(0, attempts - 1)))
    jitter: float = (rng or random).random()
    return delay * (0.5 + jitter / 2)


def enqueue(
    conn: sqlite3.Connection,
    kind: str,
    payload: Mapping[str, Any] | None = None,
    *,
    key: str | None = None,
    repository: str | None = None,
    max_attempts: int = 5,
    run_after: float | None = None,
    now: float | None = None,
) -> tuple[int, bool]:
    """Add a job; returns (job id, created). An active job with the same key is reused."""
    now = time.time() if now is None else now
    if key is not None:
        row = conn.execute(
            "SELECT id FROM jobs WHERE key = ? AND status IN ('queued', 'running')", (key,)
        ).fetchone()
        if row is not None:
            return int(row["id"]), False
    cursor = conn.execute(
        "INSERT INTO jobs (kind, key, repository, payload, status, attempts, max_attempts,"
        " run_after, created_at, updated_at) VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?)",
        (
            kind,
            key,
            repository,
            json.dumps(dict(payload or {}), sort_keys=True),
            max_attempts,
            now if run_after is None else run_after,
            now,
            now,
        ),
    )
    return int(cursor.lastrowid or 0), True


def lease(
    conn: sqlite3.Connection,
    worker_id: str,
    lease_seconds: float,
    *,
    hooks: Mapping[str, DeadLetterHook] = NO_HOOKS,
    now: float | None = None,
) -> Job | None:
    """Take the oldest runnable job (queued and due, or running with an expired lease).
    A job whose last attempt's lease expired is dead-lettered, running its kind's hook."""
    now = time.time() if now is None else now
    while True:
        # Two indexed lookups rather than one OR: expired leases first (they are older).
        row = (
            conn.execute(
                "SELECT * FROM jobs WHERE status = 'running' AND lease_expires_at <= ?"
                " ORDER BY lease_expires_at LIMIT 1",
                (now,),
            ).fetchone()
            or conn.execute(
                "SELECT * FROM jobs WHERE status = 'queued' AND run_after <= ?"
                " ORDER BY run_after, id LIMIT 1",
                (now,),
            ).fetchone()
        )
        if row is None:
            return None
        if row["status"] == "running" and row["attempts"] >= row["max_attempts"]:
            _dead_letter(
                conn,
                row["id"],
                f"dead after {row['attempts']} attempts: lease expired "
                f"(worker {row['lease_owner']} stopped mid-job)",
                now,
                hooks,
            )
            continue
        conn.execute(
            "UPDATE jobs SET status = 'running', lease_owner = ?, lease_expires_at = ?,"
            " attempts = attempts + 1, started_at = ?, updated_at = ? WHERE id = ?",
            (worker_id, now + lease_seconds, now, now, row["id"]),
        )
        return get(conn, row["id"])


def heartbeat(
    conn: sqlite3.Connection,
    job_id: int,
    worker_id: str,
    lease_seconds: float,
    *,
    now: float | None = None,
) -> bool:
    """Extend a lease; False when the worker no longer holds it."""
    now = time.time() if now is None else now
    cursor = conn.execute(
        "UPDATE jobs SET lease_expires_at = ?, updated_at = ?"
        " WHERE id = ? AND lease_owner = ? AND status = 'running'",
        (now + lease_seconds, now, job_id, worker_id),
    )
    return cursor.rowcount == 1


def complete(
    conn: sqlite3.Connection, job_id: int, worker_id: str, *, now: float | None = None
) -> bool:
    """Mark a leased job done; False when the lease was lost (another worker has it)."""
    now = time.time() if now is None else now
    cursor = conn.execute(
        "UPDATE jobs SET status = 'done', lease_owner = NULL, lease_expires_at = NULL,"
        " finished_at = ?, updated_at = ? WHERE id = ? AND lease_owner = ? AND status = 'running'",
        (now, now, job_id, worker_id),
    )
    return cursor.rowcount == 1


def fail(
    conn: sqlite3.Connection,
    job_id: int,
    worker_id: str,
    error: str,
    *,
    backoff_base: float = 2.0,
    backoff_max: float = 600.0,
    retry: bool = True,
    hooks: Mapping[str, DeadLetterHook] = NO_HOOKS,
    now: float | None = None,
    rng: random.Random | None = None,
) -> str | None:
    """Record a failure: requeue with backoff, or dead-letter (running the kind's hook from
    ``hooks``). Returns the new status."""
    now = time.time() if now is None else now
    row = conn.execute(
        "SELECT attempts, max_attempts FROM jobs"
        " WHERE id = ? AND lease_owner = ? AND status = 'running'",
        (job_id, worker_id),
    ).fetchone()
    if row is None:
        return None
    error = error[:MAX_ERROR_CHARS]
    if not retry or row["attempts"] >= row["max_attempts"]:
        reason = error if not retry else f"dead after {row['attempts']} attempts: {error}"
        _dead_letter(conn, job_id, reason, now, hooks)
        return "dead"
    delay = backoff_delay(row["attempts"], backoff_base, backoff_max, rng)
    conn.execute(
        "UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL,"
        " run_after = ?, last_error = ?, updated_at = ? WHERE id = ?",
        (now + delay, error, now, job_id),
    )
    return "queued"


def _dead_letter(
    conn: sqlite3.Connection,
    job_id: int,
    reason: str,
    now: float,
    hooks: Mapping[str, DeadLetterHook],
) -> None:
    """Mark the job dead with ``reason``, then run its kind's hook in the same transaction."""
    conn.execute(
        "UPDATE jobs SET status = 'dead', lease_owner = NULL, lease_expires_at = NULL,"
        " last_error = ?, finished_at = ?, updated_at = ? WHERE id = ?",
        (reason[:MAX_ERROR_CHARS], now, now, job_id),
    )
    job = get(conn, job_id)
    assert job is not None  # every caller has just read this job
    hook = hooks.get(job.kind)
    if hook is None:
        return
    conn.execute("SAVEPOINT dead_letter_hook")
    try:
        hook(conn, job, str(job.last_error))
    except Exception:  # a broken hook must not keep the job alive: it stays dead, logged
        conn.execute("ROLLBACK TO dead_letter_hook")
        logging.getLogger(__name__).exception("dead-letter hook failed", extra={"job_id": job_id})
    conn.execute("RELEASE dead_letter_hook")


def requeue(conn: sqlite3.Connection, job_id: int, *, now: float | None = None) -> bool:
    """Give a dead job a fresh set of attempts (an operator's retry)."""
    now = time.time() if now is None else now
    cursor = conn.execute(
        "UPDATE jobs SET status = 'queued', attempts = 0, run_after = ?, updated_at = ?,"
        " finished_at = NULL WHERE id = ? AND status = 'dead'",
        (now, now, job_id),
    )
    return cursor.rowcount == 1


def get(conn: sqlite3.Connection, job_id: int) -> Job | None:
    row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return Job.from_row(row) if row is not None else None


def find(
    conn: sqlite3.Connection,
    *,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 100,
) -> list[Job]:
    """Jobs in id order, optionally filtered by status and kind."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("status", status), ("kind", kind)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"SELECT * FROM jobs{where} ORDER BY id LIMIT ?"  # noqa: S608 - fixed columns
    return [Job.from_row(r) for r in conn.execute(sql, (*params, limit))]


def depth(conn: sqlite3.Connection) -> dict[str, int]:
    """Number of jobs per status (every status present, zero when none)."""
    counts = dict.fromkeys(STATUSES, 0)
    for row in conn.execute("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status"):
        counts[row["status"]] = int(row["n"])
    return counts


def release(
    conn: sqlite3.Connection, job_id: int, worker_id: str, *, now: float | None = None
) -> bool:
    """Give a leased job back untouched (graceful shutdown): runnable now, attempt not counted."""
    now = time.time() if now is None else now
    cursor = conn.execute(
        "UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL,"
        " attempts = MAX(0, attempts - 1), run_after = ?, updated_at = ?"
        " WHERE id = ? AND lease_owner = ? AND status = 'running'",
        (now, now, job_id, worker_id),
    )
    return cursor.rowcount == 1


def oldest_due_age(conn: sqlite3.Connection, *, now: float | None = None) -> float:
    """Seconds the oldest runnable queued job has waited past its ``run_after`` (0 if none)."""
    now = time.time() if now is None else now
    row = conn.execute(
        "SELECT MIN(run_after) FROM jobs WHERE status = 'queued' AND run_after <= ?", (now,)
    ).fetchone()
    return 0.0 if row[0] is None else max(0.0, now - float(row[0]))
