"""The job runner against a real ledger: dispatch, retries, dead letter, halt cancellation."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from gidgethub.sansio import Event

from selfheal.ledger import Ledger, deliveries, jobs
from selfheal.runtime.context import JobContext, PermanentError, Wiring
from selfheal.runtime.worker import Worker, WorkerConfig
from tests.support.appcore import pull_request_payload, wait_for


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    led = Ledger.open(tmp_path / "w.db")
    yield led
    led.close()


def _status(ledger: Ledger, job_id: int) -> str | None:
    job = ledger.read(lambda c: jobs.get(c, job_id))
    return None if job is None else job.status


def _worker(ledger: Ledger, kinds: dict[str, Any], **kw: Any) -> Worker:
    options: dict[str, Any] = {"poll_interval": 0.02, "backoff_base": 0.0, "lease_seconds": 5.0}
    options.update(kw)
    return Worker(ledger, WorkerConfig(**options), wiring=Wiring(job_kinds=kinds))


async def test_retry_then_success(ledger: Ledger) -> None:
    calls: list[int] = []

    async def flaky(job: jobs.Job, ctx: JobContext) -> None:
        calls.append(job.attempts)
        if len(calls) < 3:
            raise RuntimeError("temporary")

    job_id, _ = await ledger.awrite(lambda c: jobs.enqueue(c, "flaky", max_attempts=5))
    worker = _worker(ledger, {"flaky": flaky})
    await worker.start()
    await wait_for(lambda: _status(ledger, job_id) == "done")
    await worker.stop()
    assert calls == [1, 2, 3]


async def test_dead_letter_keeps_reason(ledger: Ledger) -> None:
    async def broken(job: jobs.Job, ctx: JobContext) -> None:
        raise ValueError("token ghs_0123456789abcdefghijABCDEFGHIJ rejected")

    job_id, _ = await ledger.awrite(lambda c: jobs.enqueue(c, "broken", max_attempts=2))
    worker = _worker(ledger, {"broken": broken})
    await worker.start()
    await wait_for(lambda: _status(ledger, job_id) == "dead")
    await worker.stop()
    job = ledger.read(lambda c: jobs.get(c, job_id))
    assert job is not None and job.attempts == 2
    assert job.last_error is not None and job.last_error.startswith("dead after 2 attempts:")
    assert "ValueError" in job.last_error and "ghs_0123456789" not in job.last_error


async def test_permanent_error_and_unknown_kind_die_at_once(ledger: Ledger) -> None:
    async def permanent(job: jobs.Job, ctx: JobContext) -> None:
        raise PermanentError("bad payload")

    a, _ = await ledger.awrite(lambda c: jobs.enqueue(c, "permanent"))
    b, _ = await ledger.awrite(lambda c: jobs.enqueue(c, "nobody-handles-this"))
    worker = _worker(ledger, {"permanent": permanent})
    await worker.start()
    await wait_for(lambda: ledger.read(jobs.depth)["dead"] == 2)
    await worker.stop()
    ja = ledger.read(lambda c: jobs.get(c, a))
    jb = ledger.read(lambda c: jobs.get(c, b))
    assert ja is not None and ja.attempts == 1 and "bad payload" in (ja.last_error or "")
    assert jb is not None and "no handler" in (jb.last_error or "")


async def test_cancel_repository_stops_running_jobs(ledger: Ledger) -> None:
    started = asyncio.Event()

    async def stubborn(job: jobs.Job, ctx: JobContext) -> None:
        started.set()
        await asyncio.sleep(3600)  # ignores ctx.cancelled: the grace period must end it

    async def cooperative(job: jobs.Job, ctx: JobContext) -> None:
        while True:
            ctx.raise_if_cancelled()
            await asyncio.sleep(0.01)

    kinds = {"stubborn": stubborn, "coop": cooperative}
    s_id, _ = await ledger.awrite(lambda c: jobs.enqueue(c, "stubborn", repository="o/halted"))
    c_id, _ = await ledger.awrite(lambda c: jobs.enqueue(c, "coop", repository="o/halted"))
    o_id, _ = await ledger.awrite(lambda c: jobs.enqueue(c, "coop", repository="o/other"))
    worker = _worker(ledger, kinds, concurrency=3, cancel_grace=0.3)
    await worker.start()
    await started.wait()
    await wait_for(lambda: len(worker.running) == 3)
    assert worker.cancel_repository("o/halted", spare=s_id) == 1  # only the cooperative one
    assert worker.cancel_repository("o/halted") == 2
    await wait_for(lambda: ledger.read(jobs.depth)["dead"] == 2, timeout=10)
    for job_id in (s_id, c_id):
        job = ledger.read(functools.partial(jobs.get, job_id=job_id))
        assert job is not None and job.last_error == "cancelled: repository halted"
    other = ledger.read(lambda c: jobs.get(c, o_id))
    assert other is not None and other.status == "running"
    await worker.stop(timeout=0.2)
    released = ledger.read(lambda c: jobs.get(c, o_id))
    assert released is not None and released.status == "queued" and released.attempts == 0


async def test_webhook_kind_dispatches_to_hooks(ledger: Ledger) -> None:
    seen: list[tuple[str, Any, Any]] = []

    async def hook(event: Event, ctx: JobContext) -> None:
        seen.append((event.data["action"], ctx.repository, await ctx.github()))

    async def factory(installation_id: int | None) -> Any:
        return f"client-for-{installation_id}"

    payload = pull_request_payload()
    await ledger.awrite(
        lambda c: deliveries.accept_delivery(c, "x1", "pull_request", json.dumps(payload), payload)
    )
    worker = Worker(
        ledger,
        WorkerConfig(concurrency=1, poll_interval=0.02),
        wiring=Wiring(dispatchers=(hook,)),
        github_factory=factory,
    )
    await worker.start()
    await wait_for(lambda: ledger.read(jobs.depth)["done"] == 1)
    await worker.stop()
    assert seen == [("opened", "octo/demo", "client-for-77")]


async def test_context_enqueue_and_audit(ledger: Ledger) -> None:
    followups: list[jobs.Job] = []

    async def first(job: jobs.Job, ctx: JobContext) -> None:
        await ctx.enqueue("second", {"from": job.id}, key="second:1")
        await ctx.enqueue("second", {"from": job.id}, key="second:1")  # deduplicated
        await ctx.audit("octocat", "request.created", {"title": "x"}, request=12)

    async def second(job: jobs.Job, ctx: JobContext) -> None:
        followups.append(job)

    await ledger.awrite(lambda c: jobs.enqueue(c, "first", repository="o/r"))
    worker = _worker(ledger, {"first": first, "second": second})
    await worker.start()
    await wait_for(lambda: ledger.read(jobs.depth)["done"] == 2)
    await worker.stop()
    assert len(followups) == 1 and followups[0].repository == "o/r"
    from selfheal.ledger import audit

    (entry,) = ledger.read(lambda c: audit.entries(c))
    assert (entry.actor, entry.action, entry.repository, entry.request) == (
        "octocat", "request.created", "o/r", 12,
    )  # fmt: skip


async def test_hung_job_times_out_and_is_retried(ledger: Ledger) -> None:
    attempts: list[int] = []

    async def hangs_once(job: jobs.Job, ctx: JobContext) -> None:
        attempts.append(job.attempts)
        if job.attempts == 1:
            await asyncio.sleep(3600)

    job_id, _ = await ledger.awrite(lambda c: jobs.enqueue(c, "hangs"))
    worker = _worker(ledger, {"hangs": hangs_once}, job_timeout=0.3)
    await worker.start()
    await wait_for(lambda: _status(ledger, job_id) == "done")
    await worker.stop()
    assert attempts == [1, 2]
    timed_out = ledger.read(lambda c: jobs.get(c, job_id))
    assert timed_out is not None and timed_out.last_error == "timed out after 0.3 s"


async def test_lost_lease_stops_the_job_without_finishing_it(ledger: Ledger) -> None:
    stopped = asyncio.Event()

    async def long(job: jobs.Job, ctx: JobContext) -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            stopped.set()

    job_id, _ = await ledger.awrite(lambda c: jobs.enqueue(c, "long"))
    worker = _worker(ledger, {"long": long}, lease_seconds=0.9)
    await worker.start()
    await wait_for(lambda: len(worker.running) == 1)
    # Another worker takes the job over (as after a network partition).
    await ledger.awrite(
        lambda c: c.execute("UPDATE jobs SET lease_owner = 'thief' WHERE id = ?", (job_id,))
    )
    await asyncio.wait_for(stopped.wait(), 10)
    await wait_for(lambda: not worker.running)
    await worker.stop()
    job = ledger.read(lambda c: jobs.get(c, job_id))
    assert job is not None and (job.status, job.lease_owner, job.attempts) == (
        "running",
        "thief",
        1,
    )


async def test_when_done_writes_commit_with_completion_only(ledger: Ledger) -> None:
    from selfheal.ledger import audit

    async def flaky(job: jobs.Job, ctx: JobContext) -> None:
        ctx.when_done(lambda c: audit.append(c, "bot", f"done.{job.attempts}"))
        if job.attempts == 1:
            raise RuntimeError("first attempt fails")

    job_id, _ = await ledger.awrite(lambda c: jobs.enqueue(c, "flaky"))
    worker = _worker(ledger, {"flaky": flaky})
    await worker.start()
    await wait_for(lambda: _status(ledger, job_id) == "done")
    await worker.stop()
    assert [e.action for e in ledger.read(lambda c: audit.entries(c))] == ["done.2"]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda p: p.update(pull_request="not an object"),
        lambda p: p.pop("pull_request"),
        lambda p: p["pull_request"].update(number="1; rm -rf /"),
    ],
)
async def test_a_malformed_payload_is_dead_lettered_at_once(ledger: Ledger, mangle: Any) -> None:
    from selfheal.registry import compose

    async def factory(installation_id: int | None) -> Any:
        raise AssertionError("a malformed payload must not reach GitHub")

    payload = pull_request_payload()
    mangle(payload)
    body = json.dumps(payload)
    await ledger.awrite(
        lambda c: deliveries.accept_delivery(c, "bad1", "pull_request", body, payload)
    )
    worker = Worker(
        ledger,
        WorkerConfig(concurrency=1, poll_interval=0.02, backoff_base=0.0),
        wiring=compose(),
        github_factory=factory,
    )
    await worker.start()
    await wait_for(lambda: ledger.read(jobs.depth)["dead"] == 1)
    await worker.stop()
    [job] = ledger.read(lambda c: jobs.find(c, status="dead"))
    assert job.attempts == 1
    assert "malformed pull_request payload" in (job.last_error or "")


async def test_github_giving_up_is_logged_without_a_traceback(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    from selfheal.github.client import GitHubGaveUp

    async def gave_up(job: jobs.Job, ctx: JobContext) -> None:
        raise GitHubGaveUp("connection refused", "pulls.get", None, attempts=4)

    async def broken(job: jobs.Job, ctx: JobContext) -> None:
        raise RuntimeError("a bug")

    await ledger.awrite(lambda c: jobs.enqueue(c, "gave_up", {}, max_attempts=1))
    await ledger.awrite(lambda c: jobs.enqueue(c, "broken", {}, max_attempts=1))
    worker = _worker(ledger, {"gave_up": gave_up, "broken": broken})
    worker.config = dataclasses.replace(worker.config, concurrency=1)
    with caplog.at_level(logging.WARNING):
        await worker.start()
        await wait_for(lambda: ledger.read(jobs.depth)["dead"] == 2)
        await worker.stop()
    failed = {
        r.getMessage().split(":")[1].strip(): r
        for r in caplog.records
        if "job failed" in r.getMessage()
    }
    assert not failed["GitHubGaveUp"].exc_info
    assert failed["RuntimeError"].exc_info


@pytest.mark.parametrize(("status", "attempts"), [(404, 1), (410, 1), (422, 3), (502, 3)])
async def test_a_vanished_repository_is_not_retried(
    ledger: Ledger, status: int, attempts: int
) -> None:
    """GitHub's 404 and 410 (repository, branch or installation gone) end the job at once;
    other answers use up the job's attempts as before."""
    from http import HTTPStatus

    import gidgethub

    async def gone(job: jobs.Job, ctx: JobContext) -> None:
        if status >= 500:
            raise gidgethub.GitHubBroken(HTTPStatus(status))
        raise gidgethub.BadRequest(HTTPStatus(status))

    job_id, _ = await ledger.awrite(lambda c: jobs.enqueue(c, "gone", {}, max_attempts=3))
    worker = _worker(ledger, {"gone": gone})
    await worker.start()
    await wait_for(lambda: _status(ledger, job_id) == "dead")
    await worker.stop()
    job = ledger.read(lambda c: jobs.get(c, job_id))
    assert job is not None and job.attempts == attempts
