"""Sending notifications: the outbox in the ledger and the ``notify`` job.

:func:`emit` is what a feature calls when something people must hear about happens. It
stores one signed body per operator target and queues a ``notify`` job for each. The job
POSTs the body; a failure (a connection error, a timeout, a status outside 2xx) is recorded as
an attempt and retried by the worker with its backoff, and the last failure marks the
notification failed. Notification jobs belong to no repository, so a halt (which cancels a
repository's jobs) never stops the notice that it happened; nothing waits on a delivery.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Sequence

import aiohttp

from selfheal.config.settings import Secret
from selfheal.github.repo import repo_config
from selfheal.ledger import jobs, notifications
from selfheal.model.notifications import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    Notification,
    Target,
    body_for,
    choose,
    sign,
)
from selfheal.model.repo_config import ConfigError
from selfheal.runtime.context import JobContext

NOTIFY_JOB = "notify"
TIMEOUT_SECONDS = 10.0
MAX_RESPONSE = 64 * 1024


class DeliveryFailed(Exception):
    """A delivery attempt failed; the worker retries the job with backoff."""


def target_key(target: Target) -> str:
    return hashlib.sha256(target.url.encode()).hexdigest()[:16]


def _targets(ctx: JobContext) -> tuple[tuple[Target, ...], Secret | None]:
    config = ctx.worker.config
    return config.notify_targets, config.notify_secret


async def _wanted(ctx: JobContext, note: Notification) -> bool:
    """The repository's config picks its events; an unreadable config gets them all (a
    broken file must not silence a notice about it)."""
    gh = await ctx.github()
    config = await repo_config(gh, note.repository, ctx.caches.config_text)
    if isinstance(config, ConfigError):
        return True
    return choose(config.notifications.events, note.event)


async def emit(ctx: JobContext, note: Notification) -> int:
    """Queue ``note`` for every operator target; returns how many were queued."""
    targets, secret = _targets(ctx)
    if not targets or secret is None or not await _wanted(ctx, note):
        return 0
    for target in targets:
        await _queue(ctx, note, target)
    ctx.worker.notify()
    return len(targets)


async def _queue(ctx: JobContext, note: Notification, target: Target) -> None:
    nid, at = notifications.new_id(), time.time()
    body = body_for(target, note, nid, at)
    await ctx.ledger.awrite(lambda c: notifications.add(
        c, note.event, note.repository, target_key(target), target.shown, body,
        notification_id=nid, now=at))  # fmt: skip
    await ctx.ledger.awrite(lambda c: jobs.enqueue(
        c, NOTIFY_JOB, {"notification": nid}, key=f"notify:{nid}", repository=None,
        max_attempts=ctx.worker.config.max_attempts))  # fmt: skip


async def _post(target: Target, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.post(
                target.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.content.read(MAX_RESPONSE)
                ok = 200 <= response.status < 300
                return response.status, "" if ok else f"HTTP {response.status}"
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        return None, type(exc).__name__  # never the URL: it may carry a secret


def _find(targets: Sequence[Target], key: str) -> Target | None:
    return next((t for t in targets if target_key(t) == key), None)


async def deliver(job: jobs.Job, ctx: JobContext) -> None:
    """The ``notify`` job: one attempt to deliver one notification."""
    nid = str(job.payload["notification"])
    out = await ctx.ledger.aread(lambda c: notifications.get(c, nid))
    if out is None or out.status != "pending":
        return
    targets, secret = _targets(ctx)
    target = _find(targets, out.target_key)
    if target is None or secret is None:
        reason = "the target is no longer configured"
        await ctx.ledger.awrite(lambda c: notifications.mark_failed(c, nid, reason))
        return
    headers = {"Content-Type": "application/json", "User-Agent": "selfheal-notify",
               SIGNATURE_HEADER: sign(out.body, secret.get()), EVENT_HEADER: out.event,
               DELIVERY_HEADER: nid}  # fmt: skip
    started = time.monotonic()
    status, error = await _post(target, out.body, headers)
    delivered = not error
    final = not delivered and job.attempts >= job.max_attempts
    await ctx.ledger.awrite(lambda c: notifications.record_attempt(
        c, nid, status_code=status, error=error, seconds=time.monotonic() - started,
        delivered=delivered, final=final))  # fmt: skip
    if not delivered and not final:
        raise DeliveryFailed(f"notification {nid} to {target.shown}: {error}")


def dead_letter(conn: sqlite3.Connection, job: jobs.Job, reason: str) -> None:
    """The job gave up: the notification is failed (the bot carries on regardless)."""
    notifications.mark_failed(conn, str(job.payload.get("notification") or ""), reason)
