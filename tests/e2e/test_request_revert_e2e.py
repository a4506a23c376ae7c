"""End to end: ``/selfheal revert`` on a merged request. A writer's revert is refused; a
maintainer's opens a revert pull request, made with pygit2, whose diff undoes the change and
which the gate checks (and blocks: undoing a dependency bump brings the vulnerable pin back);
a second revert while it is open is refused; once it is closed and the
default branch has moved on over the same lines, a revert that does not apply says so; a
revert that is merged undoes the change, and no further revert is opened."""

from __future__ import annotations

from pathlib import Path

import pygit2

from selfheal.emulator import Emulator
from selfheal.emulator.gitdata import open_repo
from selfheal.emulator.state import Issue, Repo
from selfheal.ledger import requests
from tests.support.e2e import BASE_FILES, REPO, Server, completed_gate, until
from tests.support.forms import render_form
from tests.support.requests_e2e import BOT, REQUEST, pr_of, request_of, state_labels

PIN = "requests==2.19.0  # pinned for the demo\n"
FILES = {**BASE_FILES, "requirements.txt": PIN}


def replies(repo: Repo, number: int, text: str) -> list[str]:
    return [c.body for c in repo.issues[number].comments if c.user.login == BOT and text in c.body]


def revert_prs(repo: Repo, number: int) -> list[Issue]:
    return [i for i in repo.issues.values() if i.pull is not None
            and i.pull.head_ref.startswith(f"selfheal/{number}-revert-")]  # fmt: skip


def file_at(repo: Repo, sha: str, path: str) -> str:
    commit = open_repo(repo.path).get(sha)
    assert isinstance(commit, pygit2.Commit)
    return str(commit.tree[path].data.decode())


async def test_a_maintainers_revert_opens_a_gated_revert_pr_once(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo = emu.create_repo(REPO, FILES)
    alice = emu.person("alice", "write")
    maint = emu.person("maint", "maintain")
    server = await Server.start(emu, tmp_path / "ledger.db")
    try:
        emu.install([repo])
        await until(lambda: REQUEST in repo.labels, what="labels created")
        body = render_form({"type": "dependency", "description": "Bump requests.",
                            "target_files": "requirements.txt", "priority": "8"})  # fmt: skip
        number = int((await alice.open_issue(repo, "Bump requests", body, [REQUEST]))["number"])
        pr = await until(lambda: pr_of(repo, number), what="draft PR", timeout=120)
        await until(lambda: not pr.pull.draft, what="gate passed, marked ready", timeout=120)
        await alice.merge(repo, pr.number)
        await until(lambda: state_labels(repo, number) == ["selfheal:state/done"], what="merged")
        bumped = file_at(repo, pr.pull.merge_commit_sha, "requirements.txt")
        assert bumped != PIN

        # A writer may not revert: refused, with the reason; nothing is pushed.
        await alice.comment(repo, number, "/selfheal revert")
        refused = await until(lambda: replies(repo, number, "was not carried out"),
                              what="writer refused")  # fmt: skip
        assert "maintainers and admins" in refused[0] and "write" in refused[0]
        assert revert_prs(repo, number) == []

        # A maintainer's revert opens a revert PR whose diff undoes the change.
        await maint.comment(repo, number, "/selfheal revert")
        (revert,) = await until(lambda: revert_prs(repo, number), what="revert PR")
        await until(lambda: replies(repo, number, f"Opened #{revert.number}"), what="reply")
        assert revert.user.login == BOT and not revert.pull.draft
        assert revert.title == 'Revert "Bump requests"'
        described = revert.body or ""
        assert f"Reverts #{pr.number}" in described and f"request #{number}" in described
        assert "selfheal:bot" in [x.name for x in revert.labels]
        assert revert.pull.base_sha == pr.pull.merge_commit_sha
        assert file_at(repo, revert.pull.head_sha, "requirements.txt") == PIN
        head = open_repo(repo.path).get(revert.pull.head_sha)
        assert isinstance(head, pygit2.Commit) and head.author.name == BOT
        assert f"Selfheal-Request: {REPO}#{number}" in head.message
        assert "Revert-requested-by: maint" in head.message
        gate = await until(lambda: completed_gate(repo, revert.pull.head_sha), what="gate runs")
        # Undoing the bump brings the vulnerable pin back: the same gate blocks the revert.
        assert gate.conclusion == "failure", gate.output
        assert "vulnerable" in str(gate.output["title"])
        (audited,) = server.audit("request.revert")
        assert audited.actor == "maint" and audited.details["pull_request"] == revert.number
        request = request_of(server, number)
        assert request is not None and request.state == "merged"
        assert request.data["revert"]["state"] == "open"
        status = await until(lambda: replies(repo, number, f"Revert: #{revert.number}"),
                             what="status comment shows the revert")  # fmt: skip
        assert "@maint" in status[0]

        # A second revert while that one is open opens nothing.
        await maint.comment(repo, number, "/selfheal revert")
        await until(lambda: replies(repo, number, f"#{revert.number} is open"), what="refused")
        assert len(revert_prs(repo, number)) == 1

        # Closed unmerged, and the same line changed on main since: the revert does not apply.
        await maint.close(repo, revert.number)
        await until(lambda: replies(repo, number, f"Revert: #{revert.number} (closed)"),
                    what="status: revert closed")  # fmt: skip
        await alice.push(repo, repo.default_branch, {"requirements.txt": "requests==2.32.3\n"})
        await maint.comment(repo, number, "/selfheal revert")
        clash = await until(lambda: replies(repo, number, "does not apply cleanly"),
                            what="conflict reply")  # fmt: skip
        assert "revert it by hand" in clash[0]
        assert len(revert_prs(repo, number)) == 1
        failed = server.ledger.read(lambda c: requests.find_by_issue(c, REPO, number))
        assert failed is not None and failed.data["revert"]["state"] == "failed"

        # Main back where the merge left it: a new revert applies, and once it is merged the
        # change is undone and a further revert is refused.
        await alice.push(repo, repo.default_branch, {"requirements.txt": bumped})
        await maint.comment(repo, number, "/selfheal revert")
        second = await until(lambda: [p for p in revert_prs(repo, number) if p.state == "open"],
                             what="second revert PR")  # fmt: skip
        assert second[0].number != revert.number
        await maint.merge(repo, second[0].number)
        await until(lambda: server.audit("request.reverted"), what="revert merged")
        main = open_repo(repo.path).references[f"refs/heads/{repo.default_branch}"].target
        assert file_at(repo, str(main), "requirements.txt") == PIN
        await maint.comment(repo, number, "/selfheal revert")
        await until(lambda: replies(repo, number, f"already reverted by #{second[0].number}"),
                    what="refused after the merged revert")  # fmt: skip
        assert len(revert_prs(repo, number)) == 2
    finally:
        await server.stop()
