"""The job runner: N asyncio workers taking jobs from the ledger's durable queue.

The worker runs what it is wired with (:class:`selfheal.runtime.context.Wiring`, built by
the registry): the job kinds, their dead-letter hooks and the webhook dispatch hooks. The
built-in ``webhook`` kind loads the recorded delivery, notes its installation and
repositories, and passes a ``gidgethub.sansio.Event`` to every dispatch hook. The worker
imports no feature and no handler.

While a job runs its lease is extended in the background; if the lease is lost (another worker
took it over) the job is cancelled. :meth:`Worker.cancel_repository` stops the running jobs of
a halted repository: it sets their context's ``cancelled`` event at once (cooperative handlers
call ``ctx.raise_if_cancelled()``) and cancels the task after a grace period, so everything
stops within ``cancel_grace`` seconds; such jobs are dead-lettered with the reason. A job that
runs longer than ``job_timeout`` is cancelled and retried like any other failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gidgethub
from gidgethub.sansio import Event

from selfheal.config.coding import CodingSettings
from selfheal.config.metrics import AppMetrics
from selfheal.config.settings import MonitorOptions, Secret
from selfheal.github.client import GitHubGaveUp
from selfheal.ledger import Ledger, deliveries, installations, jobs
from selfheal.model.notifications import Target
from selfheal.runtime.context import (
    MALFORMED_PAYLOAD,
    Dispatch,
    GitHubFactory,
    JobCancelled,
    JobContext,
    JobHandler,
    PermanentError,
    Wiring,
    WorkerCaches,
)
from selfheal.runtime.logs import mask

log = logging.getLogger(__name__)

NOTED_MAX = 10_000
GONE_STATUSES = frozenset({404, 410})


@dataclass(frozen=True)
class WorkerConfig:
    """How the worker runs (from the server settings: SELFHEAL_WORKERS and the job
    settings). ``data_dir`` None: ``selfheal-data`` next to the ledger file."""

    concurrency: int = 2
    lease_seconds: float = 60.0
    max_attempts: int = 5
    backoff_base: float = 2.0
    backoff_max: float = 600.0
    poll_interval: float = 0.5
    cancel_grace: float = 5.0
    job_timeout: float = 1800.0
    data_dir: Path | None = None
    semgrep_engine: str | None = None
    # the operator's limits on the bot's PRs per repository (repositories may only lower them)
    max_open_prs: int = 3
    max_new_prs_per_hour: int = 5
    # where notifications go and the secret that signs them (operator settings)
    notify_targets: tuple[Target, ...] = ()
    notify_secret: Secret | None = None
    secret_engine: str | None = None  # SELFHEAL_SECRET_ENGINE (None: auto)
    coding: CodingSettings = field(default_factory=CodingSettings)  # agents, key, prices, budget
    monitor: MonitorOptions = field(default_factory=MonitorOptions)


def _gone(exc: Exception) -> bool:
    """GitHub said the repository, branch, installation or object is not there (404) or no
    longer is (410): retrying cannot change that. 5xx, rate limits and other transient
    states arrive as GitHubGaveUp after the client's own retries, and are retried."""
    return isinstance(exc, gidgethub.BadRequest) and exc.status_code in GONE_STATUSES


async def _no_github(installation_id: int | None) -> Any:
    raise PermanentError("no GitHub client factory configured")


@dataclass
class _Running:
    job: jobs.Job
    task: asyncio.Task[None]
    ctx: JobContext
    lease_lost: bool = False
    timed_out: bool = False


def _complete(
    conn: sqlite3.Connection,
    job_id: int,
    worker_id: str,
    writes: Sequence[Callable[[sqlite3.Connection], object]],
) -> bool:
    if not jobs.complete(conn, job_id, worker_id):
        return False  # the lease was lost: another worker owns the job and its effects
    for write in writes:
        write(conn)
    return True


def _installation_facts(event: str, data: Any) -> tuple[Any, ...] | None:
    """What note_payload would record; None when it must always run."""
    if event in ("installation", "installation_repositories") or not isinstance(data, dict):
        return None
    inst, repo = data.get("installation") or {}, data.get("repository") or {}
    if not isinstance(inst, dict) or not isinstance(repo, dict):
        return None
    account = inst.get("account")
    if not isinstance(account, dict):
        account = {}
    return (
        inst.get("id"), account.get("login"), account.get("type"), repo.get("id"),
        repo.get("full_name"), repo.get("default_branch"), repo.get("private"),
    )  # fmt: skip


