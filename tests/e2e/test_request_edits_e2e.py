"""End to end: edits of a request's issue after intake. A writer's edit of the targets sends
the request back to the review with the new plan (and clears an approval given to the old
one); an edit by someone who is no longer a writer changes nothing, is audited, and is
answered once; a writer's edit of the App's own request is read with its machine block."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from selfheal.changes.intake import render_machine_block
from selfheal.emulator import Emulator, Person
from selfheal.emulator.state import Repo
from selfheal.github.client import GitHubClient
from selfheal.ledger import requests
from tests.support.e2e import BASE_FILES, REPO, Server, until
from tests.support.forms import render_form
from tests.support.requests_e2e import REQUEST, bot_comments, request_of, state_labels

NEEDS_APPROVAL = ["selfheal:state/needs-approval"]
FILES = {**BASE_FILES, "payments/refund.py": "def refund(amount):\n    return -amount\n"}


def form(target: str) -> str:
    return render_form({"type": "fix-bug", "description": "Round the amount.",
                        "target_files": target, "priority": "5"})  # fmt: skip


async def edit(person: Person, repo: Repo, number: int, body: str) -> None:
    await person.call("PATCH", f"/repos/{repo.full_name}/issues/{number}", {"body": body})


def moves(server: Server, request_id: str) -> list[tuple[str | None, str, str]]:
    found = server.ledger.read(lambda c: requests.transitions(c, request_id))
    return [(t.from_state, t.to_state, t.event) for t in found]


def status_shows(repo: Repo, number: int, text: str, gone: str) -> bool:
    return any(text in b and gone not in b for b in bot_comments(repo, number))


def targets(server: Server, number: int) -> tuple[str, ...]:
    request = request_of(server, number)
    assert request is not None
    return request.targets


async def test_a_writers_edit_is_reviewed_again_and_a_non_writers_changes_nothing(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo = emu.create_repo(REPO, FILES)
    alice = emu.person("alice", "write")  # owns /payments/ under the policy
    bob = emu.person("bob", "write")
    server = await Server.start(emu, tmp_path / "ledger.db")
    try:
        emu.install([repo])
        await until(lambda: REQUEST in repo.labels, what="labels created")

        # A request awaiting approval; a writer edits its target: reviewed again, new plan.
        opened = await alice.open_issue(repo, "Round charges", form("payments/charge.py"),
                                        labels=[REQUEST])  # fmt: skip
        number = int(opened["number"])
        await until(lambda: state_labels(repo, number) == NEEDS_APPROVAL, what="awaiting")
        await edit(bob, repo, number, form("payments/refund.py"))
        await until(lambda: targets(server, number) == ("payments/refund.py",), what="new plan")
        request = request_of(server, number)
        assert request is not None
        await until(lambda: moves(server, request.id)[-2:] == [
            ("awaiting_approval", "reviewing", "edited"),
            ("reviewing", "awaiting_approval", "reviewed"),
        ], what="reviewed again")  # fmt: skip
        await until(lambda: status_shows(repo, number, "`payments/refund.py` | review", "charge"),
                    what="status comment: the new plan")  # fmt: skip
        # the reviewing step shows the new plan; the move back to awaiting sets the label
        await until(lambda: state_labels(repo, number) == NEEDS_APPROVAL, what="awaiting again")
        (edited,) = server.audit("request.edited")
        assert edited.actor == "bob" and edited.details["changed"] == ["targets"]

        # The author loses write access: her edits change nothing, and she hears so once.
        repo.collaborators["alice"] = "triage"
        await edit(alice, repo, number, form("app/util.py"))
        await edit(alice, repo, number, form("README.md"))
        await until(lambda: len(server.audit("request.edit_refused")) == 2, what="both audited")
        # each refusal is audited before the one comment about them is posted
        refused = await until(lambda: [b for b in bot_comments(repo, number)
                                       if "ignores this edit" in b],
                              what="the refusal comment")  # fmt: skip
        assert len(refused) == 1 and "triage" in refused[0]
        assert targets(server, number) == ("payments/refund.py",)
        assert state_labels(repo, number) == NEEDS_APPROVAL
        kept = request_of(server, number)
        assert kept is not None and "Round the amount." in kept.data["description"]
        repo.collaborators["alice"] = "write"

        # An approved request (here: failed, the rules coder has nothing to do): a writer's
        # edit of the plan clears the approval, and the retry waits for a new one.
        opened = await alice.open_issue(repo, "Round again", form("payments/charge.py"),
                                        labels=[REQUEST])  # fmt: skip
        second = int(opened["number"])
        await until(lambda: state_labels(repo, second) == NEEDS_APPROVAL, what="awaiting 2")
        await alice.comment(repo, second, "/selfheal approve")
        await until(lambda: state_labels(repo, second) == ["selfheal:state/failed"],
                    what="approved, coded, nothing to do")  # fmt: skip
        issue = repo.issues[second]
        assert "selfheal:approved" in [x.name for x in issue.labels]
        await edit(bob, repo, second, form("payments/refund.py"))
        await until(lambda: "selfheal:approved" not in [x.name for x in issue.labels],
                    what="approval label removed")  # fmt: skip
        cleared = request_of(server, second)
        assert cleared is not None and "approved_by" not in cleared.data
        assert cleared.state == "failed" and cleared.targets == ("payments/refund.py",)
        await alice.comment(repo, second, "/selfheal retry")
        await until(lambda: state_labels(repo, second) == NEEDS_APPROVAL, what="approval again")

        # The App's own request (its machine block): a writer's edit of the block is read as
        # at intake, and the requester the block named stays.
        async with aiohttp.ClientSession() as session:
            gh = GitHubClient.for_token(emu.installation_token(), session=session,
                                        base_url=emu.base_url)  # fmt: skip
            block = render_machine_block("fix-bug", "Round it.", ["payments/charge.py"], 5,
                                         requester="orchestrator")  # fmt: skip
            filed = await gh.call("issues.create", owner="acme", repo="widgets",
                                  data={"title": "Monitor: rounding", "body": block,
                                        "labels": [REQUEST]})  # fmt: skip
        third = int(filed["number"])
        await until(lambda: state_labels(repo, third) == NEEDS_APPROVAL, what="App's request")
        edited_block = block.replace('"priority": 5', '"priority": 9')
        assert edited_block != block
        await edit(bob, repo, third, edited_block)
        await until(lambda: (request_of(server, third) or cleared).priority == 9,
                    what="the block's new priority")  # fmt: skip
        app_request = request_of(server, third)
        assert app_request is not None and app_request.requester == "orchestrator"
        assert app_request.targets == ("payments/charge.py",)
    finally:
        await server.stop()
