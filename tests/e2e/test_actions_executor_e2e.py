"""End to end with the ``actions`` executor: the App dispatches selfheal-code.yml, the test
plays the runner (a checkout of the dispatched commit, ``selfheal code`` and the patch step
run as the example workflow runs them, the artifact uploaded through the emulator's stand-in
for the Actions runtime), and the App downloads the patch, reviews it and pushes the branch
itself. A failed run fails the request with its log; a halt cancels the run through the API
within 10 s and nothing is pushed."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pygit2

from selfheal import changes, registry
from selfheal.changes.actions import actions_executor
from selfheal.emulator import Emulator
from selfheal.emulator.gitdata import open_repo, refs
from selfheal.emulator.state import Repo
from tests.support.action import run_action
from tests.support.e2e import BASE_FILES, REPO, Server, until
from tests.support.forms import render_form
from tests.support.paths import ROOT
from tests.support.requests_e2e import REQUEST, pr_of, request_of, state_labels

# The example workflow the docs ship is the one the repository has: what the App dispatches
# must be what it declares (the emulator refuses undeclared or missing inputs).
WORKFLOW = (ROOT / "docs/examples/selfheal-code.yml").read_text(encoding="utf-8")
FILES = {
    **BASE_FILES,
    "requirements.txt": "requests==2.19.0\n",
    ".github/workflows/selfheal-code.yml": WORKFLOW,
}
PATH = ".github/workflows/selfheal-code.yml"


async def _server(emu: Emulator, db: Path) -> Server:
    features = [make() for make in registry.FEATURES if make().name != "changes"]
    # The REST API is asked once at the start, then only when the webhooks say the run is
    # over: the run is followed through its workflow_run events.
    executor = actions_executor({"poll_seconds": 0.2, "rest_seconds": 600})
    features.append(changes.feature(backends={"rules": executor}))
    return await Server.start(emu, db, wiring=registry.compose(features))


def _runner_job(repo: Repo, run: dict[str, Any], inputs: dict[str, Any], work: Path) -> bytes:
    """What the example workflow's job does on a runner: check out the dispatched commit,
    then run action.yml in its code mode with the dispatch's inputs (the step that would
    hold the model key); the patch it writes is what the upload step hands back."""
    checkout = pygit2.clone_repository(str(repo.path), str(work / "checkout"))
    checkout.reset(run["head_sha"], pygit2.enums.ResetMode.HARD)
    given = {"mode": "code", **{k: str(v) for k, v in inputs.items()}}
    status, stdout, outputs, _ = run_action(work / "checkout", work, given, {})
    assert status == 0, stdout
    return (Path(outputs["patch"]) / "selfheal-patch.json").read_bytes()


def _request_body() -> str:
    return render_form({"type": "dependency", "description": "Bump requests.",
                        "target_files": "requirements.txt", "priority": "8"})  # fmt: skip


async def test_a_request_is_coded_on_a_runner_and_the_app_pushes_the_patch(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo = emu.create_repo(REPO, FILES)
    alice = emu.person("alice", "write")
    server = await _server(emu, tmp_path / "ledger.db")
    try:
        emu.install([repo])
        await until(lambda: REQUEST in repo.labels, what="labels created")
        opened = await alice.open_issue(repo, "Bump requests", _request_body(), labels=[REQUEST])
        number = int(opened["number"])
        [run] = await until(lambda: emu.dispatched_runs(repo, PATH), what="dispatch", timeout=60)
        inputs = emu.run_inputs(run["id"])
        request = request_of(server, number)
        assert request is not None and inputs["request"] == request.id
        assert inputs["backend"] == "rules" and inputs["targets"] == "requirements.txt"
        assert inputs["budget"] == "5.00"
        emu.start_workflow_run(repo, run["id"])
        patch = await asyncio.to_thread(_runner_job, repo, run, inputs, tmp_path)
        emu.upload_artifact(repo, run["id"], "selfheal-patch", {"selfheal-patch.json": patch})
        emu.finish_workflow_run(repo, run["id"], "success", logs={"code": "bumped\n"})

        pr = await until(lambda: pr_of(repo, number), what="draft PR", timeout=120)
        head = open_repo(repo.path).get(pr.pull.head_sha)
        assert isinstance(head, pygit2.Commit) and head.author.name == "selfheal[bot]"
        blob = head.tree["requirements.txt"]
        assert isinstance(blob, pygit2.Blob)
        assert blob.data.startswith(b"requests==") and b"2.19.0" not in blob.data
        assert "bumped 1 dependency declaration" in (pr.body or "")  # the runner's summary
    finally:
        await server.stop()


async def test_a_failed_run_fails_the_request_with_its_log(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo = emu.create_repo(REPO, FILES)
    alice = emu.person("alice", "write")
    server = await _server(emu, tmp_path / "ledger.db")
    try:
        emu.install([repo])
        await until(lambda: REQUEST in repo.labels, what="labels created")
        opened = await alice.open_issue(repo, "Bump requests", _request_body(), labels=[REQUEST])
        number = int(opened["number"])
        [run] = await until(lambda: emu.dispatched_runs(repo, PATH), what="dispatch", timeout=60)
        emu.start_workflow_run(repo, run["id"])
        emu.finish_workflow_run(repo, run["id"], "failure", logs={"code": "E   tests broke\n"})
        await until(lambda: state_labels(repo, number) == ["selfheal:state/failed"],
                    what="failed", timeout=60)  # fmt: skip
        # the label comes first, then the status comment: wait for it
        comments = await until(
            lambda: "\n".join(c.body for c in repo.issues[number].comments)
            if any("ended failure" in c.body for c in repo.issues[number].comments) else "",
            what="the status comment", timeout=30,
        )  # fmt: skip
        assert "tests broke" in comments
        assert [r for r in refs(open_repo(repo.path)) if r.startswith("refs/heads/selfheal/")] == []
    finally:
        await server.stop()


async def test_a_halt_cancels_the_dispatched_run_and_nothing_is_pushed(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo = emu.create_repo(REPO, FILES)
    alice = emu.person("alice", "write")
    server = await _server(emu, tmp_path / "ledger.db")
    try:
        emu.install([repo])
        await until(lambda: REQUEST in repo.labels, what="labels created")
        opened = await alice.open_issue(repo, "Bump requests", _request_body(), labels=[REQUEST])
        number = int(opened["number"])
        [run] = await until(lambda: emu.dispatched_runs(repo, PATH), what="dispatch", timeout=60)
        emu.start_workflow_run(repo, run["id"])
        halted_at = time.monotonic()
        await alice.open_issue(repo, "Stop", labels=["selfheal:halt"])
        await until(lambda: run["conclusion"] == "cancelled", what="run cancelled", timeout=10)
        assert time.monotonic() - halted_at < 10
        # the runner's late patch is refused by the runtime, and nothing reaches the repo
        assert not emu.finish_workflow_run(repo, run["id"], "success")
        await until(lambda: request_of(server, number) is not None
                    and request_of(server, number).state != "coding",  # type: ignore[union-attr]
                    what="request stopped", timeout=30)  # fmt: skip
        await asyncio.sleep(1)
        assert [r for r in refs(open_repo(repo.path)) if r.startswith("refs/heads/selfheal/")] == []
        assert pr_of(repo, number) is None
    finally:
        await server.stop()
