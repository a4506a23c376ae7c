"""A real webhook receiver on 127.0.0.1 for tests: verifies each delivery with
gidgethub.sansio.Event.from_http and keeps the events (and how many were rejected)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from gidgethub import BadRequest, ValidationFailure, sansio


@dataclass
class WebhookReceiver:
    secret: str
    status: int = 202  # what to answer (set 500 to simulate a failing receiver)
    events: list[sansio.Event] = field(default_factory=list)
    rejected: int = 0
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/webhook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/webhook"
        return self.url

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            event = sansio.Event.from_http(request.headers, body, secret=self.secret)
        except (ValidationFailure, BadRequest):
            self.rejected += 1
            return web.Response(status=401)
        self.events.append(event)
        return web.Response(status=self.status)

    def seen(self, event: str, action: str | None = None) -> list[sansio.Event]:
        return [
            e
            for e in self.events
            if e.event == event and (action is None or e.data.get("action") == action)
        ]
