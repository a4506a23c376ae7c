"""Security-gate runs and their findings.

One ``gate_runs`` row per evaluation of a pull request head (repository, PR, head SHA, the
check run on GitHub, status/conclusion/risk). An approval (the check run's "Approve" button)
is stored on the run of that head SHA only, so a new push has no approval.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from selfheal.ledger.db import from_row
from selfheal.model.findings import Finding

UPDATABLE = frozenset(
    {"check_run_id", "status", "conclusion", "risk", "title", "base_sha", "pr_number"}
)


@dataclass(frozen=True)
class GateRun:
    id: int
    repository: str
    pr_number: int | None
    head_sha: str
    base_sha: str | None
    check_run_id: int | None
    status: str
    conclusion: str | None
    risk: str | None
    title: str | None
    approved_by: str | None
    approved_at: float | None
    created_at: float
    updated_at: float


def _run(row: sqlite3.Row) -> GateRun:
    return from_row(GateRun, row)


def create_gate_run(
    conn: sqlite3.Connection,
    repository: str,
    head_sha: str,
    *,
    pr_number: int | None = None,
    base_sha: str | None = None,
    check_run_id: int | None = None,
    status: str = "queued",
    now: float | None = None,
) -> GateRun:
    now = time.time() if now is None else now
    cursor = conn.execute(
        "INSERT INTO gate_runs (repository, pr_number, head_sha, base_sha, check_run_id, status,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (repository, pr_number, head_sha, base_sha, check_run_id, status, now, now),
    )
    run = get_gate_run(conn, int(cursor.lastrowid or 0))
    assert run is not None
    return run


def update_gate_run(
    conn: sqlite3.Connection, run_id: int, *, now: float | None = None, **fields: Any
) -> GateRun:
    unknown = set(fields) - UPDATABLE
    if unknown:
        raise ValueError(f"cannot update gate run fields: {', '.join(sorted(unknown))}")
    now = time.time() if now is None else now
    if fields:
        assignments = ", ".join(f"{name} = ?" for name in fields)
        conn.execute(
            f"UPDATE gate_runs SET {assignments}, updated_at = ? WHERE id = ?",  # noqa: S608
            (*fields.values(), now, run_id),
        )
    run = get_gate_run(conn, run_id)
    if run is None:
        raise KeyError(f"no gate run {run_id}")
    return run


def record_approval(
    conn: sqlite3.Connection, run_id: int, approved_by: str, *, now: float | None = None
) -> GateRun:
    now = time.time() if now is None else now
    conn.execute(
        "UPDATE gate_runs SET approved_by = ?, approved_at = ?, updated_at = ? WHERE id = ?",
        (approved_by, now, now, run_id),
    )
    run = get_gate_run(conn, run_id)
    if run is None:
        raise KeyError(f"no gate run {run_id}")
    return run


def get_gate_run(conn: sqlite3.Connection, run_id: int) -> GateRun | None:
    row = conn.execute("SELECT * FROM gate_runs WHERE id = ?", (run_id,)).fetchone()
    return _run(row) if row is not None else None


def latest_gate_run(conn: sqlite3.Connection, repository: str, head_sha: str) -> GateRun | None:
    row = conn.execute(
        "SELECT * FROM gate_runs WHERE repository = ? AND head_sha = ? ORDER BY id DESC LIMIT 1",
        (repository, head_sha),
    ).fetchone()
    return _run(row) if row is not None else None


def pr_numbers_for(conn: sqlite3.Connection, repository: str, head_sha: str) -> list[int]:
    """The pull requests the gate has run for at ``head_sha`` (a fork's check suites and runs
    list no pull requests, so a re-run request finds its PR here)."""
    rows = conn.execute(
        "SELECT DISTINCT pr_number FROM gate_runs WHERE repository = ? AND head_sha = ?"
        " AND pr_number IS NOT NULL ORDER BY pr_number",
        (repository, head_sha),
    )
    return [int(r["pr_number"]) for r in rows]


def gate_run_for_check(conn: sqlite3.Connection, check_run_id: int) -> GateRun | None:
    row = conn.execute(
        "SELECT * FROM gate_runs WHERE check_run_id = ? ORDER BY id DESC LIMIT 1", (check_run_id,)
    ).fetchone()
    return _run(row) if row is not None else None


def add_findings(conn: sqlite3.Connection, run_id: int, findings: Iterable[Finding]) -> int:
    rows = [
        (
            run_id,
            f.rule_id,
            f.category.value,
            f.severity.label,
            f.path,
            f.line,
            f.message,
            f.source.value,
            f.fingerprint,
            json.dumps(f.to_dict(), sort_keys=True, default=str),
        )
        for f in findings
    ]
    conn.executemany(
        "INSERT INTO findings (gate_run_id, rule_id, category, severity, path, line, message,"
        " source, fingerprint, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


def findings_for(conn: sqlite3.Connection, run_id: int) -> list[Finding]:
    return [
        Finding.from_dict(json.loads(row["data"]))
        for row in conn.execute(
            "SELECT data FROM findings WHERE gate_run_id = ? ORDER BY id", (run_id,)
        )
    ]


def conclusion_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {
        row["conclusion"]: int(row["n"])
        for row in conn.execute(
            "SELECT conclusion, COUNT(*) AS n FROM gate_runs"
            " WHERE conclusion IS NOT NULL GROUP BY conclusion"
        )
    }
