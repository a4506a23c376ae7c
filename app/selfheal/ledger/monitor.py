"""The monitor's tables: fingerprints, their occurrences, filings, the schedule and its state.

A fingerprint row is unique per (repository, fingerprint) and keeps a representative event
(the first one seen), the counts, and what is known of its issue. An occurrence is one
distinct run of a fingerprint (``PRIMARY KEY (fingerprint_id, run)``), so a run reported
twice counts once. ``dirty`` marks a fingerprint whose issue has occurrences it does not show
yet: the ingestion queues one sync job when it sets the flag, and the job clears it, so a
burst of reports costs one GitHub edit, not one per report.

The schedule keeps one row per scheduled task with its next run time: :func:`claim_slot`
moves it forward in the same transaction that hands the slot out, so two workers (or a
restarted one) never run the same slot twice.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from selfheal.ledger.db import from_row


@dataclass(frozen=True)
class Tracked:
    id: int
    repository: str
    fingerprint: str
    identity: str
    signature: str
    sample: dict[str, Any]
    immediate: bool
    first_seen: float
    last_seen: float
    total: int
    dirty: bool
    issue_number: int | None
    issue_state: str  # none, open or closed
    closed_at: float | None
    filed_at: float | None
    attempts: int


def _tracked(row: sqlite3.Row) -> Tracked:
    return from_row(
        Tracked, row, sample=json.loads(row["sample"]), immediate=bool(row["immediate"]),
        dirty=bool(row["dirty"]),
    )  # fmt: skip


def upsert(
    conn: sqlite3.Connection,
    repository: str,
    fingerprint: str,
    *,
    identity: str,
    signature: str,
    sample: dict[str, Any],
    immediate: bool,
    at: float,
) -> int:
    """The fingerprint's row id, created with ``sample`` as its representative event."""
    row = conn.execute(
        "SELECT id FROM monitor_fingerprints WHERE repository = ? COLLATE NOCASE"
        " AND fingerprint = ?",
        (repository, fingerprint),
    ).fetchone()
    if row is not None:
        if immediate:
            conn.execute("UPDATE monitor_fingerprints SET immediate = 1 WHERE id = ?", (row[0],))
        return int(row[0])
    cursor = conn.execute(
        "INSERT INTO monitor_fingerprints (repository, fingerprint, identity, signature, sample,"
        " immediate, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (repository, fingerprint, identity, signature, json.dumps(sample, sort_keys=True),
         int(immediate), at, at),
    )  # fmt: skip
    return int(cursor.lastrowid or 0)


def add_occurrence(
    conn: sqlite3.Connection,
    fingerprint_id: int,
    run: str,
    *,
    at: float,
    source: str,
    commit: str | None = None,
    reporter: str | None = None,
) -> bool:
    """Record one run of the fingerprint; False when this run was counted already."""
    cursor = conn.execute(
        "INSERT OR IGNORE INTO monitor_occurrences (fingerprint_id, run, at, source, commit_sha,"
        " reporter) VALUES (?, ?, ?, ?, ?, ?)",
        (fingerprint_id, run, at, source, commit, reporter),
    )
    if cursor.rowcount == 0:
        return False
    conn.execute(
        "UPDATE monitor_fingerprints SET total = total + 1, last_seen = MAX(last_seen, ?)"
        " WHERE id = ?",
        (at, fingerprint_id),
    )
    return True


def count_since(conn: sqlite3.Connection, fingerprint_id: int, since: float) -> int:
    row = conn.execute(
        "SELECT COUNT(*) FROM monitor_occurrences WHERE fingerprint_id = ? AND at >= ?",
        (fingerprint_id, since),
    ).fetchone()
    return int(row[0])


def mark_dirty(conn: sqlite3.Connection, fingerprint_id: int) -> bool:
    """Flag the fingerprint for a sync; True when it was not flagged (queue a job then)."""
    cursor = conn.execute(
        "UPDATE monitor_fingerprints SET dirty = 1 WHERE id = ? AND dirty = 0", (fingerprint_id,)
    )
    return cursor.rowcount == 1


def take(conn: sqlite3.Connection, fingerprint_id: int) -> Tracked | None:
    """The fingerprint for a sync job, its flag cleared (later reports set it again)."""
    conn.execute("UPDATE monitor_fingerprints SET dirty = 0 WHERE id = ?", (fingerprint_id,))
    return get_by_id(conn, fingerprint_id)


def get_by_id(conn: sqlite3.Connection, fingerprint_id: int) -> Tracked | None:
    row = conn.execute(
        "SELECT * FROM monitor_fingerprints WHERE id = ?", (fingerprint_id,)
    ).fetchone()
    return None if row is None else _tracked(row)


