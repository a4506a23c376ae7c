"""The API's operations for another front end (the web dashboard's buttons).

:func:`perform` runs one operation of :data:`~selfheal.api.openapi.OPERATIONS` for a token
that front end has already authenticated, through the same path as the API's own route
(:func:`selfheal.api.web.serve`): the scope check, the token's limits, the handler with its
permission rules, and the ``api.call`` audit entry. The body is given as data, not read
from the request, so a form post can act without a JSON body.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from selfheal.api.handlers import HANDLERS
from selfheal.api.openapi import OPERATIONS
from selfheal.api.tokens import Token
from selfheal.api.web import Call, serve

_BY_ID = {op.id: op for op in OPERATIONS}


@dataclass(frozen=True)
class Outcome:
    """What the operation answered: its status and its JSON body."""

    status: int
    data: dict[str, Any]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        return str(self.data.get("message") or "")


async def perform(
    request: web.Request,
    token: Token,
    operation: str,
    *,
    body: Mapping[str, Any] | None = None,
    params: Mapping[str, str] | None = None,
    via: str = "dashboard",
) -> Outcome:
    """Run the API operation ``operation`` (its id, e.g. ``halt``) as ``token``."""
    op = _BY_ID[operation]
    call = Call(request, op, "call_" + secrets.token_hex(8), token, body_cache=dict(body or {}),
                params=dict(params or {}), via=via)  # fmt: skip
    response = await serve(call, HANDLERS[operation], time.monotonic())
    raw = response.body if isinstance(response, web.Response) else None
    try:
        data = json.loads(raw) if isinstance(raw, bytes | bytearray) else {}
    except ValueError:
        data = {}
    return Outcome(response.status, data if isinstance(data, dict) else {})
