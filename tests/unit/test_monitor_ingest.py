"""Ingestion into a real ledger: occurrences once per run, sync jobs at the threshold, stats,
and the scheduler's slots."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from selfheal.config.settings import SettingsError, monitor_options
from selfheal.ledger import Ledger, jobs
from selfheal.ledger import monitor as store
from selfheal.monitor import EventError, Ingest, Limits
from selfheal.monitor.ingest import SYNC_JOB
from selfheal.monitor.probes import host_allowed

REPO = "acme/widgets"


def report(n: int, **extra: Any) -> dict[str, Any]:
    trace = (f'Traceback (most recent call last):\n  File "/srv/m{n}/app/agent.py", line {n},'
             f" in act\n    go()\nKeyError: 'k{n}'\n")  # fmt: skip
    return {"source": "agent", "agent_id": "planner", "error_type": "KeyError",
            "message": f"'k{n}'", "stack_trace": trace, "repository": REPO, **extra}  # fmt: skip


def sync_jobs(ledger: Ledger) -> list[jobs.Job]:
    return [j for j in ledger.read(lambda c: jobs.find(c, status=None, limit=100))
            if j.kind == SYNC_JOB]  # fmt: skip


@pytest.fixture
def ledger(tmp_path: Path) -> Any:
    with Ledger.open(tmp_path / "ledger.db") as opened:
        yield opened


async def test_three_reports_queue_one_sync_and_a_fourth_queues_none(ledger: Ledger) -> None:
    sink = Ingest(ledger, limits=Limits(threshold=3))
    assert await sink.record([report(1)], reporter="agent-token") == 1
    assert await sink.record(report(2), reporter="agent-token") == 1
    assert sync_jobs(ledger) == []
    await sink.record([report(3)], reporter="agent-token")
    (job,) = sync_jobs(ledger)
    await sink.record([report(4)], reporter="agent-token")
    assert len(sync_jobs(ledger)) == 1  # the flag holds further jobs back
    (tracked,) = ledger.read(lambda c: store.listing(c))
    assert tracked.total == 4 and tracked.dirty and job.payload["fingerprint_id"] == tracked.id


async def test_a_run_counts_once_and_a_crash_is_filed_at_once(ledger: Ledger) -> None:
    sink = Ingest(ledger)
    same = [report(1, run_id="run-9.1"), report(2, run_id="run-9.1")]
    assert await sink.record(same, reporter="ci") == 1
    assert sync_jobs(ledger) == []
    await sink.record([report(5, error_type="Segfault", severity="crash")], reporter="ci")
    assert len(sync_jobs(ledger)) == 1


async def test_bad_events_record_nothing(ledger: Ledger) -> None:
    sink = Ingest(ledger)
    with pytest.raises(EventError) as caught:
        await sink.record([report(1), report(2, severity="meh")], reporter="x")
    assert [p.field for p in caught.value.problems] == ["[1].severity"]
    with pytest.raises(EventError):
        await sink.record([{**report(1), "repository": None}], reporter="x")
    with pytest.raises(EventError):  # a token bound to one repository reports for another
        await sink.record([report(1, repository="evil/other")], reporter="x", repository=REPO)
    assert ledger.read(lambda c: store.listing(c)) == []


async def test_stats_count_errors_detections_and_filings(ledger: Ledger) -> None:
    sink = Ingest(ledger, limits=Limits(threshold=2))
    for n in range(3):
        await sink.record([report(n)], reporter="a")
    await sink.record([report(0, error_type="OSError")], reporter="a")
    (first, *_) = ledger.read(lambda c: store.listing(c))
    ledger.write(lambda c: store.set_issue(c, first.id, issue_number=7, state="open",
                                           attempt=True))  # fmt: skip
    stats = ledger.read(lambda c: store.stats(c, now=1e12, window=60.0))
    assert stats["unique_errors"] == 2 and stats["issues_detected"] == 4
    assert stats["fixes_triggered"] == 1 and stats["pending_fixes"] == 1
    assert stats["fixes_successful"] == 0 and stats["last_check"]


def test_two_workers_never_claim_one_slot(ledger: Ledger) -> None:
    got: list[float | None] = []
    lock = threading.Lock()

    def claim(owner: str) -> None:
        slot = ledger.write(
            lambda c: store.claim_slot(c, "probe:acme/widgets", interval=60.0, owner=owner,
                                       now=1_000.0)
        )  # fmt: skip
        with lock:
            got.append(slot)

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(got, key=lambda s: s is not None) == [None] * 7 + [1_000.0]
    # after a restart: the next slot is due at 1,060, and slots missed while down run once
    again = ledger.write(lambda c: store.claim_slot(c, "probe:acme/widgets", interval=60.0,
                                                    owner="w9", now=1_059.0))  # fmt: skip
    late = ledger.write(lambda c: store.claim_slot(c, "probe:acme/widgets", interval=60.0,
                                                   owner="w9", now=1_400.0))  # fmt: skip
    assert again is None and late == 1_360.0


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.example.com/health", True),
        ("http://status.svc.example.com/x", True),
        ("https://example.com/", False),  # *.example.com names subdomains only
        ("https://api.example.com.evil.io/", False),
        ("https://user:pw@api.example.com/", False),
        ("ftp://api.example.com/", False),
        ("http://169.254.169.254/latest/meta-data", False),
        ("http://localhost:8080/", False),
    ],
)
def test_probes_reach_only_the_operators_hosts(url: str, allowed: bool) -> None:
    assert host_allowed(url, ("api.example.com", "*.svc.example.com", "*.example.com")) is allowed


def test_probe_hosts_setting_refuses_urls_and_wildcards_in_the_middle() -> None:
    assert monitor_options({"SELFHEAL_MONITOR_PROBE_HOSTS": " API.example.com, *.x.io "}
                           ).probe_hosts == ("api.example.com", "*.x.io")  # fmt: skip
    for bad in ("http://x.io", "a*.x.io", "x.io:80", "*."):
        with pytest.raises(SettingsError):
            monitor_options({"SELFHEAL_MONITOR_PROBE_HOSTS": bad})
    with pytest.raises(SettingsError):
        monitor_options({"SELFHEAL_MONITOR_THRESHOLD": "0"})


async def test_a_dead_sync_job_releases_its_fingerprint(ledger: Ledger) -> None:
    from selfheal.monitor.filing import release

    sink = Ingest(ledger, limits=Limits(threshold=1))
    await sink.record([report(1)], reporter="a")
    (job,) = sync_jobs(ledger)
    ledger.write(lambda c: release(c, job, "gave up"))
    ledger.write(lambda c: c.execute("UPDATE jobs SET status = 'dead' WHERE id = ?", (job.id,)))
    await sink.record([report(2)], reporter="a")
    assert len(sync_jobs(ledger)) == 2  # a fresh sync, not a wait on the dead one


async def test_the_stats_and_list_commands_read_the_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from selfheal import cli

    db = tmp_path / "cli.db"
    with Ledger.open(db) as opened:
        sink = Ingest(opened, limits=Limits(threshold=2))
        for n in range(3):
            await sink.record([report(n)], reporter="a")
    assert cli.main(["monitor", "stats", "--db", str(db), "--format", "json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert set(stats) == {"is_running", "issues_detected", "fixes_triggered", "fixes_successful",
                          "pending_fixes", "unique_errors", "last_check"}  # fmt: skip
    assert stats["issues_detected"] == 3 and stats["unique_errors"] == 1 and stats["is_running"]
    assert cli.main(["monitor", "list", "--db", str(db), "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["occurrences"] == 3 and row["state"] == "none" and row["issue"] is None
    assert cli.main(["monitor", "list", "--db", str(db)]) == 0
    assert "agent:planner:KeyError" in capsys.readouterr().out
    assert cli.main(["monitor", "stats", "--db", str(tmp_path / "none.db")]) == 2


def test_a_task_with_a_first_delay_waits_one_interval(ledger: Ledger) -> None:
    def claim(now: float) -> float | None:
        return ledger.write(
            lambda c: store.claim_slot(
                c, "scan:acme/widgets", interval=100.0, owner="w", now=now, first_delay=100.0
            )
        )

    assert claim(1_000.0) is None and claim(1_050.0) is None
    assert claim(1_100.0) == 1_100.0 and claim(1_150.0) is None
