"""The API's edge: authentication, limits, body reading, auditing and error answers.

:func:`mount` adds every operation of :data:`selfheal.api.openapi.OPERATIONS` to the
server's application, each wrapped by :func:`_guard`, which in order:

1. for a route with a scope, reads ``Authorization: Bearer <token>``, finds the token by its
   hash and refuses (401) a missing, unknown, revoked or expired token (logged, not audited:
   there is no token to name), and (403, audited) a token without the scope;
2. takes a slot under the token's rate and concurrency limits, or answers 429 with
   ``Retry-After``;
3. runs the handler, turning an :class:`~selfheal.api.errors.ApiError` into its answer,
   GitHub giving up (rate limits, 5xx, no connection, after the client's retries) into 503
   with ``Retry-After``, another refusal from GitHub into 502, and anything else into a 500
   that names the call's id (the traceback goes to the log only);
4. audits the call (``api.call``) with the token's name, never its value, and the status.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import gidgethub
from aiohttp import web

from selfheal.api import errors, schemas, tokens
from selfheal.api.errors import ApiError
from selfheal.api.limits import Limiter
from selfheal.api.openapi import Operation
from selfheal.api.sink import EventSink
from selfheal.config.settings import Settings
from selfheal.github.client import GitHubGaveUp
from selfheal.ledger import Ledger, audit
from selfheal.runtime.server import LEDGER, SETTINGS, WORKER
from selfheal.runtime.worker import Worker

log = logging.getLogger("selfheal.api")

MAX_BODY = 1024 * 1024  # 1 MiB
GITHUB_RETRY_AFTER = 60


@dataclass
class Call:
    """One API call as a handler sees it."""

    request: web.Request
    op: Operation
    id: str
    token: tokens.Token | None
    repository: str | None = None  # for the audit entry, once the handler knows it
    change_id: str | None = None
    body_cache: Any = None
    # a call that did not come through the API's own route (the web dashboard's buttons):
    # its path parameters, and what the audit entry names it came through
    params: Mapping[str, str] | None = None
    via: str | None = None

    @property
    def app(self) -> web.Application:
        return self.request.app

    @property
    def ledger(self) -> Ledger:
        return self.request.app[LEDGER]

    @property
    def settings(self) -> Settings:
        return self.request.app[SETTINGS]

    @property
    def worker(self) -> Worker:
        return self.request.app[WORKER]

    @property
    def state(self) -> ApiState:
        return self.request.app[API_STATE]

    def path_param(self, name: str) -> str:
        if self.params is not None:
            return self.params.get(name, "")
        return self.request.match_info.get(name, "")

    def need_token(self) -> tokens.Token:
        if self.token is None:
            raise errors.unauthorized("this call needs a token")
        return self.token

    def query(self) -> dict[str, Any]:
        """The query parameters, each converted and checked against its schema (400)."""
        return read_query(self.request, self.op)

    async def body(self) -> Any:
        """The JSON body, checked against the operation's schema (400, 413, 422)."""
        if self.body_cache is None:
            self.body_cache = await read_body(self.request, self.op)
        return self.body_cache


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


@dataclass
class ApiState:
    limiter: Limiter
    sink: EventSink
    extra: dict[str, Any] = field(default_factory=dict)


API_STATE: web.AppKey[ApiState] = web.AppKey("api_state", ApiState)


def answer(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers)


def _error(exc: ApiError, call_id: str) -> web.Response:
    headers = {**exc.headers, "X-Request-Id": call_id}
    return answer({**exc.body(), "call": call_id}, exc.status, headers)


