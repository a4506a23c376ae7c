"""The aiohttp application: ``POST /webhook``, ``GET /healthz``, ``GET /metrics``.

The webhook endpoint only verifies, records and answers: it checks the body size and the
``X-Hub-Signature-256`` HMAC (through gidgethub, always with the secret), records the
delivery and enqueues its ``webhook`` job in one ledger transaction, and answers 202. It never
calls GitHub. A delivery id seen before is answered ``200 duplicate`` and creates nothing.

:func:`create_app` builds the application; the worker and the shared ``ClientSession`` start
and stop with it (``cleanup_ctx``). Nothing runs at import time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from email.message import Message
from typing import Any

import aiohttp
import gidgethub
from aiohttp import web
from gidgethub.sansio import Event

from selfheal.config.metrics import CONTENT_TYPE, AppMetrics
from selfheal.config.settings import Settings
from selfheal.ledger import Ledger, deliveries, jobs
from selfheal.runtime.worker import Dispatch, GitHubFactory, Worker

log = logging.getLogger(__name__)

MAX_BODY = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MiB
MAX_DELIVERY_ID = 128
UTF8_NAMES = frozenset({"utf-8", "utf8"})
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
HEALTH_TIMEOUT = 5.0
LEDGER: web.AppKey[Ledger] = web.AppKey("ledger", Ledger)
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
METRICS: web.AppKey[AppMetrics] = web.AppKey("metrics", AppMetrics)
WORKER: web.AppKey[Worker] = web.AppKey("worker", Worker)


def _answer(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"status": message, **extra}, status=status)


def _payload_text(body: bytes, content_type: str, data: Any) -> str | None:
    """The payload as stored: the body itself when it is UTF-8 JSON, else the decoded data
    re-encoded (another charset, or a form-encoded body). None when the data cannot be stored
    in SQLite (unpaired surrogates), which only a hostile sender produces."""
    message = Message()
    message["content-type"] = content_type
    charset = str(message.get_param("charset") or "utf-8").lower().replace("_", "-")
    text: str | None = None
    if message.get_content_type() == "application/json" and charset in UTF8_NAMES:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    if text is None:
        text = json.dumps(data)
    # text holds no surrogate itself (it is strict UTF-8, or json.dumps' ASCII), so one in data
    # shows in text as a \uD800-\uDFFF escape. Only then is data encoded whole (~0.3 ms for a
    # pull_request payload, as long as verifying it) to tell a stray from a pair.
    if _SURROGATE_ESCAPE.search(text) is None:
        return text
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return None
    return text


def _count(request: web.Request, event: str, outcome: str) -> None:
    request.app[METRICS].deliveries.inc({"event": event, "outcome": outcome})


async def webhook(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    if request.content_length is not None and request.content_length > MAX_BODY:
        _count(request, "unverified", "too_large")
        return _answer(413, "payload too large", limit=MAX_BODY)
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        _count(request, "unverified", "too_large")
        return _answer(413, "payload too large", limit=MAX_BODY)
    signature = request.headers.get("X-Hub-Signature-256", "")
    if not signature:
        _count(request, "unverified", "bad_signature")
        return _answer(401, "missing X-Hub-Signature-256")
    if not signature.startswith("sha256="):
        # gidgethub's validator also takes a SHA-1 HMAC ("sha1=") in this header: refuse it.
        _count(request, "unverified", "bad_signature")
        return _answer(401, "bad signature")
    headers = {
        "content-type": request.headers.get("Content-Type", ""),
        "x-hub-signature-256": signature,
        "x-github-event": request.headers.get("X-GitHub-Event", ""),
        "x-github-delivery": request.headers.get("X-GitHub-Delivery", ""),
    }
    try:
        event = Event.from_http(headers, body, secret=settings.webhook_secret.get())
    except gidgethub.ValidationFailure:
        _count(request, "unverified", "bad_signature")
        return _answer(401, "bad signature")
    except (gidgethub.BadRequest, ValueError, LookupError, RecursionError):
        # ValueError covers UnicodeDecodeError; LookupError an unknown charset; RecursionError
        # JSON nested too deeply for the decoder. All are the sender's fault: 400, not 500.
        _count(request, "unknown", "bad_request")
        return _answer(400, "malformed body: expected JSON")
    delivery_id = event.delivery_id
    if not event.event or not delivery_id:
        _count(request, "unknown", "bad_request")
        return _answer(400, "missing X-GitHub-Event or X-GitHub-Delivery")
    if len(delivery_id) > MAX_DELIVERY_ID or not delivery_id.isprintable():
        _count(request, "unknown", "bad_request")
        return _answer(400, "invalid X-GitHub-Delivery")
    if not isinstance(event.data, dict):
        _count(request, event.event, "bad_request")
        return _answer(400, "malformed body: expected a JSON object")
    text = _payload_text(body, headers["content-type"], event.data)
    if text is None:
        _count(request, event.event, "bad_request")
        return _answer(400, "malformed body: not storable (unpaired surrogates?)")
    ledger = request.app[LEDGER]
    max_attempts = settings.job_max_attempts
    try:
        job_id = await ledger.awrite(
            lambda c: deliveries.accept_delivery(
                c, delivery_id, event.event, text, event.data, max_attempts=max_attempts
            )
        )
    except Exception:
        log.exception("could not record delivery", extra={"delivery": delivery_id})
        _count(request, event.event, "error")
        return _answer(503, "ledger unavailable")
    if job_id is None:
        _count(request, event.event, "duplicate")
        return _answer(200, "duplicate", delivery=delivery_id)
    _count(request, event.event, "accepted")
    worker = request.app.get(WORKER)
    if worker is not None:
        worker.notify()
    log.info(
        "delivery accepted",
        extra={"delivery": delivery_id, "event": event.event, "job_id": job_id},
    )
    return _answer(202, "queued", delivery=delivery_id, job=job_id)


async def healthz(request: web.Request) -> web.Response:
    ledger = request.app[LEDGER]
    details: dict[str, Any] = {}
    healthy = True
    try:
        await asyncio.wait_for(
            ledger.aread(lambda c: c.execute("SELECT 1").fetchone()), HEALTH_TIMEOUT
        )
        details["ledger"] = {"ok": True}
    except Exception as exc:
        healthy = False
        details["ledger"] = {"ok": False, "error": type(exc).__name__}
    worker = request.app.get(WORKER)
    if worker is None or worker.concurrency == 0:
        details["worker"] = {"ok": True, "enabled": False}
    else:
        age = worker.heartbeat_age()
        limit = max(30.0, 3 * worker.poll_interval, worker.lease_seconds)
        alive = age is not None and age <= limit and worker.loops_alive()
        healthy = healthy and alive
        details["worker"] = {
            "ok": alive,
            "enabled": True,
            "workers": worker.concurrency,
            "running_jobs": len(worker.running),
            "last_heartbeat_age_seconds": None if age is None else round(age, 3),
        }
    details["status"] = "ok" if healthy else "unhealthy"
    return web.json_response(details, status=200 if healthy else 503)


async def metrics_endpoint(request: web.Request) -> web.Response:
    app_metrics = request.app[METRICS]
    try:
        depth, oldest = await request.app[LEDGER].aread(
            lambda c: (jobs.depth(c), jobs.oldest_due_age(c))
        )
        app_metrics.set_queue_depth(depth, oldest)
    except Exception:
        log.exception("could not read the queue depth")
    return web.Response(body=app_metrics.render().encode(), headers={"Content-Type": CONTENT_TYPE})


def default_github_factory(settings: Settings, metrics: AppMetrics) -> tuple[GitHubFactory, Any]:
    """A factory over app.github (one ClientSession, cached installation tokens)."""
    from selfheal.github.auth import AppAuth
    from selfheal.github.client import ClientHooks

    state: dict[str, Any] = {}

    async def factory(installation_id: int | None) -> Any:
        auth: AppAuth | None = state.get("auth")
        if auth is None:
            session = aiohttp.ClientSession()
            state["session"] = session
            auth = AppAuth(
                settings.app_id,
                settings.private_key.get(),
                session=session,
                base_url=settings.api_url,
                hooks=ClientHooks(on_call=metrics.on_github_call),
            )
            state["auth"] = auth
        if installation_id is None:
            return auth.app_client()
        return await auth.installation_client(installation_id)

    return factory, state


def create_app(
    settings: Settings,
    *,
    ledger: Ledger,
    github_factory: GitHubFactory | None = None,
    handlers: Sequence[Dispatch] | None = None,
    metrics: AppMetrics | None = None,
    start_worker: bool = True,
) -> web.Application:
    """Build the application. ``handlers`` replaces the default dispatch hooks."""
    app = web.Application(client_max_size=MAX_BODY)
    app_metrics = metrics or AppMetrics()
    app[SETTINGS] = settings
    app[LEDGER] = ledger
    app[METRICS] = app_metrics
    factory_state: Any = None
    if github_factory is None:
        github_factory, factory_state = default_github_factory(settings, app_metrics)
    worker = Worker(
        ledger,
        concurrency=settings.workers if start_worker else 0,
        github_factory=github_factory,
        dispatchers=handlers,
        metrics=app_metrics,
        lease_seconds=settings.job_lease_seconds,
        max_attempts=settings.job_max_attempts,
        backoff_base=settings.job_backoff_base,
        backoff_max=settings.job_backoff_max,
        poll_interval=settings.poll_interval,
        cancel_grace=settings.cancel_grace_seconds,
        job_timeout=settings.job_timeout_seconds,
        data_dir=settings.data_dir,
    )
    app[WORKER] = worker

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        started = time.monotonic()
        await worker.start()
        log.info("worker started", extra={"workers": worker.concurrency})
        yield
        await worker.stop(timeout=settings.shutdown_grace_seconds)
        if isinstance(factory_state, dict) and "session" in factory_state:
            await factory_state["session"].close()
        log.info("stopped", extra={"uptime_seconds": round(time.monotonic() - started, 1)})

    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/webhook", webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_endpoint)
    return app
