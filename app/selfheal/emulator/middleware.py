"""The REST middleware: request id, fault switches, authentication, rate-limit accounting,
GitHub-style error bodies, and optional recording of exchanges for the contract suite."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Middleware

from .auth import identify
from .context import IDENTITY_KEY
from .faults import fault_free
from .responses import MEDIA_HEADERS, ApiError

if TYPE_CHECKING:
    from .emulator import Emulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOG = logging.getLogger("github_emulator")


@dataclass(frozen=True)
class Exchange:
    """One recorded REST request/response (enable with ``emulator.record_exchanges = True``),
    for end-to-end tests that count what the app sent."""

    method: str
    path: str
    template: str
    query: dict[str, str]
    request_body: bytes
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str]


def api_middleware(emu: Emulator) -> Middleware:
    """The middleware for ``emu``'s aiohttp application."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        rid = uuid.uuid4().hex[:20].upper()
        if fault_free(request):
            resp = await handler(request)
            resp.headers["X-GitHub-Request-Id"] = rid
            return resp
        rate: dict[str, str] = {}
        try:
            await emu.faults.before(rid)
            ident = identify(emu.world, request)
            request[IDENTITY_KEY] = ident
            if request.path != "/rate_limit":
                resource = "search" if request.path.startswith("/search/") else "core"
                who = (
                    f"installation ID {ident.installation.id}"
                    if ident.installation
                    else (ident.user.login if ident.user else "127.0.0.1")
                )
                rate = emu.faults.charge(ident.rate_key, resource, ident.kind == "anonymous", who)
            resp = await handler(request)
        except ApiError as err:
            resp = err.response()
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):  # GitHub: 404 for both
            resp = ApiError(404, "Not Found").response()
        except Exception:  # an emulator bug: answer like GitHub's 500, keep the traceback
            LOG.exception("emulator error on %s %s", request.method, request.path)
            resp = ApiError(500, "Server Error").response()
        resp.headers.update(rate)
        resp.headers.update(MEDIA_HEADERS)
        resp.headers["X-GitHub-Request-Id"] = rid
        if emu.record_exchanges and isinstance(resp, web.Response):
            emu.exchanges.append(
                Exchange(
                    method=request.method,
                    path=request.path,
                    template=request.match_info.route.resource.canonical
                    if request.match_info.route.resource
                    else request.path,
                    query=dict(request.query),
                    request_body=await request.read() if request.can_read_body else b"",
                    status=resp.status,
                    content_type=resp.content_type,
                    body=resp.body if isinstance(resp.body, bytes) else b"",
                    headers=dict(resp.headers),
                )
            )
        return resp

    return middleware
