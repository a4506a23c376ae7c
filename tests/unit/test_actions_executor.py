"""The actions executor's options and the ledger's record of dispatched runs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from selfheal.changes.actions import ActionsConfig, ActionsExecutor, actions_executor
from selfheal.coder.interface import BackendOptions
from selfheal.ledger import action_runs
from selfheal.ledger.db import Ledger


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
