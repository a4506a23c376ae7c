"""The emulator's GitHub Actions: workflow_dispatch and its checks, a run's life (queued,
in progress, completed or cancelled) with its webhooks, artifacts and job logs behind signed
storage URLs, through the app's own GitHubClient."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import gidgethub
import pytest

from selfheal.emulator import Emulator
from selfheal.emulator.state import Repo
from selfheal.github.client import DownloadTooLarge, GitHubClient
from tests.support.webhook_receiver import WebhookReceiver

WORKFLOW = """\
name: selfheal code
run-name: selfheal ${{ inputs.request }}
on:
  workflow_dispatch:
    inputs:
      request: {required: true, type: string}
      backend: {required: false, default: rules}
jobs:
  code: {runs-on: ubuntu-latest, steps: [{run: echo}]}
"""
PUSH_ONLY = "name: ci\non: [push]\njobs: {t: {runs-on: x, steps: [{run: echo}]}}\n"
R: dict[str, Any] = {"owner": "acme", "repo": "widgets"}
WF: dict[str, Any] = {**R, "workflow_id": "selfheal-code.yml"}


@pytest.fixture
def repo(github_emulator: Emulator) -> Repo:
    files = {
        ".github/workflows/selfheal-code.yml": WORKFLOW,
        ".github/workflows/ci.yml": PUSH_ONLY,
        "app.py": "x = 1\n",
    }
    repo = github_emulator.create_repo("acme/widgets", files)
    github_emulator.install([repo])
    return repo


@pytest.fixture
async def gh(github_emulator: Emulator, repo: Repo) -> AsyncIterator[GitHubClient]:
    async with aiohttp.ClientSession() as session:
        token = github_emulator.installation_token()
        yield GitHubClient.for_token(token, session=session, base_url=github_emulator.base_url)


async def _dispatch(gh: GitHubClient, request: str) -> int:
    data = {"ref": "main", "inputs": {"request": request}, "return_run_details": True}
    details = await gh.call("actions.create_workflow_dispatch", data=data, **WF)
    return int(details["workflow_run_id"])


async def test_a_dispatch_queues_a_run_with_its_inputs_and_title(
    github_emulator: Emulator, repo: Repo, gh: GitHubClient, webhook_receiver: WebhookReceiver
) -> None:
    run_id = await _dispatch(gh, "r-7")
    assert github_emulator.run_inputs(run_id) == {"request": "r-7", "backend": "rules"}
    run = await gh.call("actions.get_workflow_run", run_id=run_id, **R)
    assert (run["status"], run["conclusion"], run["event"]) == ("queued", None, "workflow_dispatch")
    assert run["display_title"] == "selfheal r-7"
    assert run["path"] == ".github/workflows/selfheal-code.yml"
    none = await gh.call("actions.create_workflow_dispatch", data={"ref": "main",
                         "inputs": {"request": "r-8"}}, **WF)  # fmt: skip
    assert none is None  # 204 without return_run_details
    listed = [r async for r in gh.paginate("actions.list_workflow_runs", **WF)]
    assert [r["display_title"] for r in listed] == ["selfheal r-8", "selfheal r-7"]
    await github_emulator.drain()
    assert len(webhook_receiver.seen("workflow_run", "requested")) == 2


@pytest.mark.parametrize(
    ("workflow", "data", "status"),
    [
        ("selfheal-code.yml", {"ref": "main", "inputs": {"request": "r", "cmd": "sh"}}, 422),
        ("selfheal-code.yml", {"ref": "main", "inputs": {}}, 422),  # required input missing
        ("selfheal-code.yml", {"ref": "nowhere", "inputs": {"request": "r"}}, 422),
        ("selfheal-code.yml", {"inputs": {"request": "r"}}, 422),  # no ref
        ("ci.yml", {"ref": "main"}, 422),  # no workflow_dispatch trigger
        ("missing.yml", {"ref": "main"}, 404),
    ],
)
async def test_a_bad_dispatch_is_refused(
    github_emulator: Emulator, repo: Repo, gh: GitHubClient, workflow: str, data: dict[str, object],
    status: int,
) -> None:  # fmt: skip
    with pytest.raises(gidgethub.BadRequest) as caught:
        await gh.call(
            "actions.create_workflow_dispatch", data=data, **{**R, "workflow_id": workflow}
        )
    assert caught.value.status_code == status
    assert repo.workflow_runs == {}


async def test_a_reader_cannot_dispatch(github_emulator: Emulator, repo: Repo) -> None:
    reader = github_emulator.person("rita", "read")
    status, _ = await reader.api(
        "POST", "/repos/acme/widgets/actions/workflows/selfheal-code.yml/dispatches",
        {"ref": "main", "inputs": {"request": "r"}},
    )  # fmt: skip
    assert status == 403
    assert repo.workflow_runs == {}


async def test_a_run_starts_uploads_and_finishes_with_webhooks_in_order(
    github_emulator: Emulator, repo: Repo, gh: GitHubClient, webhook_receiver: WebhookReceiver
) -> None:
    emu = github_emulator
    run_id = await _dispatch(gh, "r-1")
    [job] = emu.start_workflow_run(repo, run_id, ["code"])
    artifact = emu.upload_artifact(repo, run_id, "selfheal-patch", {"patch.diff": b"diff --git\n"})
    with pytest.raises(ValueError, match="already exists"):
        emu.upload_artifact(repo, run_id, "selfheal-patch", {"x": b""})
    assert emu.finish_workflow_run(repo, run_id, "failure", logs={"code": "tests failed\n"})
    assert not emu.finish_workflow_run(repo, run_id, "success")  # already over
    with pytest.raises(ValueError, match="only a running job uploads"):
        emu.upload_artifact(repo, run_id, "late", {"x": b""})
    run = await gh.call("actions.get_workflow_run", run_id=run_id, **R)
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    blob = await gh.download("actions.download_artifact", max_bytes=10_000,
                             artifact_id=artifact["id"], archive_format="zip", **R)  # fmt: skip
    assert zipfile.ZipFile(io.BytesIO(blob)).read("patch.diff") == b"diff --git\n"
    with pytest.raises(DownloadTooLarge):
        await gh.download("actions.download_artifact", max_bytes=10,
                          artifact_id=artifact["id"], archive_format="zip", **R)  # fmt: skip
    log = await gh.download("actions.download_job_logs_for_workflow_run", max_bytes=10_000,
                            job_id=job["id"], **R)  # fmt: skip
    assert log == b"tests failed\n"
    await emu.drain()
    seen = [(e.event, e.data["action"]) for e in webhook_receiver.events
            if e.event.startswith("workflow_")]  # fmt: skip
    assert seen == [
        ("workflow_run", "requested"),
        ("workflow_job", "queued"),
        ("workflow_job", "in_progress"),
        ("workflow_run", "in_progress"),
        ("workflow_job", "completed"),
        ("workflow_run", "completed"),
    ]


async def test_cancel_ends_a_running_run_and_a_finished_one_is_409(
    github_emulator: Emulator, repo: Repo, gh: GitHubClient, webhook_receiver: WebhookReceiver
) -> None:
    emu = github_emulator
    run_id = await _dispatch(gh, "r-2")
    emu.start_workflow_run(repo, run_id, ["code"])
    await gh.call("actions.cancel_workflow_run", run_id=run_id, **R)
    run = emu.workflow_run(repo, run_id)
    assert (run["status"], run["conclusion"]) == ("completed", "cancelled")
    assert not emu.finish_workflow_run(repo, run_id, "success")  # the runner lost the race
    with pytest.raises(gidgethub.BadRequest) as caught:
        await gh.call("actions.cancel_workflow_run", run_id=run_id, **R)
    assert caught.value.status_code == 409
    await emu.drain()
    [done] = webhook_receiver.seen("workflow_run", "completed")
    assert done.data["workflow_run"]["conclusion"] == "cancelled"
    [job] = webhook_receiver.seen("workflow_job", "completed")
    assert job.data["workflow_job"]["conclusion"] == "cancelled"


async def test_storage_refuses_a_forwarded_token_and_expired_artifacts_are_gone(
    github_emulator: Emulator, repo: Repo, gh: GitHubClient
) -> None:
    emu = github_emulator
    run_id = await _dispatch(gh, "r-3")
    emu.start_workflow_run(repo, run_id)
    artifact = emu.upload_artifact(repo, run_id, "selfheal-patch", {"a": b"1"})
    location = await gh.locate("actions.download_artifact", artifact_id=artifact["id"],
                               archive_format="zip", **R)  # fmt: skip
    async with aiohttp.ClientSession() as session:
        headers = {"Authorization": f"token {emu.installation_token()}"}
        async with session.get(location, headers=headers) as resp:
            assert resp.status == 400
        async with session.get(location + "x") as resp:
            assert resp.status == 403
    emu.expire_artifact(repo, artifact["id"])
    with pytest.raises(gidgethub.BadRequest) as caught:
        await gh.download("actions.download_artifact", max_bytes=100,
                          artifact_id=artifact["id"], archive_format="zip", **R)  # fmt: skip
    assert caught.value.status_code == 410
    with pytest.raises(gidgethub.BadRequest):  # no log before the job is over
        job = repo.workflow_jobs[run_id][0]
        await gh.download("actions.download_job_logs_for_workflow_run", max_bytes=100,
                          job_id=job["id"], **R)  # fmt: skip
