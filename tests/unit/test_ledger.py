"""The ledger database: migrations, the single writer, deliveries, effects, gates, installations."""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

from selfheal.ledger import (
    Ledger,
    connect,
    deliveries,
    effects,
    gates,
    installations,
    jobs,
    schema_version,
)
from selfheal.ledger.db import MIGRATIONS
from selfheal.model.findings import Category, Finding, Severity, Source


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = Ledger.open(tmp_path / "ledger.db")
    yield led
    led.close()


def test_migrations_from_empty_and_rerun(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    first = Ledger.open(path)
    # every version once, applied in order wherever in the module it is declared
    versions = [v for v, _, _ in MIGRATIONS]
    assert first.applied_migrations == sorted(versions) and len(set(versions)) == len(versions)
    first.close()
    second = Ledger.open(path)
    assert second.applied_migrations == []
    second.close()
    conn = connect(path)
    assert schema_version(conn) == MIGRATIONS[-1][0]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    for name in (
        "deliveries",
        "jobs",
        "installations",
        "repositories",
        "gate_runs",
        "findings",
        "audit",
        "effects",
        "schema_migrations",
    ):
        assert name in tables
    conn.close()


def test_write_rolls_back_on_error(ledger: Ledger) -> None:
    def broken(conn: sqlite3.Connection) -> None:
        jobs.enqueue(conn, "x", {})
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        ledger.write(broken)
    assert ledger.read(jobs.depth)["queued"] == 0


def test_concurrent_writers_are_serialised(ledger: Ledger) -> None:
    def worker(n: int) -> None:
        for i in range(25):
            ledger.write(functools.partial(jobs.enqueue, kind="k", payload={"n": n, "i": i}))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert ledger.read(jobs.depth)["queued"] == 100


def _enqueue_id(conn: sqlite3.Connection, payload: dict[str, int]) -> int:
    return jobs.enqueue(conn, "a", payload)[0]


async def test_async_write_and_read(ledger: Ledger) -> None:
    results = await asyncio.gather(
        *(ledger.awrite(functools.partial(_enqueue_id, payload={"i": i})) for i in range(10))
    )
    assert sorted(results) == list(range(1, 11))
    assert (await ledger.aread(jobs.depth))["queued"] == 10


def test_delivery_accepted_once(ledger: Ledger) -> None:
    payload = {
        "action": "opened",
        "installation": {"id": 7},
        "repository": {"id": 1, "full_name": "o/r"},
    }
    text = json.dumps(payload)
    job_id = ledger.write(
        lambda c: deliveries.accept_delivery(c, "d-1", "pull_request", text, payload)
    )
    assert job_id is not None
    again = ledger.write(
        lambda c: deliveries.accept_delivery(c, "d-1", "pull_request", text, payload)
    )
    assert again is None
    d = ledger.read(lambda c: deliveries.get_delivery(c, "d-1"))
    assert d is not None
    assert (d.event, d.action, d.installation_id, d.repository) == (
        "pull_request",
        "opened",
        7,
        "o/r",
    )
    assert d.data() == payload
    job = ledger.read(lambda c: jobs.get(c, job_id))
    assert job is not None and job.kind == "webhook" and job.repository == "o/r"
    assert job.payload == {"delivery_id": "d-1"}
    assert ledger.read(deliveries.count) == 1


def test_effects_first_record_wins(ledger: Ledger) -> None:
    key = "check_run:o/r:abc"
    assert ledger.read(lambda c: effects.get_effect(c, key)) is None
    first = ledger.write(lambda c: effects.record_effect(c, key, "check_run", 111, job_id=3))
    second = ledger.write(lambda c: effects.record_effect(c, key, "check_run", 222))
    assert first.github_id == second.github_id == "111"
    got = ledger.read(lambda c: effects.get_effect(c, key))
    assert got is not None and got.job_id == 3
    assert ledger.write(lambda c: effects.forget_effect(c, key))
    assert ledger.read(lambda c: effects.get_effect(c, key)) is None


def test_an_effect_is_claimed_once_until_it_is_forgotten(ledger: Ledger) -> None:
    key = "edit-refusal:o/r#4"
    assert ledger.write(lambda c: effects.claim_effect(c, key, "edit-refusal"))
    assert not ledger.write(lambda c: effects.claim_effect(c, key, "edit-refusal"))
    got = ledger.read(lambda c: effects.get_effect(c, key))
    assert got is not None and got.kind == "edit-refusal" and got.github_id is None
    assert ledger.write(lambda c: effects.forget_effect(c, key))
    assert ledger.write(lambda c: effects.claim_effect(c, key, "edit-refusal"))


def test_gate_runs_and_findings(ledger: Ledger) -> None:
    finding = Finding(
        "secrets.aws",
        Category.SECRET,
        Severity.HIGH,
        "a.py",
        3,
        "key",
        Source.SECRETS,
        cwe=("CWE-798",),
        end_line=3,
    )
    run = ledger.write(lambda c: gates.create_gate_run(c, "o/r", "sha1", pr_number=5))
    assert run.status == "queued"
    ledger.write(lambda c: gates.add_findings(c, run.id, [finding]))
    updated = ledger.write(
        lambda c: gates.update_gate_run(
            c, run.id, status="completed", conclusion="failure", risk="high", check_run_id=99
        )
    )
    assert (updated.conclusion, updated.check_run_id) == ("failure", 99)
    with pytest.raises(ValueError, match="approved_by"):
        ledger.write(lambda c: gates.update_gate_run(c, run.id, approved_by="x"))
    approved = ledger.write(lambda c: gates.record_approval(c, run.id, "owner"))
    assert approved.approved_by == "owner" and approved.approved_at is not None
    assert ledger.read(lambda c: gates.findings_for(c, run.id)) == [finding]
    assert ledger.read(lambda c: gates.latest_gate_run(c, "o/r", "sha1")) == approved
    assert ledger.read(lambda c: gates.latest_gate_run(c, "o/r", "sha2")) is None
    assert ledger.read(lambda c: gates.gate_run_for_check(c, 99)) == approved
    assert ledger.read(gates.conclusion_counts) == {"failure": 1}


def test_installations_from_payloads(ledger: Ledger) -> None:
    created = {
        "action": "created",
        "installation": {"id": 9, "account": {"login": "acme", "type": "Organization"}},
        "repositories": [{"id": 1, "full_name": "acme/a"}, {"id": 2, "full_name": "acme/b"}],
    }
    ledger.write(lambda c: installations.note_payload(c, "installation", created))
    assert ledger.read(lambda c: installations.repositories_of(c, 9)) == ["acme/a", "acme/b"]
    removed = {
        "action": "removed",
        "installation": {"id": 9},
        "repositories_removed": [{"id": 2, "full_name": "acme/b"}],
    }
    ledger.write(lambda c: installations.note_payload(c, "installation_repositories", removed))
    assert ledger.read(lambda c: installations.installation_for(c, "acme/a")) == 9
    assert ledger.read(lambda c: installations.installation_for(c, "acme/b")) is None


def test_installations_from_odd_payloads(ledger: Ledger) -> None:
    def note(event: str, payload: object) -> None:
        ledger.write(lambda c: installations.note_payload(c, event, payload))

    note("push", ["not", "a", "payload"])
    # no usable installation id: the repository is recorded without an installation
    note(
        "push",
        {
            "installation": "x",
            "repository": {"id": 3, "full_name": "o/a", "default_branch": "main", "private": True},
        },
    )
    note("push", {"installation": {"id": True}, "repository": {"id": 4, "full_name": "o/b"}})
    note("push", {"repository": {"id": 11, "full_name": ""}})  # no name: not recorded
    # no account: an installation the ledger does not know yet is recorded as "unknown"...
    note(
        "push",
        {
            "installation": {"id": 7, "account": {"login": ""}},
            "repository": {"id": 5, "full_name": "o/c", "default_branch": 3, "private": "yes"},
        },
    )
    # ... and one it knows keeps its account
    ledger.write(lambda c: installations.upsert_installation(c, 8, "acme", "Organization"))
    note("push", {"installation": {"id": 8}, "repository": {"id": 6, "full_name": "acme/six"}})
    note(
        "installation_repositories",
        {
            "installation": {"id": 8},
            "repositories_added": ["x", {"id": "9"}, {"id": 10, "full_name": "acme/ten"}],
            "repositories_removed": [None, {"id": 0}, {"id": 6}],
        },
    )
    # "deleted" deletes an installation only in an installation event
    note("installation_repositories", {"action": "deleted", "installation": {"id": 7}})
    note(
        "installation",
        {"action": "deleted", "installation": {"id": 8, "account": {"login": "acme"}}},
    )

    def rows(sql: str) -> list[tuple[object, ...]]:
        return ledger.read(lambda c: [tuple(r) for r in c.execute(sql)])

    assert rows(
        "SELECT id, account, account_type, deleted_at IS NOT NULL FROM installations ORDER BY id"
    ) == [(7, "unknown", None, 0), (8, "acme", "Organization", 1)]
    assert rows(
        "SELECT id, installation_id, full_name, default_branch, private, removed_at IS NOT NULL"
        " FROM repositories ORDER BY id"
    ) == [
        (3, None, "o/a", "main", 1, 0),
        (4, None, "o/b", None, None, 0),
        (5, 7, "o/c", None, None, 0),
        (6, 8, "acme/six", None, None, 1),
        (10, 8, "acme/ten", None, None, 0),
    ]


def test_group_commit_isolates_a_failing_write(ledger: Ledger) -> None:
    def write(n: int) -> Callable[[sqlite3.Connection], int]:
        def fn(conn: sqlite3.Connection) -> int:
            job_id, _ = jobs.enqueue(conn, "batch", {"n": n})
            if n % 5 == 0:
                raise ValueError(f"write {n} fails")
            return job_id

        return fn

    futures = [ledger.submit(write(n)) for n in range(50)]  # queued faster than committed
    failures = [f for f in futures if f.exception() is not None]
    assert len(failures) == 10
    assert all(isinstance(f.exception(), ValueError) for f in failures)
    stored = ledger.read(lambda c: jobs.find(c, limit=100))
    assert sorted(j.payload["n"] for j in stored) == [n for n in range(50) if n % 5]


def _hold_writer(ledger: Ledger) -> tuple[threading.Event, Future[None]]:
    """Keep the writer busy until the returned event is set, so the writes submitted
    meanwhile are committed together in the next batch."""
    started, release = threading.Event(), threading.Event()

    def hold(conn: sqlite3.Connection) -> None:
        started.set()
        release.wait(10)

    held = ledger.submit(hold)
    assert started.wait(10)
    return release, held


def test_group_commit_skips_a_cancelled_write(ledger: Ledger) -> None:
    ran: list[int] = []

    def write(n: int) -> Callable[[sqlite3.Connection], int]:
        def fn(conn: sqlite3.Connection) -> int:
            ran.append(n)
            return jobs.enqueue(conn, "batch", {"n": n})[0]

        return fn

    release, held = _hold_writer(ledger)
    cancelled, kept = ledger.submit(write(1)), ledger.submit(write(2))
    assert cancelled.cancel()
    release.set()
    held.result(10)
    assert kept.result(10) > 0
    assert cancelled.cancelled() and ran == [2]
    assert [j.payload["n"] for j in ledger.read(lambda c: jobs.find(c, limit=10))] == [2]


@pytest.mark.parametrize(
    ("statement", "stored"), [("RELEASE write_fn", 0), ("COMMIT", 1)], ids=["savepoint", "commit"]
)
def test_group_commit_that_cannot_finish_fails_every_write(
    ledger: Ledger, statement: str, stored: int
) -> None:
    """A write function that ends its own savepoint (or the whole transaction) breaks the
    batch: each write in it that was not cancelled gets the error, and the writer goes on
    with the next batch."""
    release, held = _hold_writer(ledger)
    first = ledger.submit(lambda c: jobs.enqueue(c, "batch", {"n": 1})[0])
    cancelled = ledger.submit(lambda c: jobs.enqueue(c, "batch", {"n": 2})[0])
    breaking = ledger.submit(lambda c: c.execute(statement))
    assert cancelled.cancel()
    release.set()
    held.result(10)
    assert cancelled.cancelled()
    for future in (first, breaking):
        with pytest.raises(sqlite3.OperationalError, match="no such savepoint"):
            future.result(10)
    # rolled back with the batch, or committed by the stray COMMIT before the batch broke
    assert len(ledger.read(lambda c: jobs.find(c, limit=10))) == stored
    assert ledger.write(lambda c: jobs.enqueue(c, "after", {})[0]) > 0


def test_repository_name_moves_to_a_new_id(ledger: Ledger) -> None:
    ledger.write(lambda c: installations.upsert_repository(c, 1, "o/r", None))
    ledger.write(lambda c: installations.upsert_installation(c, 5, "o"))
    ledger.write(lambda c: installations.upsert_repository(c, 2, "o/r", 5))
    assert ledger.read(lambda c: installations.installation_for(c, "o/r")) == 5
    assert ledger.read(lambda c: installations.repositories_of(c, 5)) == ["o/r"]


def test_upgrade_moves_payloads_out_of_deliveries(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = connect(path)
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at REAL)"
    )
    for version, name, statements in MIGRATIONS[:2]:
        for statement in statements:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (version, name))
    conn.execute(
        "INSERT INTO deliveries (delivery_id, event, received_at, payload)"
        " VALUES ('old-1', 'push', 0, '{\"ref\": \"refs/heads/main\"}')"
    )
    conn.close()
    with Ledger.open(path) as led:
        assert led.applied_migrations == [v for v, _, _ in MIGRATIONS[2:]]
        old = led.read(lambda c: deliveries.get_delivery(c, "old-1"))
        assert old is not None and old.data() == {"ref": "refs/heads/main"}
        row = led.read(lambda c: c.execute("SELECT payload FROM deliveries").fetchone())
        assert row["payload"] == ""


