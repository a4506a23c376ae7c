"""The durable job queue: lease, complete, retry with backoff, dead letter, lease expiry."""

from __future__ import annotations

import functools
import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from selfheal.ledger import Ledger, jobs


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = Ledger.open(tmp_path / "q.db")
    yield led
    led.close()


def test_lease_takes_oldest_and_complete(ledger: Ledger) -> None:
    a, _ = ledger.write(lambda c: jobs.enqueue(c, "k", {"n": 1}, now=100))
    b, _ = ledger.write(lambda c: jobs.enqueue(c, "k", {"n": 2}, now=101))
    first = ledger.write(lambda c: jobs.lease(c, "w1", 30, now=200))
    second = ledger.write(lambda c: jobs.lease(c, "w2", 30, now=200))
    assert first is not None and second is not None
    assert (first.id, second.id) == (a, b)
    assert first.status == "running" and first.attempts == 1 and first.lease_owner == "w1"
    assert ledger.write(lambda c: jobs.lease(c, "w3", 30, now=200)) is None
    assert not ledger.write(lambda c: jobs.complete(c, a, "w2", now=201))  # not its lease
    assert ledger.write(lambda c: jobs.complete(c, a, "w1", now=201))
    assert ledger.read(jobs.depth) == {"queued": 0, "running": 1, "done": 1, "dead": 0}


def test_key_dedupes_while_active(ledger: Ledger) -> None:
    a, created = ledger.write(lambda c: jobs.enqueue(c, "k", key="x"))
    b, again = ledger.write(lambda c: jobs.enqueue(c, "k", key="x"))
    assert created and not again and a == b
    job = ledger.write(lambda c: jobs.lease(c, "w", 30))
    assert job is not None
    assert ledger.write(lambda c: jobs.enqueue(c, "k", key="x")) == (a, False)  # running
    ledger.write(lambda c: jobs.complete(c, a, "w"))
    c_id, created_after = ledger.write(lambda c: jobs.enqueue(c, "k", key="x"))
    assert created_after and c_id != a


def test_fail_retries_with_backoff_then_dead_letter(ledger: Ledger) -> None:
    job_id, _ = ledger.write(lambda c: jobs.enqueue(c, "k", max_attempts=3, now=0))
    rng = random.Random(1)
    now = 10.0
    delays = []
    for attempt in (1, 2):
        job = ledger.write(functools.partial(jobs.lease, worker_id="w", lease_seconds=30, now=now))
        assert job is not None and job.attempts == attempt
        fail = functools.partial(
            jobs.fail, job_id=job_id, worker_id="w", error=f"err {attempt}", backoff_base=4,
            backoff_max=100, now=now, rng=rng,
        )  # fmt: skip
        status = ledger.write(fail)
        assert status == "queued"
        queued = ledger.read(lambda c: jobs.get(c, job_id))
        assert queued is not None and queued.last_error == f"err {attempt}"
        delay = queued.run_after - now
        delays.append(delay)
        # Not runnable before the backoff elapses.
        early = functools.partial(
            jobs.lease, worker_id="w", lease_seconds=30, now=now + delay - 0.01
        )
        assert ledger.write(early) is None
        now = queued.run_after
    assert 2 <= delays[0] <= 4 and 4 <= delays[1] <= 8
    job = ledger.write(lambda c: jobs.lease(c, "w", 30, now=now))
    assert job is not None and job.attempts == 3
    assert ledger.write(lambda c: jobs.fail(c, job_id, "w", "final", now=now)) == "dead"
    dead = ledger.read(lambda c: jobs.get(c, job_id))
    assert dead is not None and dead.status == "dead"
    assert dead.last_error == "dead after 3 attempts: final"
    assert ledger.write(lambda c: jobs.lease(c, "w", 30, now=now + 10_000)) is None
    assert ledger.write(lambda c: jobs.requeue(c, job_id, now=now))
    assert ledger.write(lambda c: jobs.lease(c, "w", 30, now=now)) is not None


def test_fail_without_retry_is_dead_with_reason(ledger: Ledger) -> None:
    job_id, _ = ledger.write(lambda c: jobs.enqueue(c, "k"))
    ledger.write(lambda c: jobs.lease(c, "w", 30))
    assert (
        ledger.write(lambda c: jobs.fail(c, job_id, "w", "cancelled: halted", retry=False))
        == "dead"
    )
    job = ledger.read(lambda c: jobs.get(c, job_id))
    assert job is not None and job.last_error == "cancelled: halted"


