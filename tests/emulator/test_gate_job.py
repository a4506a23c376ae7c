"""The gate job resumed after a crash between GitHub's answer and the ledger write: it finds the
check run by external_id instead of creating another, and skips the annotation batch that had
already reached GitHub (the job runs directly here, with a real ledger and the emulator)."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp

from selfheal.config.metrics import AppMetrics
from selfheal.config.settings import parse_settings
from selfheal.emulator import Emulator
from selfheal.gate.job import EXTERNAL_PREFIX, run_gate
from selfheal.ledger import Ledger, audit, gates
from selfheal.ledger.jobs import Job
from selfheal.runtime.context import JobContext
from selfheal.runtime.server import default_github_factory
from selfheal.runtime.worker import Worker, WorkerConfig
from tests.support.e2e import BASE_FILES, GATE, env_for, gate_runs, open_pr
from tests.support.samples import tokens


async def test_a_retried_gate_adopts_the_orphan_run_and_skips_sent_batches(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo = emu.create_repo("acme/retry", BASE_FILES)
    inst = emu.install([repo])
    bob = emu.person("bob", "write")
    number, sha = await open_pr(bob, repo, "keys", {"conf/keys.txt": tokens(60)})

    # The crashed attempt: the run was created and 50 annotations sent, nothing recorded.
    token = emu.installation_token(inst)
    headers = {"Authorization": f"token {token}", "Accept": "application/vnd.github+json"}

    async with aiohttp.ClientSession(headers=headers) as session:
        url = f"{emu.base_url}/repos/acme/retry/check-runs"
        body = {"name": GATE, "head_sha": sha, "status": "in_progress",
                "external_id": f"{EXTERNAL_PREFIX}initial"}  # fmt: skip
        async with session.post(url, json=body) as resp:
            orphan = (await resp.json())["id"]
        note = {"path": "conf/keys.txt", "start_line": 1, "end_line": 1,
                "annotation_level": "failure", "message": "earlier attempt"}  # fmt: skip
        update = {"output": {"title": "t", "summary": "s", "annotations": [note] * 50}}
        async with session.patch(f"{url}/{orphan}", json=update) as resp:
            assert resp.status == 200

    settings = parse_settings(env_for(emu, tmp_path / "ledger.db"))
    factory, state = default_github_factory(settings, AppMetrics())
    payload = {"repository": "acme/retry", "installation_id": inst.id, "pr_number": number,
               "head_sha": sha, "attempt": "initial"}  # fmt: skip
    now = time.time()
    job = Job(1, "gate", None, "acme/retry", payload, "running", 2, 5, "w", now + 60, now,
              None, now, now, None)  # fmt: skip
    with Ledger.open(tmp_path / "ledger.db") as ledger:
        worker = Worker(ledger, WorkerConfig(concurrency=0), github_factory=factory)
        try:
            await run_gate(job, JobContext(job=job, ledger=ledger, worker=worker))
        finally:
            await state["session"].close()
        run = ledger.read(lambda c: gates.gate_run_for_check(c, orphan))
        done = ledger.read(lambda c: audit.entries(c, action="gate.completed"))
    (check,) = gate_runs(repo, sha)
    assert check.id == orphan and check.status == "completed" and check.conclusion == "failure"
    assert len(check.annotations) == 60  # 50 from the crashed attempt + the last 10
    assert run is not None and run.status == "completed" and run.conclusion == "failure"
    assert [e.details["check_run"] for e in done] == [orphan]
