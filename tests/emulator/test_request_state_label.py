"""Two jobs on one request issue label it at once (a cancel while the approval's job is still
labelling): each started from the issue as it was, yet the issue ends with exactly one state
label, the one of the state the ledger has (emulator, the app's own client, a real ledger)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

from selfheal.changes.machine import State, UpdateStatusComment
from selfheal.changes.service import RequestRun
from selfheal.config.metrics import AppMetrics
from selfheal.config.settings import parse_settings
from selfheal.emulator import Emulator
from selfheal.emulator.state import Repo
from selfheal.github.protocol import GitHubAPI
from selfheal.ledger import Ledger, requests
from selfheal.ledger.jobs import Job
from selfheal.runtime.context import JobContext
from selfheal.runtime.server import default_github_factory
from selfheal.runtime.worker import Worker, WorkerConfig
from tests.support.e2e import BASE_FILES, env_for
from tests.support.requests_e2e import REQUEST, state_labels, status_comments

REPO = "acme/labels"
WAITING = "selfheal:state/needs-approval"


@asynccontextmanager
async def two_jobs(
    emu: Emulator, tmp_path: Path
) -> AsyncIterator[tuple[Repo, Ledger, requests.Request, JobContext, GitHubAPI, dict[str, Any]]]:
    """A request awaiting approval, its issue so labelled, and what two jobs on it share; the
    last item is the issue as both jobs read it when they started."""
    repo = emu.create_repo(REPO, BASE_FILES)
    inst = emu.install([repo])
    bob = emu.person("bob", "write")
    opened = await bob.open_issue(repo, "Core", "Tune it.", labels=[REQUEST, WAITING])
    settings = parse_settings(env_for(emu, tmp_path / "ledger.db"))
    factory, session = default_github_factory(settings, AppMetrics())
    with Ledger.open(tmp_path / "ledger.db") as ledger:
        number = int(opened["number"])
        request, _ = ledger.write(lambda c: requests.create_request(
            c, REPO, number, requester="bob", state="awaiting_approval"))  # fmt: skip
        now = time.time()
        job = Job(1, "webhook", None, REPO, {}, "running", 1, 5, "w", now + 60, now, None, now,
                  now, None)  # fmt: skip
        worker = Worker(ledger, WorkerConfig(concurrency=0), github_factory=factory)
        ctx = JobContext(job=job, ledger=ledger, worker=worker, installation_id=inst.id)
        try:
            gh = await ctx.github()
            issue = await gh.call("issues.get", owner="acme", repo="labels",
                                  issue_number=request.issue_number)  # fmt: skip
            yield repo, ledger, request, ctx, gh, dict(issue)
        finally:
            await session["session"].close()


def move(ledger: Ledger, request: requests.Request, to: str, event: str) -> requests.Request:
    moved: requests.Request = ledger.write(lambda c: requests.move(
        c, request.id, request.state, to, event=event, actor="selfheal"))  # fmt: skip
    return moved


async def test_a_job_labelling_after_a_later_move_shows_the_ledgers_state(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    async with two_jobs(github_emulator, tmp_path) as (repo, ledger, request, ctx, gh, issue):
        approving, cancelling = RequestRun(ctx, gh, REPO, issue), RequestRun(ctx, gh, REPO, issue)
        queued = move(ledger, request, "queued", "approved")
        cancelled = move(ledger, queued, "cancelled", "cancel")
        await cancelling.set_state_label(cancelled, State.CANCELLED)
        await approving.set_state_label(queued, State.QUEUED)  # late, for its older step
        assert state_labels(repo, request.issue_number) == ["selfheal:state/cancelled"]


class MovesMidway:
    """The app's client, but the first time it adds a label ``meanwhile`` runs first: another
    job moves the request and labels it between this job's read and its write."""

    def __init__(self, gh: GitHubAPI, meanwhile: Callable[[], Awaitable[None]]) -> None:
        self.gh, self.meanwhile = gh, meanwhile
        self.fired = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.gh, name)

    async def call(self, name: str, /, **kwargs: Any) -> Any:
        if name == "issues.add_labels" and not self.fired:
            self.fired = True
            await self.meanwhile()
        return await self.gh.call(name, **kwargs)


async def test_a_move_while_a_job_labels_is_labelled_again_not_left_beside_it(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    async with two_jobs(github_emulator, tmp_path) as (repo, ledger, request, ctx, gh, issue):
        queued = move(ledger, request, "queued", "approved")

        async def cancel() -> None:
            cancelled = move(ledger, queued, "cancelled", "cancel")
            await RequestRun(ctx, gh, REPO, issue).set_state_label(cancelled, State.CANCELLED)

        approving = MovesMidway(gh, cancel)
        await RequestRun(ctx, cast(GitHubAPI, approving), REPO, issue).set_state_label(
            queued, State.QUEUED
        )
        assert approving.fired
        assert state_labels(repo, request.issue_number) == ["selfheal:state/cancelled"]


async def test_a_job_late_with_its_status_comment_leaves_the_later_moves(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    """The status comment, like the label, shows the state the ledger has: a job writing the
    comment for a step another job has moved past writes nothing."""
    async with two_jobs(github_emulator, tmp_path) as (repo, ledger, request, ctx, gh, issue):
        approving, cancelling = RequestRun(ctx, gh, REPO, issue), RequestRun(ctx, gh, REPO, issue)
        queued = move(ledger, request, "queued", "approved")
        cancelled = move(ledger, queued, "cancelled", "cancel")
        cancel = UpdateStatusComment(State.CANCELLED, "cancelled by @bob")
        await cancelling.update_status(cancelled, cancel)
        await approving.update_status(queued, UpdateStatusComment(State.QUEUED, "approved"))
        (status,) = status_comments(repo, request.issue_number)
        assert "state: **cancelled**" in status and "cancelled by @bob" in status
