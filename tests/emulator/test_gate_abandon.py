"""A gate job that dies still closes its check run (the gate fails closed).

Each test dead-letters a real ``gate`` job in a real ledger (``jobs.fail`` on its last
attempt, the same call the worker makes). The dead-letter hook queues ``gate_abandon``, and a
real :class:`Worker` runs it against the emulator."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import aiohttp

from selfheal.config.metrics import AppMetrics
from selfheal.config.settings import parse_settings
from selfheal.emulator import Emulator
from selfheal.emulator.state import Installation, Repo
from selfheal.gate.abandon import ABANDON_KIND
from selfheal.gate.job import EXTERNAL_PREFIX
from selfheal.ledger import Ledger, audit, effects, gates, jobs
from selfheal.registry import compose, compose_with_plugins
from selfheal.runtime.server import default_github_factory
from selfheal.runtime.worker import Worker, WorkerConfig
from tests.support.appcore import wait_for
from tests.support.e2e import BASE_FILES, GATE, env_for, gate_runs, open_pr

REASON = "GitHubGaveUp: checks.update: HTTP 502 after 5 attempts (token ghs_" + "a" * 36 + ")"


async def _pull_request(emu: Emulator, name: str) -> tuple[Repo, Installation, dict[str, Any]]:
    """An installed repository with one open PR, and the payload of that PR's gate job."""
    repo = emu.create_repo(name, BASE_FILES)
    inst = emu.install([repo])
    number, sha = await open_pr(emu.person("bob", "write"), repo, "feature", {"a.py": "x = 1\n"})
    payload = {"repository": repo.full_name, "installation_id": inst.id, "pr_number": number,
               "head_sha": sha, "attempt": "initial"}  # fmt: skip
    return repo, inst, payload


async def _check_run(emu: Emulator, inst: Installation, repo: Repo, sha: str,
                     completed: bool = False) -> int:  # fmt: skip
    """Create the gate's check run the way a gate job would, optionally completed."""
    token = emu.installation_token(inst)
    headers = {"Authorization": f"token {token}", "Accept": "application/vnd.github+json"}
    body: dict[str, Any] = {"name": GATE, "head_sha": sha, "status": "in_progress",
            "external_id": f"{EXTERNAL_PREFIX}initial"}  # fmt: skip
    if completed:
        body |= {"status": "completed", "conclusion": "success",
                 "output": {"title": "Passed — low risk", "summary": "ok"}}  # fmt: skip
    async with aiohttp.ClientSession(headers=headers) as session:
        url = f"{emu.base_url}/repos/{repo.full_name}/check-runs"
        async with session.post(url, json=body) as resp:
            assert resp.status == 201, await resp.text()
            return int((await resp.json())["id"])


def _kill_gate_job(ledger: Ledger, payload: dict[str, Any]) -> int:
    job_id, _ = ledger.write(
        lambda c: jobs.enqueue(
            c, "gate", payload, repository=str(payload["repository"]), max_attempts=1
        )
    )
    leased = ledger.write(lambda c: jobs.lease(c, "crashing-worker", 30))
    assert leased is not None and leased.id == job_id
    hooks = compose().dead_letter  # what the server's worker runs
    assert ledger.write(lambda c: jobs.fail(c, job_id, "crashing-worker", REASON, hooks=hooks)) == (
        "dead"
    )
    return job_id


async def _run_abandon(emu: Emulator, ledger: Ledger, tmp_path: Path) -> jobs.Job:
    settings = parse_settings(env_for(emu, tmp_path / "ledger.db"))
    factory, state = default_github_factory(settings, AppMetrics())
    config = WorkerConfig(concurrency=1, poll_interval=0.05, backoff_base=0.0)
    worker = Worker(ledger, config, wiring=compose(), github_factory=factory)
    await worker.start()
    try:
        await wait_for(
            lambda: any(j.status in ("done", "dead")
                        for j in ledger.read(lambda c: jobs.find(c, kind=ABANDON_KIND))),
            timeout=30,
        )  # fmt: skip
    finally:
        await worker.stop()
        await state["session"].close()
    (job,) = ledger.read(lambda c: jobs.find(c, kind=ABANDON_KIND))
    return job


