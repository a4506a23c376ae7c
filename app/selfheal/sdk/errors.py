"""The SDK's exceptions, one per kind of refusal the API gives."""

from __future__ import annotations

from typing import Any


class SelfHealError(Exception):
    """The API refused or failed a call; ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, status: int, message: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message
        self.body = body or {}


class AuthError(SelfHealError):
    """401 (no token, or unknown, revoked or expired) or 403 (scope, identity)."""


class ValidationError(SelfHealError):
    """400 or 422: the body or a parameter is wrong; ``field`` names it."""

    @property
    def field(self) -> str | None:
        value = self.body.get("field")
        return None if value is None else str(value)


class NotFoundError(SelfHealError):
    """404: no such request (or repository) for this token."""


class HaltedError(SelfHealError):
    """409: the repository is halted, or the request's state refuses the call."""


class RateLimitedError(SelfHealError):
    """429: over the token's limits; ``retry_after`` seconds."""

    @property
    def retry_after(self) -> float:
        return float(self.body.get("retry_after") or 1)


class ServerError(SelfHealError):
    """5xx, or no answer at all."""


def error_for(status: int, body: dict[str, Any]) -> SelfHealError:
    message = str(body.get("message") or body.get("error") or f"HTTP {status}")
    kind: type[SelfHealError]
    if status in (401, 403):
        kind = AuthError
    elif status in (400, 413, 422):
        kind = ValidationError
    elif status == 404:
        kind = NotFoundError
    elif status == 409:
        kind = HaltedError
    elif status == 429:
        kind = RateLimitedError
    elif status >= 500:
        kind = ServerError
    else:
        kind = SelfHealError
    return kind(status, message, body)
