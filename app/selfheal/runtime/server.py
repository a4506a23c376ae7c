"""The aiohttp application: ``POST /webhook``, ``GET /healthz``, ``GET /metrics``.

The webhook endpoint only verifies, records and answers: the checks themselves (body size,
the ``X-Hub-Signature-256`` HMAC, the headers and the JSON body) are the sans-I/O functions of
:mod:`selfheal.runtime.intake`. The handler refuses what the headers alone condemn before
reading any of the body, streams the rest through the size cap and the HMAC within a memory
budget (signed bodies wait for room, they are never refused for load), records an accepted
delivery and enqueues its ``webhook`` job in one ledger transaction, and answers 202. It never calls
GitHub. A delivery id seen before is answered ``200 duplicate`` and creates nothing.

:func:`create_app` builds the application; the worker and the shared ``ClientSession`` start
and stop with it (``cleanup_ctx``). Nothing runs at import time.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from selfheal.config.metrics import CONTENT_TYPE, AppMetrics
from selfheal.config.settings import Settings
from selfheal.ledger import Ledger, deliveries, jobs, monitor
from selfheal.runtime import intake
from selfheal.runtime.budget import MemoryBudget
from selfheal.runtime.context import GitHubFactory, Wiring
from selfheal.runtime.intake import MAX_BODY, Delivery, Envelope, Refusal
from selfheal.runtime.worker import Worker, WorkerConfig

log = logging.getLogger(__name__)

HEALTH_TIMEOUT = 5.0
# Request bodies held in memory at once, in bytes (see runtime/budget.py): past this, signed
# deliveries wait for room instead of being refused.
BODY_MEMORY = 64 * 1024 * 1024
LEDGER: web.AppKey[Ledger] = web.AppKey("ledger", Ledger)
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
METRICS: web.AppKey[AppMetrics] = web.AppKey("metrics", AppMetrics)
WORKER: web.AppKey[Worker] = web.AppKey("worker", Worker)
BODY_BUDGET: web.AppKey[MemoryBudget] = web.AppKey("body_budget", MemoryBudget)


class ClientErrorLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server logger, except that a request the HTTP parser rejects (too many
    headers, an oversized one, a bad request line: anyone who can reach the port can send one)
    is one warning line, not an error with a traceback. Other errors are logged unchanged."""

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        if not isinstance(exc_info, HttpProcessingError):
            super().exception(msg, *args, exc_info=exc_info, **kwargs)
            return
        text = str(msg) % args if args else str(msg)
        reason = " ".join(str(exc_info.message).split())[:200]
        self.warning("%s: %s %s", text, exc_info.code, reason)


def _answer(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"status": message, **extra}, status=status)


def _count(request: web.Request, event: str, outcome: str) -> None:
    request.app[METRICS].deliveries.inc({"event": event, "outcome": outcome})


def _refuse(request: web.Request, refusal: Refusal) -> web.Response:
    _count(request, refusal.event, refusal.outcome)
    extra = {} if refusal.limit is None else {"limit": refusal.limit}
    return _answer(refusal.status, refusal.message, **extra)


async def _record(request: web.Request, delivery: Delivery) -> web.Response:
    """Record the delivery and its job in one ledger transaction, then answer."""
    ledger = request.app[LEDGER]
    max_attempts = request.app[SETTINGS].job_max_attempts
    delivery_id, event = delivery.delivery_id, delivery.event
    try:
        job_id = await ledger.awrite(
            lambda c: deliveries.accept_delivery(
                c, delivery_id, event, delivery.text, delivery.data, max_attempts=max_attempts
            )
        )
    except Exception:
        log.exception("could not record delivery", extra={"delivery": delivery_id})
        _count(request, event, "error")
        return _answer(503, "ledger unavailable")
    if job_id is None:
        _count(request, event, "duplicate")
        return _answer(200, "duplicate", delivery=delivery_id)
    _count(request, event, "accepted")
    worker = request.app.get(WORKER)
    if worker is not None:
        worker.notify()
    log.info("delivery accepted", extra={"delivery": delivery_id, "event": event, "job_id": job_id})
    return _answer(202, "queued", delivery=delivery_id, job=job_id)