async def test_a_dead_gate_job_fails_its_open_check_run(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo, inst, payload = await _pull_request(emu, "acme/abandon")
    number, sha = int(payload["pr_number"]), str(payload["head_sha"])
    check_id = await _check_run(emu, inst, repo, sha)
    with Ledger.open(tmp_path / "ledger.db") as ledger:
        # What the gate job recorded before it died: the check run and its gate run.
        def recorded(conn: sqlite3.Connection) -> gates.GateRun:
            key = f"check_run:{repo.full_name}:{sha}:initial"
            effects.record_effect(conn, key, "check_run", check_id)
            return gates.create_gate_run(conn, repo.full_name, sha, pr_number=number,
                                         base_sha="0" * 40, check_run_id=check_id,
                                         status="in_progress")  # fmt: skip

        run = ledger.write(recorded)
        gate_job = _kill_gate_job(ledger, payload)
        queued = ledger.read(lambda c: jobs.find(c, kind=ABANDON_KIND))
        assert [j.payload["gate_job"] for j in queued] == [gate_job]
        assert queued[0].max_attempts == 2
        abandon = await _run_abandon(emu, ledger, tmp_path)
        stored = ledger.read(lambda c: gates.gate_run_for_check(c, check_id))
        entries = ledger.read(lambda c: audit.entries(c, action="gate.abandoned"))
    assert abandon.status == "done", abandon.last_error
    (check,) = gate_runs(repo, sha)
    assert check.id == check_id and check.status == "completed" and check.conclusion == "failure"
    assert "the gate job stopped for good" in (check.output.get("title") or "")
    assert "HTTP 502 after 5 attempts" in (check.output.get("summary") or "")
    assert "ghs_" + "a" * 36 not in str(check.output)  # the reason is masked
    assert stored is not None and stored.id == run.id
    assert (stored.status, stored.conclusion) == ("completed", "failure")
    (entry,) = entries
    assert entry.repository == repo.full_name
    assert entry.details["check_run"] == check_id and entry.details["gate_job"] == gate_job


async def _die_and_abandon(
    emu: Emulator, tmp_path: Path, payload: dict[str, Any]
) -> list[audit.AuditEntry]:
    with Ledger.open(tmp_path / "ledger.db") as ledger:
        _kill_gate_job(ledger, payload)
        abandon = await _run_abandon(emu, ledger, tmp_path)
        entries = ledger.read(lambda c: audit.entries(c, action="gate.abandoned"))
    assert abandon.status == "done", abandon.last_error
    return list(entries)


async def test_a_completed_check_run_is_left_alone(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    """The run is found by external_id (nothing was recorded) and had already completed."""
    repo, inst, payload = await _pull_request(github_emulator, "acme/finished")
    check_id = await _check_run(github_emulator, inst, repo, payload["head_sha"], completed=True)
    entries = await _die_and_abandon(github_emulator, tmp_path, payload)
    (check,) = gate_runs(repo, payload["head_sha"])
    assert (check.id, check.conclusion) == (check_id, "success")  # untouched
    assert entries == []  # nothing was abandoned


async def test_no_check_run_means_nothing_to_close(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    repo, _, payload = await _pull_request(github_emulator, "acme/early")
    entries = await _die_and_abandon(github_emulator, tmp_path, payload)
    assert gate_runs(repo, payload["head_sha"]) == [] and entries == []  # nothing to close


def test_a_payload_without_a_head_queues_nothing(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "ledger.db") as ledger:
        _kill_gate_job(ledger, {"repository": "acme/x", "attempt": "initial"})
        assert ledger.read(lambda c: jobs.find(c, kind=ABANDON_KIND)) == []


def test_the_server_wiring_has_the_abandon_job_and_hook(tmp_path: Path) -> None:
    """The registry's wiring, which ``selfheal serve`` runs, carries the job and its hook;
    a worker given no wiring knows only its own ``webhook`` kind (nothing registers itself
    by being imported)."""
    for wiring in (compose(), compose_with_plugins([])):
        assert {"gate", "gate_abandon"} <= set(wiring.job_kinds)
        assert list(wiring.dead_letter) == ["gate", "notify", "monitor_sync"]
    with Ledger.open(tmp_path / "ledger.db") as ledger:
        assert list(Worker(ledger).job_kinds()) == ["webhook"]


async def test_a_deleted_repository_leaves_nothing_to_close(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    """GitHub answers 404: the job ends instead of retrying a run that no longer exists."""
    repo, inst, payload = await _pull_request(github_emulator, "acme/gone")
    await _check_run(github_emulator, inst, repo, payload["head_sha"])
    await github_emulator.person("owner", "admin").delete_repo(repo)
    assert await _die_and_abandon(github_emulator, tmp_path, payload) == []
