"""Idempotency records for side effects on GitHub.

Before a job creates something on GitHub (a check run, a comment, a label, a PR) it looks up
an effect key such as ``check_run:owner/name:<head_sha>``; after creating it, it records the
GitHub id. A job that runs again after a crash finds the record and reuses the object instead
of creating a duplicate. :func:`record_effect` never overwrites: the first record wins and is
returned, so two racing writers agree on one object.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from selfheal.ledger.db import from_row


@dataclass(frozen=True)
class Effect:
    key: str
    kind: str
    github_id: str | None
    job_id: int | None
    data: dict[str, Any]
    created_at: float


def _from_row(row: sqlite3.Row) -> Effect:
    return from_row(Effect, row, data=json.loads(row["data"]))


def get_effect(conn: sqlite3.Connection, key: str) -> Effect | None:
    row = conn.execute("SELECT * FROM effects WHERE key = ?", (key,)).fetchone()
    return _from_row(row) if row is not None else None


def record_effect(
    conn: sqlite3.Connection,
    key: str,
    kind: str,
    github_id: str | int | None,
    *,
    job_id: int | None = None,
    data: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> Effect:
    """Record that ``key`` produced GitHub object ``github_id``; returns the stored record."""
    conn.execute(
        "INSERT OR IGNORE INTO effects (key, kind, github_id, job_id, data, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (
            key,
            kind,
            None if github_id is None else str(github_id),
            job_id,
            json.dumps(dict(data or {}), sort_keys=True),
            time.time() if now is None else now,
        ),
    )
    effect = get_effect(conn, key)
    assert effect is not None
    return effect


def claim_effect(conn: sqlite3.Connection, key: str, kind: str) -> bool:
    """Record ``key`` if nobody has yet; True for the one caller that recorded it (two jobs
    racing to say something once: only the claimant says it)."""
    return (
        conn.execute(
            "INSERT OR IGNORE INTO effects (key, kind, github_id, job_id, data, created_at)"
            " VALUES (?, ?, NULL, NULL, '{}', ?)",
            (key, kind, time.time()),
        ).rowcount
        == 1
    )


def forget_effect(conn: sqlite3.Connection, key: str) -> bool:
    """Drop a record whose GitHub object is gone (e.g. a deleted comment)."""
    return conn.execute("DELETE FROM effects WHERE key = ?", (key,)).rowcount == 1