async def _read_verified(request: web.Request, envelope: Envelope) -> Delivery | Refusal:
    """Stream the body through the size cap and the HMAC, then parse it."""
    signed = intake.SignedBody(request.app[SETTINGS].webhook_secret.get())
    async for chunk in request.content.iter_any():
        refusal = signed.feed(chunk)
        if refusal is not None:
            return refusal
    return signed.verify(envelope.signature) or intake.parse(envelope, signed.body())


async def webhook(request: web.Request) -> web.Response:
    envelope = intake.check_headers(request.headers)
    if isinstance(envelope, Refusal):
        return _refuse(request, envelope)  # before a byte of the body is read
    size = MAX_BODY if envelope.length is None else envelope.length
    async with request.app[BODY_BUDGET].reserve(size):
        result = await _read_verified(request, envelope)
        if isinstance(result, Refusal):
            return _refuse(request, result)
        return await _record(request, result)


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
        limit = max(30.0, 3 * worker.config.poll_interval, worker.config.lease_seconds)
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


def metrics_allowed(request: web.Request) -> bool:
    """With ``SELFHEAL_METRICS_TOKEN`` set, /metrics wants ``Authorization: Bearer <it>``."""
    token = request.app[SETTINGS].metrics_token
    if token is None:
        return True
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token.get()}".encode())


async def metrics_endpoint(request: web.Request) -> web.Response:
    if not metrics_allowed(request):
        return web.json_response(
            {"error": "unauthorized"}, status=401, headers={"WWW-Authenticate": "Bearer"}
        )
    app_metrics = request.app[METRICS]
    try:
        depth, oldest = await request.app[LEDGER].aread(
            lambda c: (jobs.depth(c), jobs.oldest_due_age(c))
        )
        app_metrics.set_queue_depth(depth, oldest)
        window = request.app[SETTINGS].monitor.window_days * 86_400
        app_metrics.set_monitor_stats(
            await request.app[LEDGER].aread(
                lambda c: monitor.stats(c, now=time.time(), window=window)
            )
        )
    except Exception:
        log.exception("could not read the queue depth or the monitor's statistics")
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


def worker_config(settings: Settings, *, start_worker: bool = True) -> WorkerConfig:
    """The worker's configuration from the server settings (no loops: ``start_worker``
    False)."""
    return WorkerConfig(
        concurrency=settings.workers if start_worker else 0,
        lease_seconds=settings.job_lease_seconds,
        max_attempts=settings.job_max_attempts,
        backoff_base=settings.job_backoff_base,
        backoff_max=settings.job_backoff_max,
        poll_interval=settings.poll_interval,
        cancel_grace=settings.cancel_grace_seconds,
        job_timeout=settings.job_timeout_seconds,
        data_dir=settings.data_dir,
        semgrep_engine=settings.semgrep_engine,
        max_open_prs=settings.max_open_prs,
        max_new_prs_per_hour=settings.max_new_prs_per_hour,
        notify_targets=settings.notify_targets,
        notify_secret=settings.notify_secret,
        secret_engine=settings.secret_engine,
        coding=settings.coding,
        monitor=settings.monitor,
    )


def create_app(
    settings: Settings,
    *,
    ledger: Ledger,
    wiring: Wiring,
    github_factory: GitHubFactory | None = None,
    metrics: AppMetrics | None = None,
    start_worker: bool = True,
) -> web.Application:
    """Build the application; the worker runs ``wiring`` (``selfheal.registry.compose``)."""
    # The body is never inflated: a compressed delivery is refused (415) unread.
    server_log = ClientErrorLog(logging.getLogger("aiohttp.server"))
    app = web.Application(
        client_max_size=MAX_BODY,
        handler_args={"auto_decompress": False, "logger": server_log},
    )
    app_metrics = metrics or AppMetrics()
    app[SETTINGS] = settings
    app[LEDGER] = ledger
    app[METRICS] = app_metrics
    app[BODY_BUDGET] = MemoryBudget(BODY_MEMORY)
    factory_state: Any = None
    if github_factory is None:
        github_factory, factory_state = default_github_factory(settings, app_metrics)
    worker = Worker(
        ledger,
        worker_config(settings, start_worker=start_worker),
        wiring=wiring,
        github_factory=github_factory,
        metrics=app_metrics,
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
    for setup in wiring.web:
        setup(app)
    return app