async def _read_capped(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "too_large", f"the body is larger than {MAX_BODY} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, "too_large", f"the body is larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


async def read_body(request: web.Request, op: Operation) -> Any:
    raw = await _read_capped(request)
    if not raw.strip():
        if op.body in ("Halt", "Note"):
            return {}
        raise errors.invalid("body", "a JSON body is required", status=400)
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise errors.invalid("body", "is not valid JSON", status=400) from None
    assert op.body is not None
    problem = schemas.check(op.body, data)
    if problem is not None:
        raise errors.invalid(*problem)
    return data


def _convert(raw: str, schema: Mapping[str, Any]) -> Any:
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(raw) if raw.strip().lstrip("-").isdigit() else raw
        if kind == "number":
            value = float(raw)
            return value if math.isfinite(value) else raw
    except ValueError:
        return raw
    return raw


def read_query(request: web.Request, op: Operation) -> dict[str, Any]:
    """The operation's query parameters, converted to their types and checked against the
    schemas the document publishes; a parameter the operation does not take is refused."""
    known = {q.name: q for q in op.query}
    out: dict[str, Any] = {}
    for name in request.query:
        param = known.get(name)
        if param is None:
            raise errors.invalid(name[:40], "is not a parameter of this call", status=400)
        if len(request.query.getall(name)) > 1:
            raise errors.invalid(name, "is given more than once", status=400)
        value = _convert(request.query[name], param.schema)
        problem = schemas.check_value(param.schema, value)
        if problem is not None:
            raise errors.invalid(name, problem, status=400)
        out[name] = value
    return out


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise errors.unauthorized("send Authorization: Bearer <token>")
    return value.strip()


async def authenticate(request: web.Request) -> tokens.Token:
    return await token_for(request.app[LEDGER], _bearer(request))


async def token_for(ledger: Ledger, value: str) -> tokens.Token:
    """The active token whose value is ``value``; 401 (:class:`ApiError`) for a value that is
    unknown, or a token that was revoked or has expired."""
    token = await ledger.aread(lambda c: tokens.lookup(c, value))
    now = time.time()
    if token is None:
        raise errors.unauthorized("the token is not known")
    if token.revoked_at is not None:
        raise errors.unauthorized("the token was revoked")
    if not token.active(now):
        raise errors.unauthorized("the token has expired")
    return token


def _audit_call(call: Call, status: int, started: float) -> Callable[[Any], object]:
    token = call.need_token()
    details: dict[str, Any] = {"method": call.op.method, "route": call.op.path,
                               "status": status, "call": call.id}  # fmt: skip
    if call.change_id is not None:
        details["change_id"] = call.change_id
    if call.via is not None:
        details["via"] = call.via
    details["ms"] = round((time.monotonic() - started) * 1000, 1)
    now = time.time()

    def write(conn: Any) -> object:
        tokens.touch(conn, token.name, now)
        return audit.append(conn, f"api:{token.name}", "api.call", repository=call.repository,
                            details=details)  # fmt: skip

    return write


def github_failure(
    exc: ApiError | GitHubGaveUp | gidgethub.GitHubException, call: Call
) -> ApiError:
    """The API's answer for a call that failed at GitHub (logged), or an ApiError as it is:
    503 with Retry-After when GitHub kept failing or limiting, 502 when it refused."""
    if isinstance(exc, ApiError):
        return exc
    where = {"call": call.id, "operation": call.op.id}
    if isinstance(exc, GitHubGaveUp):
        log.warning("API call: GitHub gave up: %s", exc.reason, extra=where)
        retry = {"Retry-After": str(GITHUB_RETRY_AFTER)}
        return ApiError(503, "github_unavailable",
                        "GitHub is failing or limiting selfheal's calls; retry later",
                        headers=retry)  # fmt: skip
    log.warning("API call: GitHub refused: %s", type(exc).__name__, extra=where)
    return ApiError(502, "github_refused", "GitHub refused selfheal's call")


async def _run(call: Call, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(call)
    except web.HTTPException:
        raise
    except (ApiError, GitHubGaveUp, gidgethub.GitHubException) as exc:
        return _error(github_failure(exc, call), call.id)
    except Exception:
        log.exception("API call failed", extra={"call": call.id, "operation": call.op.id})
        return _error(ApiError(500, "internal", "the server failed; see its log"), call.id)


async def _limited(call: Call, handler: Handler) -> web.StreamResponse:
    token = call.need_token()
    limiter = call.state.limiter
    wait = limiter.acquire(token.name, time.monotonic())
    if wait is not None:
        exc = ApiError(429, "rate_limited", "over the token's limit; retry later",
                       headers={"Retry-After": str(wait)}, extra={"retry_after": wait})  # fmt: skip
        return _error(exc, call.id)
    try:
        return await _run(call, handler)
    finally:
        limiter.release(token.name)


def _guard(
    op: Operation, handler: Handler
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def guarded(request: web.Request) -> web.StreamResponse:
        call_id = "call_" + secrets.token_hex(8)
        started = time.monotonic()
        if op.scope is None:
            return await _run(Call(request, op, call_id, None), handler)
        try:
            token = await authenticate(request)
        except ApiError as exc:
            log.warning("API call refused: %s", exc.message,
                        extra={"call": call_id, "operation": op.id})  # fmt: skip
            return _error(exc, call_id)
        return await serve(Call(request, op, call_id, token), handler, started)

    return guarded


async def serve(call: Call, handler: Handler, started: float) -> web.StreamResponse:
    """An authenticated call: the scope check (403), the token's limits, the handler, and the
    audit entry. The API's routes and the web dashboard's buttons both come through here."""
    token = call.need_token()
    if call.op.scope in token.scopes:
        response = await _limited(call, handler)
    else:
        response = _error(errors.forbidden(f"the token lacks the {call.op.scope!r} scope"), call.id)
    response.headers["X-Request-Id"] = call.id
    try:
        await call.ledger.awrite(_audit_call(call, response.status, started))
    except Exception:
        log.exception("could not audit an API call", extra={"call": call.id})
    return response


def mount(
    app: web.Application, handlers: Mapping[str, Handler], operations: tuple[Operation, ...]
) -> None:
    for op in operations:
        app.router.add_route(op.method, op.path, _guard(op, handlers[op.id]))
