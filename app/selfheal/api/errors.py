"""The API's error answers: one JSON shape, ``{"error": code, "message": ..., "field": ...}``.

Handlers raise :class:`ApiError`; the guard around every handler turns it into a response,
and turns anything else into a 500 that names the call's id and never shows a traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ApiError(Exception):
    """An answer other than success: HTTP ``status``, a short ``code`` and a message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.field is not None:
            out["field"] = self.field
        out.update(self.extra)
        return out


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "not_found", message)


def halted(repository: str) -> ApiError:
    return ApiError(
        409,
        "halted",
        f"{repository} is halted: an open issue carries its lock label, so selfheal starts "
        "nothing there until someone resumes it",
        extra={"repository": repository},
    )


def invalid(field: str, message: str, status: int = 422) -> ApiError:
    return ApiError(status, "invalid", f"{field}: {message}", field=field)
