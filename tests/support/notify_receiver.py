"""A signed-notification receiver on loopback, for the end-to-end tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from selfheal.model.notifications import verify

SECRET = "notify-secret-for-the-tests"


@dataclass
class Receiver:
    """A webhook receiver on loopback: answers ``fail_first`` requests with 500, then 200."""

    fail_first: int = 0
    always_fail: bool = False
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.got.append((dict(request.headers), body))
        if self.always_fail or len(self.got) <= self.fail_first:
            return web.Response(status=500, text="down")
        return web.Response(text="ok")

    def events(self) -> list[dict[str, Any]]:
        """The bodies that were answered 200 and carry a valid signature."""
        out = []
        for n, (headers, body) in enumerate(self.got, start=1):
            ok = not self.always_fail and n > self.fail_first
            if ok and verify(body, SECRET, headers.get("X-Selfheal-Signature-256", "")):
                out.append(json.loads(body))
        return out


@asynccontextmanager
async def receiving(receiver: Receiver) -> AsyncIterator[Receiver]:
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    receiver.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()
