"""The append-only, hash-chained audit log.

Each entry's ``hash`` is ``sha256(canonical_json(entry) + prev_hash)`` where the canonical JSON
covers id, ts, actor, action, repository, request and details (sorted keys, no spaces), and
``prev_hash`` is the previous entry's hash (64 zeros for the first). Editing, deleting or
reordering any row breaks the chain from that row on; :func:`verify` names the first broken
entry. SQLite triggers reject UPDATE and DELETE on the table, and this module offers no way to
change an entry.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from selfheal.ledger.db import from_row

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    id: int
    ts: str
    actor: str
    action: str
    repository: str | None
    request: int | None
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str = ""
    head_hash: str = GENESIS  # hash of the last verified entry: record it to detect truncation


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(
    *,
    id: int,
    ts: str,
    actor: str,
    action: str,
    repository: str | None,
    request: int | None,
    details: Mapping[str, Any],
    prev_hash: str,
) -> str:
    body = canonical(
        {
            "id": id,
            "ts": ts,
            "actor": actor,
            "action": action,
            "repository": repository,
            "request": request,
            "details": dict(details),
        }
    )
    return hashlib.sha256((body + prev_hash).encode("utf-8")).hexdigest()


def _timestamp(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"


def append(
    conn: sqlite3.Connection,
    actor: str,
    action: str,
    *,
    repository: str | None = None,
    request: int | None = None,
    details: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> AuditEntry:
    """Append one entry (run inside the writer's transaction, so the chain cannot fork)."""
    last = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    next_id = (last["id"] + 1) if last is not None else 1
    prev_hash = last["hash"] if last is not None else GENESIS
    ts = _timestamp(time.time() if now is None else now)
    clean = json.loads(canonical(dict(details or {})))
    digest = entry_hash(
        id=next_id,
        ts=ts,
        actor=actor,
        action=action,
        repository=repository,
        request=request,
        details=clean,
        prev_hash=prev_hash,
    )
    conn.execute(
        "INSERT INTO audit (id, ts, actor, action, repository, request, details, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (next_id, ts, actor, action, repository, request, canonical(clean), prev_hash, digest),
    )
    return AuditEntry(next_id, ts, actor, action, repository, request, clean, prev_hash, digest)


def _entry(row: sqlite3.Row) -> AuditEntry:
    return from_row(AuditEntry, row, details=json.loads(row["details"]))


def verify(conn: sqlite3.Connection, *, expect_hash: str | None = None) -> VerifyResult:
    """Walk the whole chain in id order; report the first entry that does not check out.

    ``expect_hash`` is a head hash recorded earlier: if no entry carries it, entries were cut
    off the end (or the chain was replaced), which the links alone cannot show.
    """
    prev_hash = GENESIS
    checked = 0
    cursor = conn.execute("SELECT * FROM audit ORDER BY id")
    while True:
        try:
            row = cursor.fetchone()
        except sqlite3.OperationalError as exc:  # e.g. a column that is no longer UTF-8
            return VerifyResult(False, checked, None, f"entry after {checked}: {exc}")
        if row is None:
            break
        problem = _link_problem(row, checked + 1, prev_hash)  # ids run 1, 2, 3... unbroken
        if problem:
            return VerifyResult(False, checked, row["id"], problem)
        prev_hash = row["hash"]
        checked += 1
        if expect_hash is not None and row["hash"] == expect_hash:
            expect_hash = None
    if expect_hash is not None:
        return VerifyResult(
            False, checked, None, f"no entry has the expected hash {expect_hash}: entries were "
            "removed from the end or the log was replaced", prev_hash,
        )  # fmt: skip
    return VerifyResult(True, checked, head_hash=prev_hash)


def _link_problem(row: sqlite3.Row, expected_id: int, prev_hash: str) -> str:
    """Why ``row`` is not the chain's entry ``expected_id`` after ``prev_hash``; "" if it is."""
    entry_id = row["id"]
    if entry_id != expected_id:
        return f"gap: expected entry {expected_id}, found {entry_id}"
    if row["prev_hash"] != prev_hash:
        return "prev_hash mismatch: does not match the previous entry"
    try:
        details = json.loads(row["details"])
    except (TypeError, ValueError):
        return "details are not valid JSON"
    if _recomputed_hash(row, details) != row["hash"]:
        return "hash mismatch: the entry was edited after it was written"
    return ""


def _recomputed_hash(row: sqlite3.Row, details: Any) -> str | None:
    """The hash ``row`` should carry, or None when its columns cannot even be hashed (None
    equals no stored hash, not even an empty one: such an entry never verifies)."""
    try:
        return entry_hash(
            id=row["id"],
            ts=row["ts"],
            actor=row["actor"],
            action=row["action"],
            repository=row["repository"],
            request=row["request"],
            details=details if isinstance(details, dict) else {"": details},
            prev_hash=row["prev_hash"],
        )
    except (TypeError, ValueError):  # a column rewritten as a BLOB, NaN in details ...
        return None


def entries(
    conn: sqlite3.Connection,
    *,
    repository: str | None = None,
    request: int | None = None,
    actor: str | None = None,
    action: str | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Most recent entries first, filtered."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("repository", repository),
        ("request", request),
        ("actor", actor),
        ("action", action),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"SELECT * FROM audit{where} ORDER BY id DESC LIMIT ?"  # noqa: S608 - fixed columns
    return [_entry(r) for r in conn.execute(sql, (*params, limit))]