def get(conn: sqlite3.Connection, repository: str, fingerprint: str) -> Tracked | None:
    row = conn.execute(
        "SELECT * FROM monitor_fingerprints WHERE repository = ? COLLATE NOCASE"
        " AND fingerprint = ?",
        (repository, fingerprint),
    ).fetchone()
    return None if row is None else _tracked(row)


def by_issue(conn: sqlite3.Connection, repository: str, issue_number: int) -> Tracked | None:
    row = conn.execute(
        "SELECT * FROM monitor_fingerprints WHERE repository = ? COLLATE NOCASE"
        " AND issue_number = ?",
        (repository, issue_number),
    ).fetchone()
    return None if row is None else _tracked(row)


@dataclass(frozen=True)
class Occurrence:
    run: str
    at: float
    source: str
    commit_sha: str | None
    reporter: str | None


def occurrences(
    conn: sqlite3.Connection, fingerprint_id: int, *, since: float = 0.0, limit: int = 10
) -> list[Occurrence]:
    """The latest occurrences, newest first."""
    rows = conn.execute(
        "SELECT run, at, source, commit_sha, reporter FROM monitor_occurrences"
        " WHERE fingerprint_id = ? AND at >= ? ORDER BY at DESC LIMIT ?",
        (fingerprint_id, since, limit),
    ).fetchall()
    return [from_row(Occurrence, row) for row in rows]


def set_issue(
    conn: sqlite3.Connection,
    fingerprint_id: int,
    *,
    issue_number: int,
    state: str,
    closed_at: float | None = None,
    attempt: bool = False,
    now: float | None = None,
) -> None:
    """What the monitor knows of the fingerprint's issue; ``attempt``: this filed or reopened
    it (a fix attempt, counted against the hourly cap)."""
    at = time.time() if now is None else now
    conn.execute(
        "UPDATE monitor_fingerprints SET issue_number = ?, issue_state = ?, closed_at = ?,"
        " attempts = attempts + ?, filed_at = CASE WHEN ? THEN ? ELSE filed_at END"
        " WHERE id = ?",
        (issue_number, state, closed_at, int(attempt), int(attempt), at, fingerprint_id),
    )
    if attempt:
        row = conn.execute(
            "SELECT repository, fingerprint FROM monitor_fingerprints WHERE id = ?",
            (fingerprint_id,),
        ).fetchone()
        conn.execute(
            "INSERT INTO monitor_filings (repository, fingerprint, issue_number, at)"
            " VALUES (?, ?, ?, ?)",
            (row["repository"], row["fingerprint"], issue_number, at),
        )


def filed_since(conn: sqlite3.Connection, repository: str, since: float) -> int:
    row = conn.execute(
        "SELECT COUNT(*) FROM monitor_filings WHERE repository = ? COLLATE NOCASE AND at >= ?",
        (repository, since),
    ).fetchone()
    return int(row[0])


def listing(
    conn: sqlite3.Connection, repository: str | None = None, limit: int = 200
) -> list[Tracked]:
    """Fingerprints, the most recently seen first."""
    rows = conn.execute(
        "SELECT * FROM monitor_fingerprints WHERE ? IS NULL OR repository = ? COLLATE NOCASE"
        " ORDER BY last_seen DESC, id DESC LIMIT ?",
        (repository, repository, limit),
    ).fetchall()
    return [_tracked(row) for row in rows]


@dataclass(frozen=True)
class Failing:
    """A fingerprint and its occurrences since the start of a window."""

    tracked: Tracked
    recent: int


def top_failing(
    conn: sqlite3.Connection, repository: str, *, since: float, limit: int = 5
) -> list[Failing]:
    """The repository's fingerprints with the most occurrences since ``since``, the most
    first (then the most recently seen); those with none since then are left out."""
    rows = conn.execute(
        "SELECT f.*, COUNT(*) AS recent FROM monitor_fingerprints f"
        " JOIN monitor_occurrences o ON o.fingerprint_id = f.id AND o.at >= ?"
        " WHERE f.repository = ? COLLATE NOCASE GROUP BY f.id"
        " ORDER BY recent DESC, f.last_seen DESC, f.id DESC LIMIT ?",
        (since, repository, limit),
    ).fetchall()
    return [Failing(_tracked(row), int(row["recent"])) for row in rows]


def merged_fix(
    conn: sqlite3.Connection, repository: str, issue_number: int
) -> tuple[float, str | None] | None:
    """When the change request on the issue merged, and its head commit (None: not merged)."""
    row = conn.execute(
        "SELECT r.head_sha AS sha, MAX(t.at) AS at FROM requests r JOIN request_transitions t"
        " ON t.request_id = r.id AND t.to_state = 'merged'"
        " WHERE r.repository = ? COLLATE NOCASE AND r.issue_number = ? AND r.state = 'merged'",
        (repository, issue_number),
    ).fetchone()
    if row is None or row["at"] is None:
        return None
    return float(row["at"]), row["sha"]


