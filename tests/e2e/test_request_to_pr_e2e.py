"""End to end: a writer's dependency request becomes a draft PR with the pin bumped by the
rules coder; the gate passes, the PR is marked ready, and merging it merges the request."""

from __future__ import annotations

from pathlib import Path

import pygit2

from selfheal.coder.interface import BackendOptions, CoderResult, CodeTask, Outcome, RunControl
from selfheal.coder.workspace import Workspace
from selfheal.emulator import Emulator
from selfheal.emulator.gitdata import open_repo, refs
from selfheal.ledger import requests
from tests.support.e2e import BASE_FILES, REPO, completed_gate, until
from tests.support.forms import render_form
from tests.support.requests_e2e import BOT, REQUEST, pr_of, request_server, state_labels
from tests.support.samples import tokens

FILES = {**BASE_FILES, "requirements.txt": "requests==2.19.0  # pinned for the demo\n"}


async def test_a_dependency_request_becomes_a_gated_ready_pr_then_merged(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    alice = emu.person("alice", "write")
    async with request_server(emu, tmp_path, FILES) as (repo, server):
        body = render_form({"type": "dependency", "description": "Bump requests.",
                            "target_files": "requirements.txt", "priority": "8"})  # fmt: skip
        opened = await alice.open_issue(repo, "Bump requests", body, labels=[REQUEST])
        number = int(opened["number"])

        pr = await until(lambda: pr_of(repo, number), what="draft PR", timeout=120)
        assert pr.pull.head_ref.startswith(f"selfheal/{number}-bump-requests")
        assert pr.user.login == "selfheal[bot]"
        await until(lambda: "selfheal:bot" in [x.name for x in pr.labels], what="PR labelled")
        git = open_repo(repo.path)
        head = git.get(pr.pull.head_sha)
        assert isinstance(head, pygit2.Commit) and head.author.name == "selfheal[bot]"
        assert f"Selfheal-Request: {REPO}#{number}" in head.message
        pinned = head.tree["requirements.txt"].data.decode()
        assert pinned.startswith("requests==") and "2.19.0" not in pinned
        assert "# pinned for the demo" in pinned  # the file keeps its format

        gate = await until(lambda: completed_gate(repo, pr.pull.head_sha), what="gate")
        assert gate.conclusion == "success", gate.output
        await until(lambda: not pr.pull.draft, what="marked ready")
        await until(lambda: state_labels(repo, number) == ["selfheal:state/pr-open"],
                    what="pr_ready")  # fmt: skip
        request = server.ledger.read(lambda c: requests.find_by_issue(c, REPO, number))
        assert request is not None and request.state == "pr_ready"
        assert request.pr_number == pr.number and request.head_sha == pr.pull.head_sha

        await alice.merge(repo, pr.number)
        await until(lambda: state_labels(repo, number) == ["selfheal:state/done"], what="merged")
        await until(lambda: repo.issues[number].state == "closed", what="Fixes #N closed it")
        steps = server.ledger.read(lambda c: requests.transitions(c, request.id))
        assert [s.to_state for s in steps] == [
            "received",
            "reviewing",
            "queued",
            "coding",
            "gating",
            "pr_ready",
            "merged",
        ]


class LeakyCoder:
    """A test backend, registered through the coder interface, that writes a token."""

    name = "rules"
    needs_model_key = False
    own_process = False

    def refusal(self, task: CodeTask) -> str | None:
        return None

    def run(self, workspace: Workspace, task: CodeTask, control: RunControl) -> CoderResult:
        workspace.write_text("app/settings.py", tokens(1))
        return CoderResult(Outcome.CHANGED, "added the settings", ("app/settings.py",))


def leaky(options: BackendOptions) -> LeakyCoder:
    return LeakyCoder()


async def test_a_coder_that_adds_a_secret_is_caught_by_the_gate_and_rolled_back(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    alice = emu.person("alice", "write")
    async with request_server(emu, tmp_path, FILES, backends={"rules": leaky}) as (repo, server):
        body = render_form({"type": "fix-bug", "description": "Add the settings module.",
                            "target_files": "app/settings.py", "priority": "5"})  # fmt: skip
        opened = await alice.open_issue(repo, "Settings", body, labels=[REQUEST])
        number = int(opened["number"])
        pr = await until(lambda: pr_of(repo, number), what="draft PR", timeout=120)
        branch = f"refs/heads/{pr.pull.head_ref}"
        gate = await until(lambda: completed_gate(repo, pr.pull.head_sha), what="gate")
        assert gate.conclusion == "failure", gate.output
        await until(lambda: state_labels(repo, number) == ["selfheal:state/rolled-back"],
                    what="rolled back")  # fmt: skip
        await until(lambda: pr.state == "closed", what="PR closed")
        assert not pr.pull.merged
        await until(lambda: branch not in refs(open_repo(repo.path)), what="branch deleted")
        request = server.ledger.read(lambda c: requests.find_by_issue(c, REPO, number))
        assert request is not None and request.state == "rolled_back"
        # The label comes first, then the status comment and the notice: wait for them too.
        notices = await until(lambda: [c.body for c in repo.issues[number].comments
                                       if c.user.login == BOT and "the gate failed" in c.body],
                              what="rollback notice")  # fmt: skip
        assert notices


async def test_a_halt_stops_the_request_and_retry_resumes_it(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    alice = emu.person("alice", "write")
    async with request_server(emu, tmp_path, FILES) as (repo, server):
        stop = await alice.open_issue(repo, "Stop", labels=["selfheal:halt"])
        await until(lambda: server.audit("halt.started"), what="halted")
        body = render_form({"type": "dependency", "description": "Bump requests.",
                            "target_files": "requirements.txt", "priority": "8"})  # fmt: skip
        opened = await alice.open_issue(repo, "Bump requests", body, labels=[REQUEST])
        number = int(opened["number"])
        await until(lambda: state_labels(repo, number) == ["selfheal:state/halted"], what="halt")
        branches = [r for r in refs(open_repo(repo.path)) if r.startswith("refs/heads/selfheal/")]
        assert branches == [] and pr_of(repo, number) is None  # nothing was pushed

        # A retry while the lock label is on is refused; after the resume it goes through.
        await alice.comment(repo, number, "/selfheal retry")
        refused = "remove the halt label first"
        await until(lambda: any(refused in c.body for c in repo.issues[number].comments),
                    what="refused retry")  # fmt: skip
        await alice.remove_label(repo, int(stop["number"]), "selfheal:halt")
        await until(lambda: server.audit("halt.resumed"), what="resumed")
        await alice.comment(repo, number, "/selfheal retry")
        pr = await until(lambda: pr_of(repo, number), what="draft PR after the retry")
        assert pr.pull.head_ref.startswith(f"selfheal/{number}-")
