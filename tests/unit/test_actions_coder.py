"""The actions executor's coder against a scripted bridge (what GitHub answers, in order):
finding a run the dispatch did not name, a failed run's reason, a halt's cancel, and the
patch it takes back (missing, broken, forbidden, good). The full path against the emulator is
tests/e2e/test_actions_executor_e2e.py."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from http import HTTPStatus
from pathlib import Path
from typing import Any

import gidgethub
import pytest

from selfheal.changes.actions import ActionsCoder, ActionsConfig, Bridge
from selfheal.coder.guard import PathGuard
from selfheal.coder.interface import CodeTask, Limit, LimitReached, Limits, Outcome, RunControl
from selfheal.coder.workspace import Workspace
from selfheal.ledger.action_runs import ActionRun
from selfheal.model.policy import load_default_policy
from tests.support.coder import make_worktree

DEFAULTS = load_default_policy()
TASK = CodeTask("r-00ff", "Bump it.", "dependency", ("requirements.txt",))


def patch_zip(files: dict[str, str | None], name: str = "selfheal-patch.json") -> bytes:
    entries = {p: {"deleted": True} if c is None else
               {"content_b64": base64.b64encode(c.encode()).decode()}
               for p, c in files.items()}  # fmt: skip
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, json.dumps({"version": 1, "summary": "done", "files": entries}))
    return buffer.getvalue()


class ScriptedBridge(Bridge):
    """Answers the executor's calls from a script; records what it was asked."""

    def __init__(self, *, conclusion: str = "success", artifact: bytes | None = None,
                 dispatch: Any = None, halted_after: int | None = None,
                 cancel_status: int | None = None) -> None:  # fmt: skip
        self.ref = "main"
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.conclusion, self.artifact, self.dispatch = conclusion, artifact, dispatch
        self.halted_after, self.polls, self.cancel_status = halted_after, 0, cancel_status

    def call(self, call: str, /, data: Any = None, **params: Any) -> Any:
        self.calls.append((call, {**params, **({"data": data} if data else {})}))
        if call == "actions.create_workflow_dispatch":
            return self.dispatch
        if call == "actions.list_workflow_runs":
            return {"workflow_runs": [{"id": 5, "display_title": "selfheal r-0000"},
                                      {"id": 9, "display_title": "selfheal r-00ff"}]}  # fmt: skip
        if call == "actions.get_workflow_run":
            self.polls += 1
            done = self.polls >= 2
            return {"id": params["run_id"], "status": "completed" if done else "in_progress",
                    "conclusion": self.conclusion if done else None}  # fmt: skip
        if call == "actions.cancel_workflow_run":
            if self.cancel_status is not None:
                raise gidgethub.BadRequest(HTTPStatus(self.cancel_status))
            return {}
        if call == "actions.list_jobs_for_workflow_run":
            return {"jobs": [{"id": 77, "name": "code", "conclusion": self.conclusion}]}
        if call == "actions.list_workflow_run_artifacts":
            found = [] if self.artifact is None else [{"id": 3, "name": "selfheal-patch"}]
            return {"artifacts": found}
        raise AssertionError(call)

    def download(self, call: str, max_bytes: int, /, **params: Any) -> bytes:
        self.calls.append((call, params))
        if call == "actions.download_job_logs_for_workflow_run":
            return b"lots of output\nE   AssertionError: tests broke\n"
        assert self.artifact is not None
        return self.artifact

    def halted(self) -> bool:
        return self.halted_after is not None and self.polls >= self.halted_after

    def recorded(self, run_id: int) -> ActionRun | None:
        return None  # no webhook arrived: the REST fallback decides


def run(tmp_path: Path, bridge: ScriptedBridge) -> tuple[Any, Workspace]:
    make_worktree(tmp_path, {"requirements.txt": "requests==2.19.0\n"})
    workspace = Workspace(tmp_path, PathGuard(DEFAULTS, DEFAULTS))
    config = ActionsConfig(poll_seconds=0.01, rest_seconds=0.0, find_seconds=1.0)
    coder = ActionsCoder(config, bridge, sleep=lambda s: None)
    control = RunControl(Limits(budget_usd=2.5))
    return coder.run(workspace, TASK, control), workspace


def names(bridge: ScriptedBridge) -> list[str]:
    return [name for name, _ in bridge.calls]


def test_a_good_patch_is_applied_and_the_run_found_by_its_title(tmp_path: Path) -> None:
    bridge = ScriptedBridge(artifact=patch_zip({"requirements.txt": "requests==2.32.4\n"}))
    result, _ = run(tmp_path, bridge)
    assert result.outcome is Outcome.CHANGED and result.summary == "done"
    assert not result.cost_metered
    assert (tmp_path / "requirements.txt").read_text() == "requests==2.32.4\n"
    dispatch = bridge.calls[0][1]["data"]
    assert dispatch["inputs"]["request"] == "r-00ff" and dispatch["inputs"]["budget"] == "2.50"
    assert ("actions.get_workflow_run", {"run_id": 9}) in bridge.calls  # found by its title


def test_a_failed_run_fails_with_the_tail_of_its_log(tmp_path: Path) -> None:
    bridge = ScriptedBridge(conclusion="timed_out", dispatch={"workflow_run_id": 4})
    with pytest.raises(ValueError, match=r"(?s)ended timed_out \(job code\).*tests broke"):
        run(tmp_path, bridge)
    assert "actions.list_workflow_run_artifacts" not in names(bridge)


@pytest.mark.parametrize("cancel_status", [None, 409])
def test_a_halt_cancels_the_run_and_applies_nothing(
    tmp_path: Path, cancel_status: int | None
) -> None:
    bridge = ScriptedBridge(dispatch={"workflow_run_id": 4}, halted_after=1,
                            artifact=patch_zip({"requirements.txt": "x\n"}),
                            cancel_status=cancel_status)  # fmt: skip
    with pytest.raises(LimitReached) as caught:
        run(tmp_path, bridge)
    assert caught.value.limit is Limit.HALT
    assert ("actions.cancel_workflow_run", {"run_id": 4}) in bridge.calls
    assert "actions.download_artifact" not in names(bridge)
    assert (tmp_path / "requirements.txt").read_text() == "requests==2.19.0\n"


def test_a_cancel_that_fails_otherwise_is_not_hidden(tmp_path: Path) -> None:
    bridge = ScriptedBridge(dispatch={"workflow_run_id": 4}, halted_after=1, cancel_status=403)
    with pytest.raises(gidgethub.BadRequest):
        run(tmp_path, bridge)


def test_patches_that_are_missing_broken_or_forbidden(tmp_path: Path) -> None:
    result, _ = run(tmp_path / "a", ScriptedBridge(dispatch={"workflow_run_id": 4}))
    assert result.outcome is Outcome.NOTHING_TO_DO
    for blob in (b"not a zip", patch_zip({"a": "b"}, name="other.json")):
        with pytest.raises(ValueError, match=r"selfheal-patch\.json"):
            run(tmp_path / str(len(blob)), ScriptedBridge(dispatch={"workflow_run_id": 4},
                                                          artifact=blob))  # fmt: skip
    forbidden = patch_zip({"requirements.txt": "ok\n", ".github/workflows/x.yml": "on: push\n"})
    result, _ = run(tmp_path / "f", ScriptedBridge(dispatch={"workflow_run_id": 4},
                                                   artifact=forbidden))  # fmt: skip
    assert result.outcome is Outcome.REFUSED and "forbids" in result.reason
    assert (tmp_path / "f" / "requirements.txt").read_text() == "requests==2.19.0\n"