async def handle_webhook(job: jobs.Job, ctx: JobContext) -> None:
    """The ``webhook`` job kind: hand a recorded delivery to the dispatch hooks."""
    delivery_id = str(job.payload.get("delivery_id", ""))
    delivery = await ctx.ledger.aread(lambda c: deliveries.get_delivery(c, delivery_id))
    if delivery is None:
        raise PermanentError(f"delivery {delivery_id!r} is not in the ledger")
    data = delivery.data()
    facts = _installation_facts(delivery.event, data)
    if facts is None or ctx.worker.noted.get(facts[3]) != facts:  # skip unchanged repositories
        await ctx.ledger.awrite(lambda c: installations.note_payload(c, delivery.event, data))
        if facts is not None:
            if len(ctx.worker.noted) > NOTED_MAX:
                ctx.worker.noted.clear()
            ctx.worker.noted[facts[3]] = facts
    ctx.installation_id = delivery.installation_id
    ctx.repository = delivery.repository
    event = Event(data, event=delivery.event, delivery_id=delivery_id)
    try:
        for hook in ctx.worker.dispatchers:
            ctx.raise_if_cancelled()
            try:
                await hook(event, ctx)
            except MALFORMED_PAYLOAD as exc:
                # A payload missing the fields its event promises (or holding the wrong types)
                # fails the same way on every attempt: dead-letter it now, with the reason.
                raise PermanentError(
                    f"malformed {delivery.event} payload: {type(exc).__name__}: {exc}"
                ) from exc
    except BaseException as exc:
        outcome = "cancelled" if isinstance(exc, JobCancelled | asyncio.CancelledError) else "error"
        ctx.metrics.processed.inc({"event": delivery.event, "outcome": outcome})
        await ctx.ledger.awrite(lambda c: deliveries.set_outcome(c, delivery_id, outcome))
        raise
    ctx.metrics.processed.inc({"event": delivery.event, "outcome": "processed"})
    ctx.when_done(lambda c: deliveries.set_outcome(c, delivery_id, "processed"))


