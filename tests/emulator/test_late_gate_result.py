"""A gate verdict that arrives after its request was halted is recorded and dropped: the job
ends cleanly instead of raising, so it is not retried into the dead-letter queue."""

from __future__ import annotations

import time
from pathlib import Path

from selfheal.changes.coding import run_gate_result
from selfheal.config.metrics import AppMetrics
from selfheal.config.settings import parse_settings
from selfheal.emulator import Emulator
from selfheal.ledger import Ledger, audit, requests
from selfheal.ledger.jobs import Job
from selfheal.runtime.context import JobContext
from selfheal.runtime.server import default_github_factory
from selfheal.runtime.worker import Worker, WorkerConfig
from tests.support.e2e import BASE_FILES, env_for


async def test_a_gate_result_for_a_halted_request_is_audited_not_raised(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo = emu.create_repo("acme/late", BASE_FILES)
    inst = emu.install([repo])
    bob = emu.person("bob", "write")
    opened = await bob.open_issue(repo, "Late", "Fix the thing.", labels=[])
    number = int(opened["number"])
    settings = parse_settings(env_for(emu, tmp_path / "ledger.db"))
    factory, state = default_github_factory(settings, AppMetrics())
    with Ledger.open(tmp_path / "ledger.db") as ledger:
        request, _ = ledger.write(lambda c: requests.create_request(
            c, "acme/late", number, requester="bob", state="halted"))  # fmt: skip
        now = time.time()
        payload = {"request": request.id, "installation_id": inst.id, "conclusion": "success",
                   "title": "passed"}  # fmt: skip
        job = Job(1, "request_gate", None, "acme/late", payload, "running", 1, 5, "w", now + 60,
                  now, None, now, now, None)  # fmt: skip
        worker = Worker(ledger, WorkerConfig(concurrency=0), github_factory=factory)
        try:
            await run_gate_result(job, JobContext(job=job, ledger=ledger, worker=worker))
        finally:
            await state["session"].close()
        after = ledger.read(lambda c: requests.get(c, request.id))
        ignored = ledger.read(lambda c: audit.entries(c, action="request.event_ignored"))
    assert after is not None and after.state == "halted"
    seen = [(e.details["state"], e.details["event"]) for e in ignored]
    assert seen == [("halted", "gate_passed")]
