"""Webhook deliveries: signed, queued, sent asynchronously in order, recorded, replayable.

Each delivery carries GitHub's headers (X-GitHub-Event, X-GitHub-Delivery, X-GitHub-Hook-ID,
X-GitHub-Hook-Installation-Target-ID/Type, X-Hub-Signature(-256), User-Agent GitHub-Hookshot).
Failures (connection refused, timeouts, non-2xx) are recorded on the delivery, never raised.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from .state import App

USER_AGENT = "GitHub-Hookshot/emulator"
SEND_TIMEOUT = 10.0


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    """One attempt to deliver an event; replays are new Delivery records with the same guid."""

    guid: str
    event: str
    action: str | None
    app: App
    url: str
    body: bytes
    headers: dict[str, str]
    redelivery: bool = False
    status: int | None = None  # the receiver's HTTP status, None until sent / on error
    error: str | None = None
    delivered_at: float | None = None
    response_body: str = ""
    sent: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def payload(self) -> Any:
        return json.loads(self.body)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookSender:
    """An ordered queue of deliveries and one background worker that sends them."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SEND_TIMEOUT))
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._worker:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
        if self._session:
            await self._session.close()

    def enqueue(self, app: App, event: str, payload: dict[str, Any]) -> Delivery | None:
        """Queue ``event`` for the App's webhook (an App's hook targets the App itself)."""
        if not app.webhook_url:
            return None
        body = json.dumps(payload, separators=(",", ":")).encode()
        guid = str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": guid,
            "X-GitHub-Hook-ID": str(app.hook_id),
            "X-GitHub-Hook-Installation-Target-ID": str(app.id),
            "X-GitHub-Hook-Installation-Target-Type": "integration",
            "X-Hub-Signature": "sha1="
            + hmac.new(app.webhook_secret.encode(), body, hashlib.sha1).hexdigest(),
            "X-Hub-Signature-256": sign(app.webhook_secret, body),
        }
        action = payload.get("action")
        delivery = Delivery(
            guid,
            event,
            action if isinstance(action, str) else None,
            app,
            app.webhook_url,
            body,
            headers,
        )
        self._push(delivery)
        return delivery

    def replay(self, delivery: Delivery) -> Delivery:
        """Redeliver: same guid, same body, same signature, sent again to the app's URL."""
        again = Delivery(
            delivery.guid,
            delivery.event,
            delivery.action,
            delivery.app,
            delivery.app.webhook_url or delivery.url,
            delivery.body,
            dict(delivery.headers),
            redelivery=True,
        )
        self._push(again)
        return again

    def _push(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        self._queue.put_nowait(delivery)

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until every queued delivery has been attempted."""
        await asyncio.wait_for(self._queue.join(), timeout)

    async def _run(self) -> None:
        while True:
            delivery = await self._queue.get()
            try:
                await self._send(delivery)
            finally:
                delivery.sent.set()
                self._queue.task_done()

    async def _send(self, delivery: Delivery) -> None:
        assert self._session is not None
        try:
            async with self._session.post(
                delivery.url, data=delivery.body, headers=delivery.headers
            ) as resp:
                delivery.status = resp.status
                delivery.response_body = (await resp.text())[:2000]
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"
        delivery.delivered_at = time.time()
