"""Endpoint probes: the ``monitor_tick`` job, the monitor's scheduler in the worker.

A tick runs every ``SELFHEAL_MONITOR_TICK_SECONDS``: for each installed repository it reads
``monitor.endpoints`` from ``.github/selfheal.yml`` and, for each endpoint whose slot is due,
claims the slot in the ledger (:func:`selfheal.ledger.monitor.claim_slot`: the next run time
moves forward in the same transaction, so a restarted worker or a second worker never runs a
slot twice), probes it, and hands a failure to the monitor's sink. Then it queues the next
tick in the transaction that marks it done; one tick chain is active at a time (its job key).
An installation or a push to a default branch starts the chain when none is queued.

A probe is a request from the App's server to a URL a repository chose (server-side request
forgery), so only hosts on the operator's ``SELFHEAL_MONITOR_PROBE_HOSTS`` allow-list are
probed, never a link-local (cloud metadata) address, without following redirects, within the
endpoint's timeout (at most 30 s), and without reading the response body.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
import urllib.parse
from collections.abc import Sequence
from typing import Any

import aiohttp

from selfheal.github.repo import repo_config
from selfheal.ledger import jobs
from selfheal.ledger import monitor as store
from selfheal.model.repo_config import ConfigError, EndpointProbe
from selfheal.monitor.filing import limits_from
from selfheal.monitor.ingest import Ingest
from selfheal.monitor.security import queue_scan
from selfheal.runtime.context import JobContext

TICK_JOB = "monitor_tick"
MAX_TIMEOUT = 30.0


def host_allowed(url: str, allowed: Sequence[str]) -> bool:
    """Whether ``url`` is http(s) on a host of the allow-list (``name`` or ``*.domain``)."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        return False
    for entry in allowed:
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and host != entry[2:]:
                return True
        elif host == entry:
            return True
    return False


async def _link_local(host: str, port: int) -> bool:
    """Whether ``host`` resolves to a link-local address (the cloud metadata service)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return False  # the probe itself fails to connect, and says so
    return any(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_link_local for info in infos)


async def probe(endpoint: EndpointProbe, allowed: Sequence[str]) -> tuple[bool, int | None, str]:
    """(healthy, status or None for a timeout or connection failure, why)."""
    if not host_allowed(endpoint.url, allowed):
        return True, None, "the host is not on SELFHEAL_MONITOR_PROBE_HOSTS: not probed"
    parts = urllib.parse.urlsplit(endpoint.url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if await _link_local(parts.hostname or "", port):
        return True, None, "the host resolves to a link-local address: not probed"
    timeout = aiohttp.ClientTimeout(total=min(endpoint.timeout_seconds, MAX_TIMEOUT))
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(endpoint.method, endpoint.url, allow_redirects=False) as response,
        ):
            status = response.status
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        return False, None, f"no answer: {type(exc).__name__}"
    if status == endpoint.expected_status:
        return True, status, "ok"
    return False, status, f"expected HTTP {endpoint.expected_status}, got {status}"


def _event(
    repo: str, endpoint: EndpointProbe, status: int | None, why: str, run: str
) -> dict[str, Any]:
    return {
        "source": "endpoint", "repository": repo, "severity": "high",
        "endpoint": {"url": endpoint.url, "method": endpoint.method, "status": status},
        "error_type": "EndpointTimeout" if status is None else "EndpointStatus",
        "message": why, "run_id": run,
    }  # fmt: skip


async def _scan_due(
    ctx: JobContext, repo: str, installation: int, owner: str, interval: float
) -> None:
    await ctx.ledger.awrite(lambda c: _scheduled_scan(c, repo, installation, owner, interval))


async def _claim(ctx: JobContext, name: str, interval: float, owner: str) -> float | None:
    slot: float | None = await ctx.ledger.awrite(
        lambda c: store.claim_slot(c, name, interval=interval, owner=owner)
    )
    return slot


async def _probe_repo(ctx: JobContext, repo: str, installation: int, owner: str) -> int:
    ctx.repository, ctx.installation_id = repo, installation
    config = await repo_config(await ctx.github(), repo, ctx.caches.config_text)
    if isinstance(config, ConfigError) or not config.monitor.enabled:
        return 0
    options = ctx.worker.config.monitor
    events = []
    for index, endpoint in enumerate(config.monitor.endpoints):
        name = f"probe:{repo.lower()}:{index}:{endpoint.method} {endpoint.url}"
        slot = await _claim(ctx, name, float(endpoint.interval_seconds), owner)
        if slot is None:
            continue
        healthy, status, why = await probe(endpoint, options.probe_hosts)
        if not healthy:
            events.append(_event(repo, endpoint, status, why, f"probe-{int(slot)}-{owner}"))
    if events:
        limits = limits_from(options).tightened(
            config.monitor.threshold, config.monitor.window_days
        )
        sink = Ingest(ctx.ledger, limits=limits, notify=ctx.worker.notify)
        await sink.record(events, reporter="probe", repository=repo)
    return len(events)


def _installed(conn: Any) -> list[tuple[str, int]]:
    rows = conn.execute(
        "SELECT r.full_name, r.installation_id FROM repositories r JOIN installations i"
        " ON i.id = r.installation_id WHERE r.removed_at IS NULL AND i.deleted_at IS NULL"
        " AND i.suspended_at IS NULL ORDER BY r.full_name"
    ).fetchall()
    return [(str(row[0]), int(row[1])) for row in rows]


def _scheduled_scan(conn: Any, repo: str, installation: int, owner: str, interval: float) -> None:
    """Queue the repository's scheduled security scan when its slot is due."""
    # The first scheduled scan is one interval away: pushes to the default branch are
    # scanned as they come, so an installation does not start with a whole-tree scan.
    slot = store.claim_slot(conn, f"scan:{repo.lower()}", interval=interval, owner=owner,
                            first_delay=interval)  # fmt: skip
    if slot is not None:
        queue_scan(conn, repo, installation, None)


def next_tick(conn: Any, tick_seconds: float, now: float | None = None) -> None:
    """Queue the next tick (none when one is queued already)."""
    at = time.time() if now is None else now
    jobs.enqueue(conn, TICK_JOB, {}, key=TICK_JOB, run_after=at + tick_seconds)


async def run_tick(job: jobs.Job, ctx: JobContext) -> None:
    """The ``monitor_tick`` job: due probes of every installed repository, then the next."""
    options = ctx.worker.config.monitor
    ctx.when_done(lambda c: next_tick(c, options.tick_seconds))
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    await ctx.ledger.awrite(lambda c: store.set_state(c, "last_check", stamp))
    for repo, installation in await ctx.ledger.aread(_installed):
        if options.scan_hours > 0:
            await _scan_due(ctx, repo, installation, f"job-{job.id}", options.scan_hours * 3600)
        if not options.probe_hosts:
            continue  # nothing may be probed
        try:
            await _probe_repo(ctx, repo, installation, f"job-{job.id}")
        except Exception:  # one repository's trouble must not stop the others' probes
            ctx.log.exception("monitor probes failed", extra={"repository": repo})


async def start_ticking(ctx: JobContext) -> None:
    """Start the tick chain unless a tick is queued or running."""
    await ctx.ledger.awrite(lambda c: next_tick(c, 0.0))
    ctx.worker.notify()