def test_expired_lease_is_retaken_and_heartbeat_extends(ledger: Ledger) -> None:
    job_id, _ = ledger.write(lambda c: jobs.enqueue(c, "k", max_attempts=2, now=0))
    assert ledger.write(lambda c: jobs.lease(c, "crashed", 10, now=1)) is not None
    assert ledger.write(lambda c: jobs.heartbeat(c, job_id, "crashed", 10, now=8))  # until 18
    assert ledger.write(lambda c: jobs.lease(c, "other", 10, now=15)) is None
    retaken = ledger.write(lambda c: jobs.lease(c, "other", 10, now=18))
    assert retaken is not None and retaken.id == job_id and retaken.attempts == 2
    assert not ledger.write(lambda c: jobs.heartbeat(c, job_id, "crashed", 10, now=19))
    assert not ledger.write(lambda c: jobs.complete(c, job_id, "crashed", now=19))
    # The second holder dies too: max_attempts reached, so the job is dead-lettered.
    assert ledger.write(lambda c: jobs.lease(c, "third", 10, now=100)) is None
    dead = ledger.read(lambda c: jobs.get(c, job_id))
    assert dead is not None and dead.status == "dead"
    assert "lease expired" in (dead.last_error or "")


def test_backoff_delay_is_capped() -> None:
    rng = random.Random(0)
    for attempts in range(1, 30):
        d = jobs.backoff_delay(attempts, 2.0, 60.0, rng)
        assert 0 < d <= 60.0
    assert jobs.backoff_delay(20, 2.0, 60.0, rng) >= 30.0


def test_oldest_due_age(ledger: Ledger) -> None:
    assert ledger.read(lambda c: jobs.oldest_due_age(c, now=100)) == 0.0
    ledger.write(lambda c: jobs.enqueue(c, "k", now=40))
    ledger.write(lambda c: jobs.enqueue(c, "k", run_after=500, now=50))  # not due yet
    assert ledger.read(lambda c: jobs.oldest_due_age(c, now=100)) == 60.0


def test_dead_letter_hook_runs_in_the_dead_lettering_transaction(ledger: Ledger) -> None:
    seen: list[tuple[int, str]] = []

    def follow_up(conn: sqlite3.Connection, job: jobs.Job, reason: str) -> None:
        seen.append((job.id, reason))
        jobs.enqueue(conn, "followup", {"of": job.id}, key=f"followup:{job.id}")

    hooks = {"hooked": follow_up}
    # Dies by failing its last attempt.
    a, _ = ledger.write(lambda c: jobs.enqueue(c, "hooked", max_attempts=1, now=100))
    ledger.write(lambda c: jobs.lease(c, "w", 30, now=100))
    assert ledger.write(lambda c: jobs.fail(c, a, "w", "boom", hooks=hooks, now=101)) == "dead"
    # Dies because its worker vanished on the last attempt (the lease ran out).
    b, _ = ledger.write(lambda c: jobs.enqueue(c, "hooked", max_attempts=1, now=102))
    ledger.write(lambda c: jobs.lease(c, "w", 30, now=102))
    ledger.write(lambda c: jobs.lease(c, "w2", 30, hooks=hooks, now=500))  # finds b's lease expired
    dead_b = ledger.read(lambda c: jobs.get(c, b))
    assert dead_b is not None and dead_b.status == "dead"
    # A retried failure is not a death; another kind has no hook.
    c_id, _ = ledger.write(lambda c: jobs.enqueue(c, "hooked", max_attempts=3, now=600))
    ledger.write(lambda c: jobs.lease(c, "w", 30, now=600))
    assert ledger.write(lambda c: jobs.fail(c, c_id, "w", "once", hooks=hooks, now=601)) == "queued"
    d, _ = ledger.write(lambda c: jobs.enqueue(c, "plain", max_attempts=1, now=602))
    ledger.write(lambda c: jobs.lease(c, "w", 30, now=602))
    ledger.write(lambda c: jobs.fail(c, d, "w", "x", hooks=hooks, now=603))
    assert [job_id for job_id, _ in seen] == [a, b]
    assert seen[0][1] == "dead after 1 attempts: boom"
    assert "lease expired" in seen[1][1]
    followups = ledger.read(lambda c: jobs.find(c, kind="followup"))
    assert sorted(j.payload["of"] for j in followups) == [a, b]


def test_a_failing_dead_letter_hook_leaves_the_job_dead(ledger: Ledger) -> None:
    def broken(conn: sqlite3.Connection, job: jobs.Job, reason: str) -> None:
        jobs.enqueue(conn, "half-done")
        raise RuntimeError("hook bug")

    a, _ = ledger.write(lambda c: jobs.enqueue(c, "fragile", max_attempts=1))
    ledger.write(lambda c: jobs.lease(c, "w", 30))
    assert ledger.write(lambda c: jobs.fail(c, a, "w", "boom", hooks={"fragile": broken})) == "dead"
    job = ledger.read(lambda c: jobs.get(c, a))
    assert (
        job is not None and job.status == "dead" and job.last_error == "dead after 1 attempts: boom"
    )
    assert ledger.read(lambda c: jobs.find(c, kind="half-done")) == []  # its write rolled back
