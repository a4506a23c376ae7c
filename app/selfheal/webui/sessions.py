"""Dashboard sessions, kept in the server's memory.

A session is a random id (the cookie's value) naming the token it logged in with, by name,
and a per-session CSRF token. The token's value is never kept: each page reads the token
again by name, so a revoked or expired token ends its sessions at once. Sessions end on
logout, after :data:`IDLE` seconds unused, or after :data:`LIFETIME`; a restart ends them
all (people log in again).
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

COOKIE = "selfheal_session"
IDLE = 2 * 3600.0
LIFETIME = 12 * 3600.0
MAX_SESSIONS = 10_000


@dataclass
class Session:
    id: str
    token_name: str
    csrf: str
    created_at: float
    seen_at: float

    def csrf_ok(self, given: str | None) -> bool:
        """Whether a form's CSRF field is this session's (compared in constant time)."""
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


class Sessions:
    def __init__(self) -> None:
        self._by_id: dict[str, Session] = {}

    def start(self, token_name: str, now: float | None = None) -> Session:
        now = time.time() if now is None else now
        self._prune(now)
        if len(self._by_id) >= MAX_SESSIONS:  # the oldest go first
            for old in sorted(self._by_id.values(), key=lambda s: s.seen_at)[: MAX_SESSIONS // 10]:
                self._by_id.pop(old.id, None)
        session = Session(secrets.token_urlsafe(32), token_name, secrets.token_urlsafe(32), now,
                          now)  # fmt: skip
        self._by_id[session.id] = session
        return session

    def get(self, session_id: str | None, now: float | None = None) -> Session | None:
        if not session_id:
            return None
        now = time.time() if now is None else now
        session = self._by_id.get(session_id)
        if session is None:
            return None
        if now - session.seen_at > IDLE or now - session.created_at > LIFETIME:
            self._by_id.pop(session_id, None)
            return None
        session.seen_at = now
        return session

    def end(self, session_id: str | None) -> None:
        if session_id:
            self._by_id.pop(session_id, None)

    def _prune(self, now: float) -> None:
        stale = [s.id for s in self._by_id.values()
                 if now - s.seen_at > IDLE or now - s.created_at > LIFETIME]  # fmt: skip
        for session_id in stale:
            self._by_id.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._by_id)
