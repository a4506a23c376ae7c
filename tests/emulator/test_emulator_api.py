"""REST behaviour of the emulator through gidgethub: pagination, issues and labels, timeline,
search, contents, git data, checks, merge rules, manifest flow, route listing."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from gidgethub import BadRequest, InvalidField
from gidgethub.aiohttp import GitHubAPI

from selfheal.emulator import Emulator, Person
from selfheal.emulator.state import Repo

R = "/repos/acme/widgets"


@pytest.fixture
def repo(github_emulator: Emulator) -> Repo:
    repo = github_emulator.create_repo(
        "acme/widgets", {"app.py": "x = 1\n", "pkg/mod.py": "y = 2\n", "pkg/sub/z.txt": "z\n"}
    )
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


async def test_pagination_link_headers(gh: GitHubAPI, alice: Person, repo: Repo) -> None:
    for n in range(5):
        await alice.open_issue(repo, f"issue {n}")
    items = [i async for i in gh.getiter(f"{R}/issues?per_page=2&direction=asc")]
    assert [i["title"] for i in items] == [f"issue {n}" for n in range(5)]
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{gh.base_url}{R}/issues?per_page=2&page=2",
            headers={"Authorization": f"token {gh.oauth_token}"},
        ) as resp,
    ):
        link = resp.headers["Link"]
    assert 'rel="next"' in link and 'rel="prev"' in link and 'rel="last"' in link
    assert "page=3" in link and "page=1" in link


async def test_issue_filters_and_update(gh: GitHubAPI, alice: Person, repo: Repo) -> None:
    a = await alice.open_issue(repo, "a", labels=["bug", "selfheal:request"])
    await gh.post(f"{R}/issues", data={"title": "b", "labels": ["bug"]})
    closed = await gh.patch(
        f"{R}/issues/{a['number']}", data={"state": "closed", "state_reason": "not_planned"}
    )
    assert closed["state"] == "closed" and closed["state_reason"] == "not_planned"
    assert closed["closed_by"]["login"] == "selfheal[bot]"
    open_bugs = [i["title"] async for i in gh.getiter(f"{R}/issues?labels=bug")]
    assert open_bugs == ["b"]
    both = [
        i["title"] async for i in gh.getiter(f"{R}/issues?state=all&labels=bug,selfheal:request")
    ]
    assert both == ["a"]
    mine = [i["title"] async for i in gh.getiter(f"{R}/issues?state=all&creator=alice")]
    assert mine == ["a"]
    future = [i async for i in gh.getiter(f"{R}/issues?state=all&since=2999-01-01T00:00:00Z")]
    assert future == []
    with pytest.raises(BadRequest) as missing:
        await gh.post(f"{R}/issues", data={"body": "no title"})
    assert missing.value.status_code == 422


async def test_labels_repo_and_issue(gh: GitHubAPI, alice: Person, repo: Repo) -> None:
    created = await gh.post(
        f"{R}/labels",
        data={"name": "selfheal:halt", "color": "b60205", "description": "Stop everything"},
    )
    assert created["color"] == "b60205"
    with pytest.raises(BadRequest) as dup:
        await gh.post(f"{R}/labels", data={"name": "SELFHEAL:HALT", "color": "000000"})
    assert dup.value.status_code == 422
    assert isinstance(dup.value, InvalidField)
    assert dup.value.errors[0]["code"] == "already_exists"
    updated = await gh.patch(f"{R}/labels/selfheal:halt", data={"color": "ff0000"})
    assert updated["color"] == "ff0000"
    issue = await alice.open_issue(repo, "x")
    n = issue["number"]
    await gh.post(f"{R}/issues/{n}/labels", data={"labels": ["selfheal:halt", "new"]})
    now = await gh.put(f"{R}/issues/{n}/labels", data={"labels": ["new", "other"]})
    assert sorted(lb["name"] for lb in now) == ["new", "other"]
    await gh.delete(f"{R}/issues/{n}/labels/new")
    assert [lb["name"] async for lb in gh.getiter(f"{R}/issues/{n}/labels")] == ["other"]
    with pytest.raises(BadRequest) as gone:
        await gh.delete(f"{R}/issues/{n}/labels/new")
    assert gone.value.status_code == 404
    await gh.delete(f"{R}/labels/selfheal:halt")
    assert "selfheal:halt" not in [lb["name"] async for lb in gh.getiter(f"{R}/labels")]


async def test_timeline_says_who_labeled(gh: GitHubAPI, alice: Person, repo: Repo) -> None:
    issue = await gh.post(f"{R}/issues", data={"title": "t"})
    n = issue["number"]
    await alice.add_labels(repo, n, "selfheal:approved")
    await gh.post(f"{R}/issues/{n}/comments", data={"body": "<!-- selfheal:status --> hi"})
    await alice.remove_label(repo, n, "selfheal:approved")
    events = [e async for e in gh.getiter(f"{R}/issues/{n}/events")]
    assert [(e["event"], e["actor"]["login"], e["label"]["name"]) for e in events] == [
        ("labeled", "alice", "selfheal:approved"),
        ("unlabeled", "alice", "selfheal:approved"),
    ]
    timeline = [e["event"] async for e in gh.getiter(f"{R}/issues/{n}/timeline")]
    assert timeline == ["labeled", "commented", "unlabeled"]


async def test_comments_and_reactions(gh: GitHubAPI, alice: Person, repo: Repo) -> None:
    issue = await alice.open_issue(repo, "t")
    n = issue["number"]
    mine = await gh.post(f"{R}/issues/{n}/comments", data={"body": "status"})
    assert mine["performed_via_github_app"]["slug"] == "selfheal"
    edited = await gh.patch(f"{R}/issues/comments/{mine['id']}", data={"body": "status v2"})
    assert edited["body"] == "status v2"
    status, data = await alice.api("PATCH", f"{R}/issues/comments/{mine['id']}", {"body": "hi"})
    assert status == 200 and data["body"] == "hi"  # alice has write access, as on GitHub
    reader = Person(alice.emulator, alice.emulator.add_person("rhea", "read"))
    status, _ = await reader.api("PATCH", f"{R}/issues/comments/{mine['id']}", {"body": "no"})
    assert status == 403
    first = await gh.post(f"{R}/issues/{n}/reactions", data={"content": "eyes"})
    again = await gh.post(f"{R}/issues/{n}/reactions", data={"content": "eyes"})
    assert first["id"] == again["id"]
    await gh.post(f"{R}/issues/comments/{mine['id']}/reactions", data={"content": "rocket"})
    got = await gh.getitem(f"{R}/issues/{n}")
    assert got["reactions"]["eyes"] == 1 and got["reactions"]["total_count"] == 1
    with pytest.raises(BadRequest):
        await gh.post(f"{R}/issues/{n}/reactions", data={"content": "thumbsup"})
    await gh.delete(f"{R}/issues/comments/{mine['id']}")
    assert [c async for c in gh.getiter(f"{R}/issues/{n}/comments")] == []


async def test_search_issues_qualifiers(
    gh: GitHubAPI, alice: Person, repo: Repo, github_emulator: Emulator
) -> None:
    await alice.open_issue(repo, "Crash in parser", "trace", labels=["selfheal:request"])
    await alice.open_issue(repo, "Docs typo", "parser docs", labels=["selfheal:halt"])
    await alice.push(repo, "feature", {"app.py": "x = 2\n"})
    await alice.open_pr(repo, "feature", "Crash fix")
    other = github_emulator.create_repo("acme/other")
    await alice.open_issue(other, "Crash elsewhere")

    async def search(q: str) -> list[str]:
        found = await gh.getitem(f"/search/issues?q={q}")
        return sorted(i["title"] for i in found["items"])

    assert await search("repo:acme/widgets+is:issue+is:open+label:selfheal:halt") == ["Docs typo"]
    assert await search("repo:acme/widgets+Crash+in:title") == ["Crash fix", "Crash in parser"]
    assert await search("repo:acme/widgets+is:pr+Crash") == ["Crash fix"]
    assert await search('repo:acme/widgets+label:"selfheal:request"+state:open') == [
        "Crash in parser"
    ]
    assert await search("repo:acme/widgets+parser+in:title") == ["Crash in parser"]


async def test_contents_at_ref(gh: GitHubAPI, alice: Person, repo: Repo) -> None:
    sha = await alice.push(repo, "feature", {"app.py": "x = 99\n"})
    main = await gh.getitem(f"{R}/contents/app.py")
    branch = await gh.getitem(f"{R}/contents/app.py?ref=feature")
    by_sha = await gh.getitem(f"{R}/contents/app.py?ref={sha}")
    assert base64.b64decode(main["content"]) == b"x = 1\n"
    assert base64.b64decode(branch["content"]) == b"x = 99\n" == base64.b64decode(by_sha["content"])
    listing = await gh.getitem(f"{R}/contents/pkg")
    assert sorted((e["name"], e["type"]) for e in listing) == [("mod.py", "file"), ("sub", "dir")]
    with pytest.raises(BadRequest) as missing:
        await gh.getitem(f"{R}/contents/nope.txt")
    assert missing.value.status_code == 404


async def test_git_data_roundtrip(gh: GitHubAPI, repo: Repo) -> None:
    main = await gh.getitem(f"{R}/git/ref/heads/main")
    base = main["object"]["sha"]
    commit = await gh.getitem(f"{R}/git/commits/{base}")
    tree = await gh.post(
        f"{R}/git/trees",
        data={
            "base_tree": commit["tree"]["sha"],
            "tree": [
                {"path": "pkg/mod.py", "mode": "100644", "type": "blob", "content": "y = 3\n"},
                {"path": "app.py", "mode": "100644", "type": "blob", "sha": None},
            ],
        },
    )
    new = await gh.post(
        f"{R}/git/commits", data={"message": "edit", "tree": tree["sha"], "parents": [base]}
    )
    await gh.post(f"{R}/git/refs", data={"ref": "refs/heads/edit", "sha": new["sha"]})
    with pytest.raises(BadRequest) as exists:
        await gh.post(f"{R}/git/refs", data={"ref": "refs/heads/edit", "sha": new["sha"]})
    assert exists.value.status_code == 422
    listed = [r["ref"] async for r in gh.getiter(f"{R}/git/matching-refs/heads/")]
    assert listed == ["refs/heads/edit", "refs/heads/main"]
    full = await gh.getitem(f"{R}/git/trees/{tree['sha']}?recursive=1")
    assert {e["path"] for e in full["tree"]} == {"pkg", "pkg/mod.py", "pkg/sub", "pkg/sub/z.txt"}
    cmp = await gh.getitem(f"{R}/compare/main...edit")
    assert cmp["status"] == "ahead" and cmp["ahead_by"] == 1 and cmp["total_commits"] == 1
    assert {(f["filename"], f["status"]) for f in cmp["files"]} == {
        ("app.py", "removed"),
        ("pkg/mod.py", "modified"),
    }
    # main moves on: edit is no longer a fast-forward of it
    side = await gh.post(
        f"{R}/git/commits",
        data={"message": "side", "tree": commit["tree"]["sha"], "parents": [base]},
    )
    with pytest.raises(BadRequest) as not_ff:
        await gh.patch(f"{R}/git/refs/heads/edit", data={"sha": side["sha"]})
    assert not_ff.value.status_code == 422
    forced = await gh.patch(f"{R}/git/refs/heads/edit", data={"sha": side["sha"], "force": True})
    assert forced["object"]["sha"] == side["sha"]
    await gh.delete(f"{R}/git/refs/heads/edit")
    with pytest.raises(BadRequest):
        await gh.getitem(f"{R}/git/ref/heads/edit")


async def test_check_runs_limits_and_listing(gh: GitHubAPI, repo: Repo) -> None:
    sha = (await gh.getitem(f"{R}/git/ref/heads/main"))["object"]["sha"]
    note = {
        "path": "app.py",
        "start_line": 1,
        "end_line": 1,
        "annotation_level": "notice",
        "message": "m",
    }

    async def refused(**fields: Any) -> int:
        with pytest.raises(BadRequest) as caught:
            await gh.post(f"{R}/check-runs", data={"name": "gate", "head_sha": sha, **fields})
        return caught.value.status_code

    assert await refused(output={"title": "t", "summary": "s", "annotations": [note] * 51}) == 422
    assert await refused(output={"title": "t", "summary": "x" * 65536}) == 422
    buttons = [{"label": "a", "description": "d", "identifier": str(i)} for i in range(4)]
    assert await refused(actions=buttons) == 422
    first = await gh.post(
        f"{R}/check-runs",
        data={
            "name": "gate",
            "head_sha": sha,
            "output": {"title": "t", "summary": "s", "annotations": [note] * 50},
        },
    )
    await gh.patch(
        f"{R}/check-runs/{first['id']}",
        data={
            "status": "completed",
            "conclusion": "failure",
            "output": {"title": "t", "summary": "s", "annotations": [note] * 30},
        },
    )
    second = await gh.post(f"{R}/check-runs", data={"name": "gate", "head_sha": sha})
    got = await gh.getitem(f"{R}/check-runs/{first['id']}")
    assert got["output"]["annotations_count"] == 80
    assert len([a async for a in gh.getiter(f"{R}/check-runs/{first['id']}/annotations")]) == 80
    latest = await gh.getitem(f"{R}/commits/main/check-runs")
    assert [r["id"] for r in latest["check_runs"]] == [second["id"]]
    every = await gh.getitem(f"{R}/commits/{sha}/check-runs?filter=all")
    assert every["total_count"] == 2
    suites = await gh.getitem(f"{R}/commits/{sha}/check-suites")
    assert suites["total_count"] == 1
    assert suites["check_suites"][0]["app"]["slug"] == "selfheal"


async def test_merge_rules(
    gh: GitHubAPI, alice: Person, repo: Repo, github_emulator: Emulator
) -> None:
    github_emulator.require_checks(repo, "main", ["ci"])
    await alice.push(repo, "one", {"app.py": "x = 'one'\n"})
    await alice.push(repo, "two", {"app.py": "x = 'two'\n"})
    one = await alice.open_pr(repo, "one", "One")
    two = await alice.open_pr(repo, "two", "Two")
    with pytest.raises(BadRequest) as expected:
        await gh.put(f"{R}/pulls/{one['number']}/merge", data={})
    assert expected.value.status_code == 405
    assert 'Required status check "ci" is expected' in str(expected.value)
    assert (await gh.getitem(f"{R}/pulls/{one['number']}"))["mergeable_state"] == "blocked"
    for pr in (one, two):
        await gh.post(
            f"{R}/check-runs",
            data={"name": "ci", "head_sha": pr["head"]["sha"], "conclusion": "success"},
        )
    merged = await gh.put(f"{R}/pulls/{one['number']}/merge", data={"merge_method": "squash"})
    assert merged["merged"] is True
    after = await gh.getitem(f"{R}/pulls/{one['number']}")
    assert after["merged"] and after["state"] == "closed" and after["merged_by"]["login"]
    conflicted = await gh.getitem(f"{R}/pulls/{two['number']}")
    assert conflicted["mergeable"] is False
    with pytest.raises(BadRequest) as conflict:
        await gh.put(f"{R}/pulls/{two['number']}/merge", data={})
    assert conflict.value.status_code == 405
    listed = [p["number"] async for p in gh.getiter(f"{R}/pulls?state=all&head=acme:two")]
    assert listed == [two["number"]]


async def test_manifest_conversion(github_emulator: Emulator) -> None:
    code = github_emulator.register_manifest_code(
        name="My Selfheal", webhook_url="http://127.0.0.1:9/x"
    )
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{github_emulator.base_url}/app-manifests/{code}/conversions"
        ) as resp:
            assert resp.status == 201
            data: dict[str, Any] = await resp.json()
        assert data["slug"] == "my-selfheal" and data["pem"].startswith("-----BEGIN")
        assert {"id", "webhook_secret", "client_id", "client_secret", "html_url"} <= set(data)
        async with session.post(
            f"{github_emulator.base_url}/app-manifests/{code}/conversions"
        ) as resp:
            assert resp.status == 404  # codes are single-use


def test_routes_lists_templates(github_emulator: Emulator) -> None:
    routes = github_emulator.routes()
    assert ("POST", "/app/installations/{installation_id}/access_tokens") in routes
    assert ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/timeline") in routes
    assert ("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge") in routes
    assert ("GET", "/repos/{owner}/{repo}/contents/{path}") in routes
    assert all(not path.endswith(".git") and ".git/" not in path for _, path in routes)
    assert len(routes) > 60
    # routes() is a set; a second registration of a (method, path) would never be reached
    registered = [
        (route.method, route.resource.canonical)
        for route in github_emulator.web_app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    ]
    assert len(registered) == len(set(registered))


async def test_workflow_runs_commit_pulls_and_teams(
    gh: GitHubAPI, alice: Person, repo: Repo, github_emulator: Emulator
) -> None:
    head = await alice.push(repo, "ci-red", {"app.py": "x = 'red'\n"})
    pr = await alice.open_pr(repo, "ci-red", "Red")
    run = github_emulator.complete_workflow_run(
        repo, head_sha=head, head_branch="ci-red", conclusion="failure", jobs=("lint", "test")
    )
    got = await gh.getitem(f"{R}/actions/runs/{run['id']}")
    assert (got["conclusion"], got["head_sha"]) == ("failure", head)
    assert [p["number"] for p in got["pull_requests"]] == [pr["number"]]
    jobs = await gh.getitem(f"{R}/actions/runs/{run['id']}/jobs")
    assert jobs["total_count"] == 2
    assert {(j["name"], j["conclusion"]) for j in jobs["jobs"]} == {
        ("lint", "failure"),
        ("test", "failure"),
    }
    with pytest.raises(BadRequest):
        await gh.getitem(f"{R}/actions/runs/12345")

    pulls = [p["number"] async for p in gh.getiter(f"{R}/commits/{head}/pulls")]
    assert pulls == [pr["number"]]
    main = (await gh.getitem(f"{R}/git/ref/heads/main"))["object"]["sha"]
    assert [p async for p in gh.getiter(f"{R}/commits/{main}/pulls")] == []

    github_emulator.add_team("acme", "security", {"alice": "maintainer"})
    member = await gh.getitem("/orgs/acme/teams/security/memberships/alice")
    assert (member["role"], member["state"]) == ("maintainer", "active")
    with pytest.raises(BadRequest) as outsider:
        await gh.getitem("/orgs/acme/teams/security/memberships/bob")
    assert outsider.value.status_code == 404


async def test_deleting_the_head_branch_closes_the_pr(
    gh: GitHubAPI, alice: Person, repo: Repo
) -> None:
    await alice.push(repo, "doomed", {"app.py": "x = 'doomed'\n"})
    pr = await alice.open_pr(repo, "doomed", "Doomed")
    assert (await gh.getitem(f"{R}/pulls/{pr['number']}"))["mergeable_state"] == "clean"
    await gh.delete(f"{R}/git/refs/heads/doomed")
    closed = await gh.getitem(f"{R}/pulls/{pr['number']}")
    assert (closed["state"], closed["merged"]) == ("closed", False)
