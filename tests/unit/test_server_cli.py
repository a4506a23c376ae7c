"""`selfheal jobs list|retry` on a real ledger file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfheal.cli import main
from selfheal.ledger import Ledger, audit, jobs


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "jobs.db"
    with Ledger.open(path) as led:
        dead, _ = led.write(
            lambda c: jobs.enqueue(c, "webhook", {"delivery_id": "x"}, repository="o/r")
        )
        led.write(lambda c: jobs.lease(c, "w", 30))
        led.write(lambda c: jobs.fail(c, dead, "w", "RuntimeError: boom", retry=False))
        led.write(lambda c: jobs.enqueue(c, "other"))
    return path


def test_list_dead_jobs_by_default(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jobs", "list", "--db", str(db)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and "dead" in out[0] and "RuntimeError: boom" in out[0]
    assert main(["jobs", "list", "--db", str(db), "--status", "all", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(j["kind"], j["status"]) for j in data] == [("webhook", "dead"), ("other", "queued")]


def test_retry_requeues_and_audits(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jobs", "retry", "1", "--db", str(db)]) == 0
    assert "queued again" in capsys.readouterr().out
    with Ledger.open(db) as led:
        job = led.read(lambda c: jobs.get(c, 1))
        assert job is not None and (job.status, job.attempts) == ("queued", 0)
        (entry,) = led.read(lambda c: audit.entries(c))
        assert entry.action == "job.retried" and entry.actor.startswith("cli:")
        assert entry.details == {"job_id": 1}
    assert main(["jobs", "retry", "1", "--db", str(db)]) == 1
    assert "is queued, not dead" in capsys.readouterr().err
    assert main(["jobs", "retry", "99", "--db", str(db)]) == 1
    assert "does not exist" in capsys.readouterr().err
