"""End to end: the request lifecycle past the first PR. A halt stops a running coder within
10 s; auto-merge, and a review path that waits for the diff approval and is never merged
automatically; the open-PR limit holding a request until a slot frees; and a person's push
to the bot's branch, which the bot never force-pushes afterwards."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from selfheal.coder.interface import (
    BackendOptions,
    CoderResult,
    CodeTask,
    LimitReached,
    Outcome,
    RunControl,
)
from selfheal.coder.workspace import Workspace
from selfheal.emulator import Emulator
from selfheal.emulator.gitdata import open_repo, refs
from selfheal.ledger import requests
from tests.support.e2e import BASE_FILES, REPO, completed_gate, until
from tests.support.forms import render_form
from tests.support.requests_e2e import (
    REQUEST,
    bot_comments,
    pr_of,
    request_of,
    request_server,
    selfheal_branches,
    state_labels,
    status_comments,
)
from tests.support.samples import tokens

PIN = "requests==2.19.0\n"
FILES = {**BASE_FILES, "requirements.txt": PIN}
AUTO_MERGE = "requests:\n  auto_merge: true\n"
GATE = "selfheal/security-gate"


def dependency_form(target: str = "requirements.txt", priority: str = "5") -> str:
    return render_form({"type": "dependency", "description": "Bump the vulnerable pin.",
                        "target_files": target, "priority": priority})  # fmt: skip


class SlowCoder:
    """A backend that works for up to a minute, asking its run control between steps."""

    name = "rules"
    needs_model_key = False
    own_process = False

    def __init__(self) -> None:
        self.started = threading.Event()
        self.stopped_at: float | None = None

    def refusal(self, task: CodeTask) -> str | None:
        return None

    def run(self, workspace: Workspace, task: CodeTask, control: RunControl) -> CoderResult:
        self.started.set()
        try:
            for _ in range(1200):
                control.check()
                time.sleep(0.05)
        except LimitReached:
            self.stopped_at = time.monotonic()
            raise
        workspace.write_text("requirements.txt", "requests==2.32.0\n")
        return CoderResult(Outcome.CHANGED, "slowly bumped", ("requirements.txt",))


async def test_a_halt_mid_coding_stops_the_coder_within_10_s_and_pushes_nothing(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    coder = SlowCoder()

    def slow(options: BackendOptions) -> SlowCoder:
        return coder

    async with request_server(emu, tmp_path, FILES, backends={"rules": slow}) as (repo, server):
        alice = emu.person("alice", "write")
        opened = await alice.open_issue(repo, "Bump", dependency_form(), labels=[REQUEST])
        number = int(opened["number"])
        await until(coder.started.is_set, what="the coder running")
        await alice.open_issue(repo, "Stop everything", labels=["selfheal:halt"])
        halted_at = time.monotonic()
        await until(lambda: coder.stopped_at is not None, timeout=10, what="coder stopped")
        await until(lambda: state_labels(repo, number) == ["selfheal:state/halted"],
                    timeout=10, what="request halted")  # fmt: skip
        assert coder.stopped_at is not None and coder.stopped_at - halted_at < 10
        assert time.monotonic() - halted_at < 10
        request = request_of(server, number)
        assert request is not None and request.state == "halted"
        steps = server.ledger.read(lambda c: requests.transitions(c, request.id))
        assert [s.to_state for s in steps][-2:] == ["coding", "halted"]
        await asyncio.sleep(1.0)  # anything still in flight (on this loop) would push now
        assert selfheal_branches(repo) == [] and pr_of(repo, number) is None


async def test_auto_merge_merges_an_open_path_pr_once_its_checks_pass(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    files = {**FILES, ".github/selfheal.yml": AUTO_MERGE}
    async with request_server(emu, tmp_path, files) as (repo, server):
        emu.require_checks(repo, "main", [GATE])
        alice = emu.person("alice", "write")
        opened = await alice.open_issue(repo, "Bump", dependency_form(), labels=[REQUEST])
        number = int(opened["number"])
        pr = await until(lambda: pr_of(repo, number), what="draft PR", timeout=120)
        await until(lambda: pr.pull.merged, what="merged by the bot", timeout=120)
        assert pr.pull.merged_by is not None and pr.pull.merged_by.login == "selfheal[bot]"
        gate = completed_gate(repo, pr.pull.head_sha)
        assert gate is not None and gate.conclusion == "success"
        await until(lambda: state_labels(repo, number) == ["selfheal:state/done"], what="done")
        merged = await until(lambda: server.audit("request.auto_merged"), what="audit")
        assert merged[0].details["pr"] == pr.number


async def test_a_review_path_waits_for_the_diff_approval_and_is_never_auto_merged(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    files = {**FILES, ".github/selfheal.yml": AUTO_MERGE,
             ".github/selfheal.policy": "/requirements.txt   review   @alice\n"}  # fmt: skip
    async with request_server(emu, tmp_path, files) as (repo, server):
        alice = emu.person("alice", "maintain")
        opened = await alice.open_issue(repo, "Bump", dependency_form(), labels=[REQUEST])
        number = int(opened["number"])
        await until(lambda: state_labels(repo, number) == ["selfheal:state/needs-approval"],
                    what="plan approval")  # fmt: skip
        await alice.comment(repo, number, "/selfheal approve")
        pr = await until(lambda: pr_of(repo, number), what="draft PR", timeout=120)
        gate = await until(lambda: completed_gate(repo, pr.pull.head_sha), what="gate")
        assert gate.conclusion == "action_required", gate.output

        def waiting() -> bool:
            return any("approve the diff" in body for body in status_comments(repo, number))

        await until(waiting, what="issue shows the wait for the diff approval")
        request = request_of(server, number)
        assert request is not None and request.state == "gating"
        await alice.click_check_run_action(gate, "approve")
        await until(lambda: state_labels(repo, number) == ["selfheal:state/pr-open"],
                    what="ready after the diff approval")  # fmt: skip
        await until(lambda: not pr.pull.draft, what="marked ready")
        await emu.drain()
        await asyncio.sleep(1.0)  # a merge job, if one had been queued, would have run by now
        assert not pr.pull.merged and pr.state == "open"
        assert not server.audit("request.auto_merged")


async def test_the_open_pr_limit_holds_a_request_until_a_slot_frees(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    files = {**FILES, "requirements-dev.txt": PIN,
             ".github/selfheal.yml": "requests:\n  max_open_prs: 1\n"}  # fmt: skip
    async with request_server(emu, tmp_path, files) as (repo, server):
        alice = emu.person("alice", "write")
        first = await alice.open_issue(repo, "Bump", dependency_form(), labels=[REQUEST])
        one = int(first["number"])
        pr_one = await until(lambda: pr_of(repo, one), what="first PR", timeout=120)
        second = await alice.open_issue(
            repo, "Bump dev", dependency_form("requirements-dev.txt"), labels=[REQUEST]
        )
        two = int(second["number"])

        def held() -> bool:
            return any("waiting:" in body and "limit is 1 at once" in body
                       for body in status_comments(repo, two))  # fmt: skip

        await until(held, what="second request held by the limit")
        assert pr_of(repo, two) is None
        request = request_of(server, two)
        assert request is not None and request.state == "queued"
        await until(lambda: not pr_one.pull.draft, what="first PR ready")
        await alice.merge(repo, pr_one.number)
        pr_two = await until(lambda: pr_of(repo, two), what="second PR after the merge")
        assert pr_two.pull.head_ref.startswith(f"selfheal/{two}-")


async def test_a_persons_push_to_the_bot_branch_is_never_force_pushed(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    async with request_server(emu, tmp_path, FILES) as (repo, server):
        alice = emu.person("alice", "write")
        bob = emu.person("bob", "write")
        opened = await alice.open_issue(repo, "Bump", dependency_form(), labels=[REQUEST])
        number = int(opened["number"])
        pr = await until(lambda: pr_of(repo, number), what="draft PR", timeout=120)
        await until(lambda: state_labels(repo, number) == ["selfheal:state/pr-open"],
                    what="ready")  # fmt: skip
        branch = pr.pull.head_ref
        # bob's commit leaks a token: the gate fails on it and the request rolls back
        pushed = await bob.push(repo, branch, {"app/cfg.py": tokens(1)}, "bob's config")
        notice = "will not force-push this branch again"
        await until(lambda: any(notice in b for b in bot_comments(repo, number)), what="notice")
        await until(lambda: state_labels(repo, number) == ["selfheal:state/rolled-back"],
                    what="rolled back")  # fmt: skip
        await until(lambda: pr.state == "closed", what="PR closed")
        git = open_repo(repo.path)
        assert f"refs/heads/{branch}" in refs(git)  # a shared branch is not deleted
        assert str(git.references[f"refs/heads/{branch}"].target) == pushed

        await alice.comment(repo, number, "/selfheal retry")
        retried = await until(
            lambda: next((p for p in repo.issues.values() if p.pull is not None
                          and p.number != pr.number and f"Fixes #{number}" in (p.body or "")),
                         None), what="a new PR", timeout=120)  # fmt: skip
        assert retried.pull.head_ref == f"{branch}-2"
        git = open_repo(repo.path)
        assert str(git.references[f"refs/heads/{branch}"].target) == pushed  # untouched
        request = request_of(server, number)
        assert request is not None and branch in request.data["shared_branches"]
        assert len(status_comments(repo, number)) == 1
        assert REPO == repo.full_name
