"""API bearer tokens: created once, stored hashed, bound to scopes and repositories.

A token is ``shk_`` and 43 URL-safe characters (256 random bits). Only its SHA-256 is stored
(a token this long needs no slow hash: nobody can guess it, and the hash only keeps a copy of
the ledger from being a list of working tokens); :func:`create` returns the value once, and
nothing can show it again. A token may carry an expiry, a GitHub identity (the login that
approvals through the API act as) and is revoked by name. The functions take a connection, as
the ledger's modules do.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass

from selfheal.api.schemas import REPOSITORY_PATTERN, SCOPES

PREFIX = "shk_"
NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")
LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
REPOSITORY = re.compile(REPOSITORY_PATTERN)
TOKEN_SHAPE = re.compile(r"shk_[A-Za-z0-9_-]{43}")


class TokenError(ValueError):
    """A token cannot be created or revoked as asked; the message says why."""


@dataclass(frozen=True)
class Token:
    name: str
    prefix: str  # the first characters, to recognise a token without its value
    scopes: tuple[str, ...]
    repositories: tuple[str, ...]
    github_login: str | None
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None

    def covers(self, repository: str) -> bool:
        return repository.lower() in {r.lower() for r in self.repositories}

    def active(self, now: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _token(row: sqlite3.Row) -> Token:
    return Token(
        name=row["name"],
        prefix=row["prefix"],
        scopes=tuple(json.loads(row["scopes"])),
        repositories=tuple(json.loads(row["repositories"])),
        github_login=row["github_login"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )


def _check(
    name: str, scopes: Sequence[str], repositories: Sequence[str], login: str | None
) -> None:
    if not NAME.fullmatch(name):
        raise TokenError("a token name is 1-40 lower-case letters, digits, '_', '.' or '-'")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise TokenError(f"scopes are some of {', '.join(SCOPES)} (got {', '.join(unknown)})")
    if not repositories:
        raise TokenError("a token is bound to at least one repository (owner/name)")
    for repo in repositories:
        if not REPOSITORY.fullmatch(repo):
            raise TokenError(f"{repo!r} is not owner/name")
    if login is not None and not LOGIN.fullmatch(login):
        raise TokenError(f"{login!r} is not a GitHub login")


def create(
    conn: sqlite3.Connection,
    name: str,
    *,
    scopes: Sequence[str],
    repositories: Sequence[str],
    github_login: str | None = None,
    expires_at: float | None = None,
    now: float | None = None,
) -> tuple[Token, str]:
    """A new token and its value (returned this once only)."""
    _check(name, scopes, repositories, github_login)
    now = time.time() if now is None else now
    if expires_at is not None and expires_at <= now:
        raise TokenError("the expiry is in the past")
    if conn.execute("SELECT 1 FROM api_tokens WHERE name = ?", (name,)).fetchone():
        raise TokenError(f"a token named {name!r} exists (revoke it, or pick another name)")
    value = PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO api_tokens (name, token_hash, prefix, scopes, repositories, github_login,"
        " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (name, digest(value), value[:8], json.dumps(sorted(set(scopes))),
         json.dumps(list(dict.fromkeys(repositories))), github_login, now, expires_at),
    )  # fmt: skip
    found = get(conn, name)
    assert found is not None
    return found, value


def get(conn: sqlite3.Connection, name: str) -> Token | None:
    row = conn.execute("SELECT * FROM api_tokens WHERE name = ?", (name,)).fetchone()
    return None if row is None else _token(row)


def list_tokens(conn: sqlite3.Connection) -> list[Token]:
    return [_token(r) for r in conn.execute("SELECT * FROM api_tokens ORDER BY name")]


def revoke(conn: sqlite3.Connection, name: str, *, now: float | None = None) -> Token:
    now = time.time() if now is None else now
    changed = conn.execute(
        "UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (now, name)
    ).rowcount
    token = get(conn, name)
    if token is None:
        raise TokenError(f"no token is named {name!r}")
    if not changed:
        raise TokenError(f"the token {name!r} was revoked already")
    return token


def lookup(conn: sqlite3.Connection, value: str) -> Token | None:
    """The token whose value is ``value``, active or not (None: no such token)."""
    if not TOKEN_SHAPE.fullmatch(value):
        return None
    wanted = digest(value)
    row = conn.execute("SELECT * FROM api_tokens WHERE token_hash = ?", (wanted,)).fetchone()
    if row is None or not hmac.compare_digest(row["token_hash"], wanted):
        return None
    return _token(row)


def touch(conn: sqlite3.Connection, name: str, now: float) -> None:
    conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE name = ?", (now, name))
