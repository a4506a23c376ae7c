"""HTTP helpers shared by the route modules: GitHub error bodies, JSON replies, pagination."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aiohttp import web
from yarl import URL

DOCS = "https://docs.github.com/rest"
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 30
MEDIA_HEADERS = {
    "X-GitHub-Media-Type": "github.v3; format=json",
    "X-GitHub-Api-Version-Selected": "2022-11-28",
}


class ApiError(Exception):
    """Raised by handlers; rendered as GitHub's error body {message, errors, documentation_url}."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[Any] | None = None,
        headers: dict[str, str] | None = None,
        docs: str = DOCS,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        self.docs = docs

    def response(self) -> web.Response:
        body: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        body["documentation_url"] = self.docs
        body["status"] = str(self.status)
        return web.json_response(body, status=self.status, headers=self.headers)


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def validation(resource: str, field: str, code: str = "invalid", **extra: Any) -> ApiError:
    error = {"resource": resource, "field": field, "code": code, **extra}
    return ApiError(422, "Validation Failed", errors=[error])


def custom(resource: str, message: str) -> ApiError:
    """A 422 whose error explains itself in ``message`` instead of naming a field."""
    error = {"resource": resource, "code": "custom", "message": message}
    return ApiError(422, "Validation Failed", errors=[error])


def reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers, dumps=json.dumps)


def no_content() -> web.Response:
    return web.Response(status=204)


async def body(request: web.Request) -> dict[str, Any]:
    """The JSON object body of a request; 400 'Problems parsing JSON' otherwise."""
    if not request.can_read_body:
        return {}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, "Problems parsing JSON") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "Problems parsing JSON")
    return data


def iso_to_ts(value: str, resource: str, field: str) -> float:
    """A POSIX timestamp from an ISO 8601 time in a request; 422 on ``field`` otherwise."""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise validation(resource, field) from exc


def int_param(request: web.Request, name: str, default: int) -> int:
    try:
        return int(request.query.get(name, default))
    except ValueError as exc:
        raise validation("Query", name) from exc


def paginate(request: web.Request, items: Sequence[Any]) -> tuple[list[Any], dict[str, str]]:
    """Slice ``items`` by ?page&per_page and build GitHub's ``Link`` header."""
    per_page = max(1, min(MAX_PER_PAGE, int_param(request, "per_page", DEFAULT_PER_PAGE)))
    page = max(1, int_param(request, "page", 1))
    last = max(1, -(-len(items) // per_page))
    start = (page - 1) * per_page
    chunk = list(items[start : start + per_page])
    links: list[str] = []
    url = request.url

    def link(p: int, rel: str) -> None:
        target: URL = url.update_query(page=str(p), per_page=str(per_page))
        links.append(f'<{target}>; rel="{rel}"')

    if page > 1:
        link(page - 1, "prev")
        link(1, "first")
    if page < last:
        link(page + 1, "next")
        link(last, "last")
    return chunk, ({"Link": ", ".join(links)} if links else {})


def paged_reply(request: web.Request, items: Sequence[Any]) -> web.Response:
    chunk, headers = paginate(request, items)
    return reply(chunk, headers=headers)