def test_wal_stays_small_under_steady_writes(ledger: Ledger) -> None:
    """Writes that never pause still let the WAL restart: it is reused, not grown to the cap.

    A background checkpoint alone never completes while writes keep coming, so the WAL would
    grow until the blocking TRUNCATE at ``WAL_RESTART_BYTES``; the writer finishing each
    checkpoint between batches keeps it to a few checkpoint intervals of writes.
    """
    wal = Path(f"{ledger.path}-wal")
    blob = "x" * 20_000
    largest = 0

    def insert(n: int) -> Callable[[sqlite3.Connection], None]:
        def fn(conn: sqlite3.Connection) -> None:
            conn.execute("CREATE TABLE IF NOT EXISTS filler (n INTEGER, blob TEXT)")
            conn.execute("INSERT INTO filler VALUES (?, ?)", (n, blob + str(n)))

        return fn

    deadline = threading.Event()
    timer = threading.Timer(3.0, deadline.set)
    timer.start()
    written = 0
    while not deadline.is_set():  # ~2 MiB of rows per checkpoint interval, without a pause
        ledger.write(insert(written))
        written += 1
        largest = max(largest, wal.stat().st_size)
        deadline.wait(0.002)
    assert written * len(blob) > 3 * 16 * 1024 * 1024 / 4  # the test really wrote a lot
    assert largest < 12 * 1024 * 1024, f"WAL grew to {largest / 2**20:.1f} MiB"
    rows = ledger.read(lambda c: c.execute("SELECT COUNT(*) FROM filler").fetchone()[0])
    assert rows == written