def merged_changes(
    conn: sqlite3.Connection, repository: str, since: float
) -> list[tuple[int, float, tuple[str, ...]]]:
    """The repository's change requests merged since ``since``: (issue, merged at, targets)."""
    rows = conn.execute(
        "SELECT r.issue_number, MAX(t.at) AS at, r.targets FROM requests r"
        " JOIN request_transitions t ON t.request_id = r.id AND t.to_state = 'merged'"
        " WHERE r.repository = ? COLLATE NOCASE AND r.state = 'merged' GROUP BY r.id"
        " HAVING MAX(t.at) >= ?",
        (repository, since),
    ).fetchall()
    return [(int(row[0]), float(row[1]), tuple(json.loads(row[2]))) for row in rows]


_MERGED = (
    "SELECT f.id, f.last_seen, MAX(t.at) AS merged_at FROM monitor_fingerprints f"
    " JOIN requests r ON r.repository = f.repository COLLATE NOCASE"
    " AND r.issue_number = f.issue_number AND r.state = 'merged'"
    " JOIN request_transitions t ON t.request_id = r.id AND t.to_state = 'merged'"
    " GROUP BY f.id"
)


def stats(conn: sqlite3.Connection, *, now: float, window: float) -> dict[str, Any]:
    """The seed's monitor statistics, except ``is_running`` (the caller knows that)."""
    totals = conn.execute(
        "SELECT COUNT(*) AS unique_errors, COALESCE(SUM(total), 0) AS detected,"
        " COALESCE(SUM(attempts), 0) AS triggered FROM monitor_fingerprints"
    ).fetchone()
    merged = conn.execute(_MERGED).fetchall()
    merged_ids = {int(row["id"]) for row in merged}
    successful = sum(
        1 for row in merged
        if row["last_seen"] <= row["merged_at"] and now - row["merged_at"] >= window
    )  # fmt: skip
    open_ids = {
        int(row[0])
        for row in conn.execute(
            "SELECT id FROM monitor_fingerprints WHERE issue_state = 'open'"
        ).fetchall()
    }
    return {
        "issues_detected": int(totals["detected"]),
        "fixes_triggered": int(totals["triggered"]),
        "fixes_successful": successful,
        "pending_fixes": len(open_ids - merged_ids),
        "unique_errors": int(totals["unique_errors"]),
        "last_check": get_state(conn, "last_check"),
    }


def set_state(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO monitor_state (key, value) VALUES (?, ?)"
        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def get_state(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM monitor_state WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def claim_slot(
    conn: sqlite3.Connection,
    name: str,
    *,
    interval: float,
    owner: str,
    now: float | None = None,
    first_delay: float = 0.0,
) -> float | None:
    """The due slot of task ``name`` (its scheduled time), moved forward past ``now`` in this
    transaction; None when the task is not due. A new task's first slot is ``now`` plus
    ``first_delay``."""
    at = time.time() if now is None else now
    row = conn.execute("SELECT next_run FROM monitor_schedule WHERE name = ?", (name,)).fetchone()
    if row is None and first_delay > 0:
        conn.execute(
            "INSERT INTO monitor_schedule (name, next_run, last_slot, last_owner, updated_at)"
            " VALUES (?, ?, NULL, ?, ?)",
            (name, at + first_delay, owner, at),
        )
        return None
    if row is not None and float(row[0]) > at:
        return None
    slot = at if row is None else float(row[0])
    skipped = max(0, int((at - slot) // interval))  # slots missed while down run once
    next_run = slot + (skipped + 1) * interval
    conn.execute(
        "INSERT INTO monitor_schedule (name, next_run, last_slot, last_owner, updated_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET next_run = excluded.next_run,"
        " last_slot = excluded.last_slot, last_owner = excluded.last_owner,"
        " updated_at = excluded.updated_at",
        (name, next_run, slot + skipped * interval, owner, at),
    )
    return slot + skipped * interval


def repository_summary(conn: sqlite3.Connection, repository: str) -> dict[str, int]:
    """One repository's failures as the monitor grouped them: distinct errors, their
    occurrences, the fix-request issues open now, and the fix attempts made."""
    row = conn.execute(
        "SELECT COUNT(*) AS errors, COALESCE(SUM(total), 0) AS occurrences,"
        " COALESCE(SUM(issue_state = 'open'), 0) AS open_issues,"
        " COALESCE(SUM(attempts), 0) AS attempts"
        " FROM monitor_fingerprints WHERE repository = ? COLLATE NOCASE",
        (repository,),
    ).fetchone()
    return {key: int(row[key]) for key in ("errors", "occurrences", "open_issues", "attempts")}
