"""Webhook deliveries as received: one row per ``X-GitHub-Delivery`` id.

The intake records a delivery and enqueues its ``webhook`` job in the same transaction
(:func:`accept_delivery`), so a delivery is either fully accepted or not at all, and a
redelivered id is recognised as a duplicate.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from selfheal.ledger import jobs
from selfheal.ledger.db import from_row

WEBHOOK_JOB = "webhook"
MAX_SQLITE_INT = 2**63 - 1


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    event: str
    action: str | None
    installation_id: int | None
    repository: str | None
    received_at: float
    payload: str
    outcome: str

    def data(self) -> Any:
        return json.loads(self.payload)


def is_row_id(value: Any) -> bool:
    """A positive int SQLite can store (not a bool, not a 30-digit number from a hostile body)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_SQLITE_INT


def summarize(payload: Any) -> tuple[str | None, int | None, str | None]:
    """(action, installation id, repository full name) from a webhook payload."""
    if not isinstance(payload, dict):
        return None, None, None
    action = payload.get("action")
    installation = payload.get("installation")
    repository = payload.get("repository")
    inst_id = installation.get("id") if isinstance(installation, dict) else None
    full_name = repository.get("full_name") if isinstance(repository, dict) else None
    return (
        action if isinstance(action, str) else None,
        inst_id if is_row_id(inst_id) else None,
        full_name if isinstance(full_name, str) else None,
    )


def accept_delivery(
    conn: sqlite3.Connection,
    delivery_id: str,
    event: str,
    payload_text: str,
    payload: Any,
    *,
    max_attempts: int = 5,
    now: float | None = None,
) -> int | None:
    """Record a delivery and enqueue its job; returns the job id, or None for a duplicate."""
    now = time.time() if now is None else now
    action, installation_id, repository = summarize(payload)
    cursor = conn.execute(
        "INSERT OR IGNORE INTO deliveries (delivery_id, event, action, installation_id,"
        " repository, received_at, payload, outcome) VALUES (?, ?, ?, ?, ?, ?, '', 'queued')",
        (delivery_id, event, action, installation_id, repository, now),
    )
    if cursor.rowcount != 1:
        return None
    conn.execute(
        "INSERT INTO delivery_payloads (delivery_id, payload) VALUES (?, ?)",
        (delivery_id, payload_text),
    )
    job_id, _ = jobs.enqueue(
        conn,
        WEBHOOK_JOB,
        {"delivery_id": delivery_id},
        key=f"delivery:{delivery_id}",
        repository=repository,
        max_attempts=max_attempts,
        now=now,
    )
    return job_id


def get_delivery(conn: sqlite3.Connection, delivery_id: str) -> Delivery | None:
    row = conn.execute(
        "SELECT d.*, p.payload AS stored_payload FROM deliveries d"
        " LEFT JOIN delivery_payloads p USING (delivery_id) WHERE d.delivery_id = ?",
        (delivery_id,),
    ).fetchone()
    if row is None:
        return None
    return from_row(Delivery, row, payload=row["stored_payload"] or row["payload"])


def set_outcome(
    conn: sqlite3.Connection, delivery_id: str, outcome: str, *, now: float | None = None
) -> None:
    conn.execute(
        "UPDATE deliveries SET outcome = ?, processed_at = ? WHERE delivery_id = ?",
        (outcome, time.time() if now is None else now, delivery_id),
    )


def count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0])
