"""What the emulator refuses and what it records when a check run is updated, an issue is
edited and a pull request is merged: permissions, validation, and the fields each request
may change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from gidgethub import BadRequest
from gidgethub.aiohttp import GitHubAPI

from selfheal.emulator import Emulator, Person
from selfheal.emulator.state import Repo
from tests.support.webhook_receiver import WebhookReceiver

R = "/repos/acme/widgets"


@pytest.fixture
def repo(github_emulator: Emulator) -> Repo:
    repo = github_emulator.create_repo("acme/widgets", {"app.py": "x = 1\n"})
    github_emulator.install([repo])
    return repo


@pytest.fixture
async def gh(github_emulator: Emulator, repo: Repo) -> AsyncIterator[GitHubAPI]:
    async with aiohttp.ClientSession() as session:
        yield GitHubAPI(
            session,
            "tests",
            oauth_token=github_emulator.installation_token(),
            base_url=github_emulator.base_url,
        )


@pytest.fixture
def alice(github_emulator: Emulator, repo: Repo) -> Person:
    return github_emulator.person("alice", permission="write")


async def test_check_run_updates_are_validated_then_applied(gh: GitHubAPI, repo: Repo) -> None:
    sha = (await gh.getitem(f"{R}/git/ref/heads/main"))["object"]["sha"]
    created = await gh.post(
        f"{R}/check-runs",
        data={
            "name": "gate",
            "head_sha": sha,
            "status": "in_progress",
            "output": {"title": "t", "summary": "s"},
        },
    )
    assert (created["status"], created["conclusion"], created["completed_at"]) == (
        "in_progress",
        None,
        None,
    )
    url = f"{R}/check-runs/{created['id']}"

    async def refused(**fields: Any) -> int:
        with pytest.raises(BadRequest) as caught:
            await gh.patch(url, data={"name": "renamed", **fields})
        return caught.value.status_code

    assert await refused(status="done") == 422
    assert await refused(conclusion="great") == 422
    assert await refused(status="completed") == 422  # completed needs a conclusion
    assert (await gh.getitem(url))["name"] == "gate"  # a refused update changes nothing

    button = {"label": "Approve", "description": "Let it through", "identifier": "approve"}
    updated = await gh.patch(
        url,
        data={
            "name": "gate 2",
            "external_id": "e-1",
            "details_url": "https://ci.example/1",
            "output": {"summary": "s2"},
            "actions": [button],
        },
    )
    assert (updated["name"], updated["external_id"], updated["details_url"]) == (
        "gate 2",
        "e-1",
        "https://ci.example/1",
    )
    assert (updated["output"]["title"], updated["output"]["summary"]) == ("t", "s2")
    assert repo.check_runs[created["id"]].actions == [button]

    # a conclusion alone completes the run, at the time given
    done = await gh.patch(
        url, data={"conclusion": "failure", "completed_at": "2030-01-02T03:04:05Z"}
    )
    assert (done["status"], done["conclusion"]) == ("completed", "failure")
    assert done["completed_at"] == "2030-01-02T03:04:05Z"
    # once it has a conclusion, "completed" alone is accepted and keeps it
    again = await gh.patch(url, data={"status": "completed", "actions": []})
    assert (again["status"], again["conclusion"]) == ("completed", "failure")
    assert again["completed_at"] == "2030-01-02T03:04:05Z"
    assert repo.check_runs[created["id"]].actions == []


async def test_issue_edits_follow_permissions(
    github_emulator: Emulator, webhook_receiver: WebhookReceiver, repo: Repo
) -> None:
    author = github_emulator.person("ann", permission="read")
    reader = github_emulator.person("rob", permission="read")
    triager = github_emulator.person("tess", permission="triage")
    writer = github_emulator.person("wes", permission="write")
    issue = await author.open_issue(repo, "Original")
    path = f"{R}/issues/{issue['number']}"

    assert (await reader.api("PATCH", path, {"state": "closed"}))[0] == 403
    # triage labels and assigns, but may not retitle someone else's issue
    assert (await triager.api("PATCH", path, {"title": "Retitled"}))[0] == 403
    status, triaged = await triager.api(
        "PATCH", path, {"title": "Original", "labels": ["bug"], "assignee": "wes"}
    )
    assert status == 200, triaged
    assert [lb["name"] for lb in triaged["labels"]] == ["bug"]
    assert [a["login"] for a in triaged["assignees"]] == ["wes"]
    assert (await writer.api("PATCH", path, {"state": "done"}))[0] == 422
    assert (await writer.api("PATCH", path, {"state": "closed", "state_reason": "x"}))[0] == 422
    # the author edits their own text; labels and assignees from a reader are ignored
    status, edited = await author.api(
        "PATCH", path, {"title": "Better", "body": "Details", "labels": [], "assignees": []}
    )
    assert status == 200, edited
    assert (edited["title"], edited["body"], edited["state"]) == ("Better", "Details", "open")
    assert [lb["name"] for lb in edited["labels"]] == ["bug"]
    assert [a["login"] for a in edited["assignees"]] == ["wes"]
    status, closed = await writer.api("PATCH", path, {"state": "closed", "assignees": []})
    assert status == 200 and closed["state"] == "closed" and closed["assignees"] == []

    await github_emulator.drain()
    edits = [d.payload["changes"] for d in github_emulator.deliveries if d.action == "edited"]
    assert edits == [{"title": {"from": "Original"}, "body": {"from": ""}}]


async def test_merge_refusals_message_and_closing_keywords(
    github_emulator: Emulator, gh: GitHubAPI, alice: Person, repo: Repo
) -> None:
    fixed = await alice.open_issue(repo, "Bug")
    untouched = await alice.open_issue(repo, "Other bug")
    await alice.push(repo, "side", {"side.py": "s = 1\n"})
    await alice.push(repo, "fix", {"app.py": "x = 2\n"})
    await alice.push(repo, "other", {"other.py": "o = 1\n"}, base="side")
    first = await alice.open_pr(repo, "side", "Side")
    pr = await alice.open_pr(
        repo, "fix", "Fix it", f"Fixes #{fixed['number']}, closes #{first['number']}, fixes #99"
    )
    into_side = await alice.open_pr(
        repo, "other", "Other", f"Fixes #{untouched['number']}", base="side"
    )
    url = f"{R}/pulls/{pr['number']}/merge"

    async def refused(number: int, **data: Any) -> int:
        with pytest.raises(BadRequest) as caught:
            await gh.put(f"{R}/pulls/{number}/merge", data=data)
        return caught.value.status_code

    assert await refused(pr["number"], sha="0" * 40) == 409
    assert await refused(pr["number"], merge_method="octopus") == 422
    merged = await gh.put(
        url, data={"merge_method": "squash", "commit_title": "Squashed", "commit_message": "Body"}
    )
    commit = await gh.getitem(f"{R}/git/commits/{merged['sha']}")
    assert commit["message"] == "Squashed\n\nBody"
    assert await refused(pr["number"]) == 405  # merged already

    # "Fixes #N" closes issue N on a merge into the default branch: not a pull request, not a
    # number without an issue, and nothing on a merge into another branch
    assert (await gh.getitem(f"{R}/issues/{fixed['number']}"))["state"] == "closed"
    assert (await gh.getitem(f"{R}/pulls/{first['number']}"))["state"] == "open"
    side = await gh.put(f"{R}/pulls/{into_side['number']}/merge", data={})
    commit = await gh.getitem(f"{R}/git/commits/{side['sha']}")
    assert commit["message"] == f"Merge pull request #{into_side['number']} from acme/other"
    assert (await gh.getitem(f"{R}/issues/{untouched['number']}"))["state"] == "open"

    await gh.patch(f"{R}/pulls/{first['number']}", data={"state": "closed"})
    assert await refused(first["number"]) == 405  # closed


async def test_a_merge_closes_what_its_commits_say_and_nothing_quoted_as_code(
    gh: GitHubAPI, alice: Person, repo: Repo
) -> None:
    """As on GitHub: a closing keyword in a commit the merge brings to the default branch
    closes its issue too; a reference inside code (a fenced block, a code span) links
    nothing, so it closes nothing."""
    by_commit = await alice.open_issue(repo, "Closed by a commit")
    in_block = await alice.open_issue(repo, "Quoted in a block")
    in_span = await alice.open_issue(repo, "Quoted in a span")
    await alice.push(
        repo, "work", {"a.py": "a = 1\n"}, f"Tidy a.py\n\nCloses: #{by_commit['number']}"
    )
    body = f"Work.\n\n```text\nFixes #{in_block['number']}\n```\nand `fixes #{in_span['number']}`"
    pr = await alice.open_pr(repo, "work", "Work", body)
    await gh.put(f"{R}/pulls/{pr['number']}/merge", data={"merge_method": "squash"})
    states = {n: (await gh.getitem(f"{R}/issues/{n}"))["state"]
              for n in (by_commit["number"], in_block["number"], in_span["number"])}  # fmt: skip
    assert states == {by_commit["number"]: "closed", in_block["number"]: "open",
                      in_span["number"]: "open"}  # fmt: skip