class Worker:
    """Runs ``concurrency`` worker loops in the current event loop."""

    def __init__(
        self,
        ledger: Ledger,
        config: WorkerConfig | None = None,
        *,
        wiring: Wiring | None = None,
        github_factory: GitHubFactory | None = None,
        metrics: AppMetrics | None = None,
    ) -> None:
        self.ledger = ledger
        self.config = config or WorkerConfig()
        self.wiring = wiring or Wiring()
        self.github_factory: GitHubFactory = github_factory or _no_github
        self.metrics = metrics or AppMetrics()
        self.caches = WorkerCaches()
        self.data_dir = self.config.data_dir or ledger.path.parent / "selfheal-data"
        self.instance = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.running: dict[int, _Running] = {}
        # Installation/repository facts already recorded, by repository id (see handle_webhook).
        self.noted: dict[Any, tuple[Any, ...]] = {}
        self.last_heartbeat: float | None = None
        self._job_kinds: dict[str, JobHandler] = {
            deliveries.WEBHOOK_JOB: handle_webhook,
            **self.wiring.job_kinds,
        }
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._stopping = False

    @property
    def concurrency(self) -> int:
        return self.config.concurrency

    @property
    def dispatchers(self) -> tuple[Dispatch, ...]:
        return self.wiring.dispatchers

    def job_kinds(self) -> Mapping[str, JobHandler]:
        return self._job_kinds

    def notify(self) -> None:
        """Wake idle workers (called after an enqueue)."""
        self._wake.set()

    def heartbeat_age(self) -> float | None:
        if self.last_heartbeat is None:
            return None
        return time.monotonic() - self.last_heartbeat

    def loops_alive(self) -> bool:
        """True while every worker loop is still running."""
        return len(self._tasks) == self.concurrency and all(not t.done() for t in self._tasks)

    async def start(self) -> None:
        self._stopping = False
        self.last_heartbeat = time.monotonic()
        for n in range(self.concurrency):
            task = asyncio.create_task(self._loop(f"{self.instance}/{n}"), name=f"worker-{n}")
            self._tasks.append(task)

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop taking jobs, let running ones finish for ``timeout`` s, then release them."""
        self._stopping = True
        self._wake.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def cancel_repository(
        self, repository: str, reason: str = "repository halted", *, spare: int | None = None
    ) -> int:
        """Cancel the running jobs of ``repository`` except job ``spare`` (e.g. the job that
        is handling the halt itself); returns how many were signalled."""
        loop = asyncio.get_running_loop()
        count = 0
        for running in list(self.running.values()):
            if running.ctx.repository != repository and running.job.repository != repository:
                continue
            if running.job.id == spare:
                continue
            running.ctx.cancel_reason = reason
            running.ctx.cancelled.set()
            loop.call_later(self.config.cancel_grace, running.task.cancel)
            count += 1
        return count

    async def _loop(self, worker_id: str) -> None:
        while not self._stopping:
            self.last_heartbeat = time.monotonic()
            try:
                job = await self.ledger.awrite(
                    lambda c: jobs.lease(
                        c, worker_id, self.config.lease_seconds, hooks=self.wiring.dead_letter
                    )
                )
            except Exception:
                log.exception("could not lease a job")
                await asyncio.sleep(self.config.poll_interval)
                continue
            if job is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.config.poll_interval)
                continue
            await self._run(job, worker_id)

    async def _run(self, job: jobs.Job, worker_id: str) -> None:
        handler = self.job_kinds().get(job.kind)
        started = time.monotonic()
        self.metrics.job_wait.observe(max(0.0, time.time() - job.run_after), {"kind": job.kind})
        if handler is None:
            await self._finish(job, worker_id, "dead", f"no handler for job kind {job.kind!r}")
            return
        ctx = JobContext(job=job, ledger=self.ledger, worker=self, repository=job.repository)
        ctx.log = logging.LoggerAdapter(log, {"job_id": job.id, "kind": job.kind})

        async def call() -> None:
            await handler(job, ctx)

        task = asyncio.create_task(call(), name=f"job-{job.id}")
        running = _Running(job, task, ctx)
        self.running[job.id] = running
        keeper = asyncio.create_task(self._keep_lease(running, worker_id))
        loop = asyncio.get_running_loop()
        deadline = loop.call_later(self.config.job_timeout, self._time_out, running)
        result = "done"
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():  # the worker itself is being cancelled (shutdown)
                await self._stop_for_shutdown(running, worker_id)
                raise
            result = await self._cancelled(running, worker_id)
        except Exception as exc:
            result = await self._failed(running, worker_id, exc)
        else:
            await self.ledger.awrite(lambda c: _complete(c, job.id, worker_id, ctx.on_success))
        finally:
            keeper.cancel()
            deadline.cancel()
            self.running.pop(job.id, None)
            self.metrics.job_duration.observe(
                time.monotonic() - started, {"kind": job.kind, "result": result}
            )

    async def _stop_for_shutdown(self, running: _Running, worker_id: str) -> None:
        """The worker is stopping: cancel the job and hand it back to the queue."""
        running.task.cancel()
        with contextlib.suppress(BaseException):
            await running.task
        await self._release(running.job, worker_id)

    async def _cancelled(self, running: _Running, worker_id: str) -> str:
        """The job's task was cancelled: by a halt (dead), its timeout or its own code
        (retried), or a lost lease (the new holder owns it). Returns the metrics result."""
        job, ctx = running.job, running.ctx
        if ctx.cancelled.is_set():  # halted: do not run again
            await self._finish(job, worker_id, "dead", f"cancelled: {ctx.cancel_reason}")
            return "cancelled"
        if running.timed_out:
            error = f"timed out after {self.config.job_timeout:g} s"
            await self._finish(job, worker_id, "retry", error)
            return "failed"
        if not running.lease_lost:  # cancelled from inside the handler: a failure
            await self._finish(job, worker_id, "retry", "CancelledError: cancelled")
            return "failed"
        return "cancelled"

    async def _failed(self, running: _Running, worker_id: str, exc: Exception) -> str:
        """The job raised: a halt and a permanent error end it, anything else is retried.
        Returns the metrics result."""
        job = running.job
        if isinstance(exc, JobCancelled):
            await self._finish(job, worker_id, "dead", f"cancelled: {exc}")
            return "cancelled"
        if isinstance(exc, PermanentError) or _gone(exc):
            await self._finish(job, worker_id, "dead", f"{type(exc).__name__}: {exc}")
            return "dead"
        # GitHub giving up after its bounded retries is an explained, expected failure: its
        # reason says it all. Anything else gets a traceback for the operator.
        explained = isinstance(exc, GitHubGaveUp)
        running.ctx.log.warning(
            "job failed: %s: %s", type(exc).__name__, exc, exc_info=not explained
        )
        await self._finish(job, worker_id, "retry", f"{type(exc).__name__}: {exc}")
        return "failed"

    def _time_out(self, running: _Running) -> None:
        running.timed_out = True
        running.task.cancel()

    async def _keep_lease(self, running: _Running, worker_id: str) -> None:
        job, task = running.job, running.task
        interval = max(0.2, self.config.lease_seconds / 3)
        while not task.done():
            await asyncio.sleep(interval)
            self.last_heartbeat = time.monotonic()
            try:
                held = await self.ledger.awrite(
                    lambda c: jobs.heartbeat(c, job.id, worker_id, self.config.lease_seconds)
                )
            except Exception:
                log.exception("lease heartbeat failed", extra={"job_id": job.id})
                continue
            if not held:
                log.warning("lease lost; stopping the job", extra={"job_id": job.id})
                running.lease_lost = True
                task.cancel()
                return

    async def _finish(self, job: jobs.Job, worker_id: str, mode: str, error: str) -> None:
        error = mask(error)
        status = await self.ledger.awrite(
            lambda c: jobs.fail(
                c, job.id, worker_id, error, retry=(mode == "retry"),
                backoff_base=self.config.backoff_base, backoff_max=self.config.backoff_max,
                hooks=self.wiring.dead_letter,
            )
        )  # fmt: skip
        if status == "dead":
            log.error("job dead-lettered", extra={"job_id": job.id, "kind": job.kind,
                                                  "reason": error})  # fmt: skip

    async def _release(self, job: jobs.Job, worker_id: str) -> None:
        with contextlib.suppress(Exception):
            await asyncio.shield(self.ledger.awrite(lambda c: jobs.release(c, job.id, worker_id)))
