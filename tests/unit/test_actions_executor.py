"""The actions executor's options and the ledger's record of dispatched runs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from gidgethub.sansio import Event

from selfheal.changes.actions import (
    ActionsConfig,
    ActionsExecutor,
    actions_executor,
    on_workflow_job,
    on_workflow_run,
)
from selfheal.coder.interface import BackendOptions
from selfheal.ledger import action_runs, jobs
from selfheal.ledger.db import Ledger
from selfheal.runtime.context import JobContext
from selfheal.runtime.worker import Worker


def test_defaults_and_overrides() -> None:
    assert ActionsConfig.from_mapping({}) == ActionsConfig()
    cfg = ActionsConfig.from_mapping({"workflow": "code.yml", "backend": "command",
                                      "poll_seconds": 0.5, "rest_seconds": 60})  # fmt: skip
    assert (cfg.workflow, cfg.backend, cfg.poll_seconds, cfg.rest_seconds) == (
        "code.yml",
        "command",
        0.5,
        60.0,
    )


@pytest.mark.parametrize(
    "options",
    [
        {"workflow": "../ci.yml"},
        {"workflow": "ci"},
        {"backend": "rm -rf /"},
        {"poll_seconds": 0},
        {"rest_seconds": True},
        {"find_seconds": 10_000},
        {"command": ["sh"]},
    ],
)
def test_bad_options_are_refused(options: Mapping[str, object]) -> None:
    with pytest.raises(ValueError, match="actions executor"):
        ActionsConfig.from_mapping(options)


def test_an_unbound_executor_refuses_to_run() -> None:
    assert actions_executor().config is None  # the agent's options decide
    executor = actions_executor({})
    assert isinstance(executor, ActionsExecutor) and executor.config == ActionsConfig()
    with pytest.raises(ValueError, match="bound"):
        executor(BackendOptions())


def test_a_late_delivery_never_moves_a_run_back(tmp_path: Path) -> None:
    ledger = Ledger.open(tmp_path / "l.db")
    try:
        ledger.write(lambda c: action_runs.record_run(c, 7, "o/r", "p", "in_progress", None))
        ledger.write(lambda c: action_runs.record_run(c, 7, "o/r", "p", "completed", "failure"))
        ledger.write(lambda c: action_runs.record_run(c, 7, "o/r", "p", "queued", None))
        ledger.write(lambda c: action_runs.record_job(c, 7, "code", "completed", "failure"))
        ledger.write(lambda c: action_runs.record_job(c, 7, "code", "in_progress", None))
        ledger.write(lambda c: action_runs.record_job(c, 8, "code", "queued", None))  # unknown run
        run = ledger.read(lambda c: action_runs.get(c, 7))
        assert run is not None and (run.status, run.conclusion) == ("completed", "failure")
        assert run.jobs == {"code": {"status": "completed", "conclusion": "failure"}}
        assert ledger.read(lambda c: action_runs.get(c, 8)) is None
    finally:
        ledger.close()


def _event(name: str, data: dict[str, object]) -> Event:
    return Event(data, event=name, delivery_id="d-1")


async def test_the_webhooks_record_dispatched_runs_and_ignore_the_rest(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.db") as ledger:
        job = jobs.Job(1, "k", None, None, {}, "running", 1, 5, "w", None, 0, None, 0, 0, None)
        ctx = JobContext(job, ledger, Worker(ledger))
        repo = {"full_name": "acme/widgets"}
        run = {"id": 41, "event": "workflow_dispatch", "status": "completed",
               "conclusion": "failure", "path": ".github/workflows/selfheal-code.yml"}  # fmt: skip
        hostile: list[dict[str, object]] = [
            {"workflow_run": {**run, "id": 42, "event": "push"}, "repository": repo},  # CI run
            {"workflow_run": {**run, "id": "43"}, "repository": repo},
            {"workflow_run": {**run, "id": 44, "status": None}, "repository": repo},
            {"workflow_run": {**run, "id": 45}},  # no repository
            {"workflow_run": "not an object", "repository": repo},
        ]
        for data in hostile:
            await on_workflow_run(_event("workflow_run", data), ctx)
        await on_workflow_run(
            _event("workflow_run", {"workflow_run": run, "repository": repo}), ctx
        )
        done = {"run_id": 41, "name": "code", "status": "completed", "conclusion": "failure"}
        await on_workflow_job(_event("workflow_job", {"workflow_job": done}), ctx)
        await on_workflow_job(_event("workflow_job", {"workflow_job": {"run_id": 41}}), ctx)
        recorded = ledger.read(lambda c: c.execute("SELECT run_id FROM action_runs").fetchall())
        assert [r[0] for r in recorded] == [41]
        got = ledger.read(lambda c: action_runs.get(c, 41))
        assert got is not None and (got.status, got.conclusion) == ("completed", "failure")
        assert got.jobs == {"code": {"status": "completed", "conclusion": "failure"}}
