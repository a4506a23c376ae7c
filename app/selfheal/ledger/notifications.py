"""The notification outbox: one row per (event, target), and every delivery attempt.

The body is stored as it was signed, so a retry sends the same bytes. The target URL is not
stored (webhook URLs often carry a secret in their path); the row keeps a short hash of it,
and the sender looks the URL up among the operator's configured targets, and the shown form
(scheme and host) for people.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from dataclasses import dataclass

from selfheal.ledger.db import from_row

STATUSES = ("pending", "delivered", "failed")


@dataclass(frozen=True)
class Outgoing:
    id: str
    event: str
    repository: str
    target_key: str
    target_shown: str
    body: bytes
    status: str
    attempts: int
    last_error: str
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class Attempt:
    notification_id: str
    at: float
    status_code: int | None
    error: str
    seconds: float


def new_id() -> str:
    return "ntf_" + secrets.token_hex(8)


def add(
    conn: sqlite3.Connection,
    event: str,
    repository: str,
    target_key: str,
    target_shown: str,
    body: bytes,
    *,
    notification_id: str | None = None,
    now: float | None = None,
) -> Outgoing:
    at = time.time() if now is None else now
    nid = notification_id or new_id()
    conn.execute(
        "INSERT INTO notifications (id, event, repository, target_key, target_shown, body,"
        " status, attempts, last_error, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, '', ?, ?)",
        (nid, event, repository, target_key, target_shown, body, at, at),
    )
    found = get(conn, nid)
    assert found is not None
    return found


def get(conn: sqlite3.Connection, notification_id: str) -> Outgoing | None:
    row = conn.execute("SELECT * FROM notifications WHERE id = ?", (notification_id,)).fetchone()
    return None if row is None else from_row(Outgoing, row, body=bytes(row["body"]))


def record_attempt(
    conn: sqlite3.Connection,
    notification_id: str,
    *,
    status_code: int | None,
    error: str,
    seconds: float,
    delivered: bool,
    final: bool = False,
) -> None:
    """One attempt; ``delivered`` ends the row as delivered, ``final`` as failed."""
    at = time.time()
    conn.execute(
        "INSERT INTO notification_attempts (notification_id, at, status_code, error, seconds)"
        " VALUES (?, ?, ?, ?, ?)",
        (notification_id, at, status_code, error[:500], seconds),
    )
    status = "delivered" if delivered else ("failed" if final else "pending")
    conn.execute(
        "UPDATE notifications SET attempts = attempts + 1, status = ?, last_error = ?,"
        " updated_at = ? WHERE id = ?",
        (status, "" if delivered else error[:500], at, notification_id),
    )


def mark_failed(conn: sqlite3.Connection, notification_id: str, error: str) -> None:
    conn.execute(
        "UPDATE notifications SET status = 'failed', last_error = ?, updated_at = ?"
        " WHERE id = ? AND status = 'pending'",
        (error[:500], time.time(), notification_id),
    )


def attempts(conn: sqlite3.Connection, notification_id: str) -> list[Attempt]:
    rows = conn.execute(
        "SELECT notification_id, at, status_code, error, seconds FROM notification_attempts"
        " WHERE notification_id = ? ORDER BY id",
        (notification_id,),
    ).fetchall()
    return [from_row(Attempt, row) for row in rows]


def recent(
    conn: sqlite3.Connection, *, repository: str | None = None, limit: int = 100
) -> list[Outgoing]:
    sql = "SELECT * FROM notifications"
    args: list[object] = []
    if repository is not None:
        sql += " WHERE repository = ? COLLATE NOCASE"
        args.append(repository)
    sql += " ORDER BY created_at DESC, id LIMIT ?"
    rows = conn.execute(sql, (*args, limit)).fetchall()
    return [from_row(Outgoing, row, body=bytes(row["body"])) for row in rows]
