"""Installations of the App and the repositories they cover.

Kept up to date from every webhook payload (:func:`note_payload`) and from the
``installation`` / ``installation_repositories`` events, so the CLI and the workers can find
the installation of a repository without asking GitHub.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from selfheal.ledger.deliveries import is_row_id


def upsert_installation(
    conn: sqlite3.Connection,
    installation_id: int,
    account: str,
    account_type: str | None = None,
    *,
    now: float | None = None,
) -> None:
    now = time.time() if now is None else now
    conn.execute(
        "INSERT INTO installations (id, account, account_type, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET account = excluded.account,"
        " account_type = COALESCE(excluded.account_type, account_type),"
        " updated_at = excluded.updated_at, deleted_at = NULL",
        (installation_id, account, account_type, now, now),
    )


def mark_installation(
    conn: sqlite3.Connection, installation_id: int, state: str, *, now: float | None = None
) -> None:
    """state: 'deleted', 'suspended' or 'active' (unsuspend)."""
    now = time.time() if now is None else now
    column = {"deleted": "deleted_at", "suspended": "suspended_at"}.get(state)
    if column is None:
        conn.execute(
            "UPDATE installations SET suspended_at = NULL, updated_at = ? WHERE id = ?",
            (now, installation_id),
        )
    else:
        conn.execute(
            f"UPDATE installations SET {column} = ?, updated_at = ? WHERE id = ?",  # noqa: S608
            (now, now, installation_id),
        )


def upsert_repository(
    conn: sqlite3.Connection,
    repo_id: int,
    full_name: str,
    installation_id: int | None,
    *,
    default_branch: str | None = None,
    private: bool | None = None,
    now: float | None = None,
) -> None:
    now = time.time() if now is None else now
    # A name belongs to one repository at a time on GitHub: a row holding this name under
    # another id is stale (renamed, transferred or deleted and recreated).
    conn.execute("DELETE FROM repositories WHERE full_name = ? AND id != ?", (full_name, repo_id))
    conn.execute(
        "INSERT INTO repositories (id, installation_id, full_name, default_branch, private,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
        " full_name = excluded.full_name,"
        " installation_id = COALESCE(excluded.installation_id, installation_id),"
        " default_branch = COALESCE(excluded.default_branch, default_branch),"
        " private = COALESCE(excluded.private, private), updated_at = excluded.updated_at,"
        " removed_at = NULL",
        (repo_id, installation_id, full_name, default_branch, private, now, now),
    )


def remove_repository(conn: sqlite3.Connection, repo_id: int, *, now: float | None = None) -> None:
    now = time.time() if now is None else now
    conn.execute(
        "UPDATE repositories SET removed_at = ?, updated_at = ? WHERE id = ?", (now, now, repo_id)
    )


def installation_for(conn: sqlite3.Connection, full_name: str) -> int | None:
    row = conn.execute(
        "SELECT installation_id FROM repositories WHERE full_name = ? AND removed_at IS NULL",
        (full_name,),
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def repositories_of(conn: sqlite3.Connection, installation_id: int) -> list[str]:
    return [
        row[0]
        for row in conn.execute(
            "SELECT full_name FROM repositories WHERE installation_id = ? AND removed_at IS NULL"
            " ORDER BY full_name",
            (installation_id,),
        )
    ]


def note_payload(conn: sqlite3.Connection, event: str, payload: Any) -> None:
    """Record the installation and repositories a webhook payload mentions."""
    if not isinstance(payload, dict):
        return
    inst_id = _note_installation(conn, event, payload)
    repo = payload.get("repository")
    if isinstance(repo, dict) and is_row_id(repo.get("id")) and repo.get("full_name"):
        upsert_repository(
            conn,
            repo["id"],
            str(repo["full_name"]),
            inst_id,
            default_branch=_text(repo.get("default_branch")),
            private=_flag(repo.get("private")),
        )
    for key in ("repositories", "repositories_added"):
        for item in _row_items(payload.get(key)):
            upsert_repository(conn, item["id"], str(item.get("full_name")), inst_id)
    for item in _row_items(payload.get("repositories_removed")):
        remove_repository(conn, item["id"])


def _note_installation(conn: sqlite3.Connection, event: str, payload: dict[str, Any]) -> int | None:
    """Record the payload's installation; return its id, or None when it has no usable one.

    An installation first seen without its account is stored as "unknown" (the repositories
    refer to it); an installation event with the action "deleted" marks it deleted.
    """
    inst = payload.get("installation")
    if not isinstance(inst, dict) or not is_row_id(inst.get("id")):
        return None
    inst_id: int = inst["id"]
    account = inst.get("account")
    if isinstance(account, dict) and account.get("login"):
        upsert_installation(conn, inst_id, str(account["login"]), _text(account.get("type")))
    elif _exists(conn, inst_id) is False:
        upsert_installation(conn, inst_id, "unknown")
    if event == "installation" and payload.get("action") == "deleted":
        mark_installation(conn, inst_id, "deleted")
    return inst_id


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _row_items(value: Any) -> list[dict[str, Any]]:
    """The objects with a usable ``id`` in a payload's list (of repositories)."""
    return [item for item in _items(value) if isinstance(item, dict) and is_row_id(item.get("id"))]


def _exists(conn: sqlite3.Connection, installation_id: int) -> bool:
    row = conn.execute("SELECT 1 FROM installations WHERE id = ?", (installation_id,)).fetchone()
    return row is not None
