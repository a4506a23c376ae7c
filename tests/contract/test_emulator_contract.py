"""Contract suites 1 and 3: what the GitHub emulator says must match GitHub's descriptions.

A realistic story is driven through GitHubClient (the app's own client and call list) and
a person acting through the API: labels, an issue, comments and reactions, a branch built
with the git-data API, a draft PR, a check run with annotations and an action button, a
merge, and a pull request from a fork whose fork is then deleted. Every (request, response)
pair is recorded on the real aiohttp session and checked with openapi-core against
api.github.com.json from @octokit/openapi; every REST route the emulator implements must
have been exercised. Every webhook the emulator sent on the way is checked against
@octokit/webhooks-schemas for its event and action.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import gidgethub
import pytest
import pytest_asyncio

from selfheal.emulator import Emulator
from selfheal.github.auth import AppAuth
from selfheal.github.client import GitHubClient
from tests.support.openapi_check import Exchange, Recorder, ResponseChecker
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.webhook_schema import problems as webhook_problems

OWNER, REPO = "octo-org", "service"
R: dict[str, Any] = {"owner": OWNER, "repo": REPO}
NOT_REST = {("POST", "/graphql")}  # GraphQL has no OpenAPI description
STORAGE = "/_emulator/storage/"  # signed download URLs: storage, not the REST API


@dataclass
class Story:
    emulator: Emulator
    recorder: Recorder
    webhooks: WebhookReceiver  # checks each delivery's signature, keeps the events


@pytest.fixture(scope="module")
def checker(official_spec: dict[str, Any]) -> ResponseChecker:
    return ResponseChecker(official_spec)


async def _as_person(
    session: aiohttp.ClientSession,
    emulator: Emulator,
    token: str,
    method: str,
    path: str,
    data: Any = None,
) -> Any:
    """A person's REST call on the recorded session (routes people use and the app does not)."""
    headers = {"Authorization": f"token {token}", "Accept": "application/vnd.github+json"}
    async with session.request(method, emulator.base_url + path, json=data, headers=headers) as r:
        assert r.status < 300, await r.text()
        return None if r.status == 204 else await r.json()


async def _fork_story(
    emulator: Emulator, session: aiohttp.ClientSession, gh: GitHubClient, installation: Any
) -> None:
    """A pull request from a fork of a public repository: fork, open, push, delete the fork."""
    public = emulator.create_repo(f"{OWNER}/lib", {"lib.py": "X = 1\n"}, private=False)
    emulator.add_installation_repos(installation, [public])
    mallory = emulator.person("mallory", "none", repos=[])
    lib: dict[str, Any] = {"owner": OWNER, "repo": "lib"}
    fork = await _as_person(session, emulator, mallory.token, "POST", f"/repos/{OWNER}/lib/forks")
    forked = emulator.repo(fork["full_name"])
    await mallory.push(forked, "patch", {"lib.py": "X = 2\n"}, "Patch")
    pr = await _as_person(
        session,
        emulator,
        mallory.token,
        "POST",
        f"/repos/{OWNER}/lib/pulls",
        {"title": "Patch", "head": "mallory:patch", "base": "main"},
    )
    await mallory.push(forked, "patch", {"lib.py": "X = 3\n"}, "Patch again")
    await gh.call("repos.get", owner="mallory", repo=forked.name)
    await gh.call("pulls.get", pull_number=pr["number"], **lib)
    await _as_person(session, emulator, mallory.token, "DELETE", f"/repos/{forked.full_name}")
    await gh.call("pulls.get", pull_number=pr["number"], **lib)  # head.repo is null now


WORKFLOW = """\
name: selfheal code
run-name: selfheal ${{ inputs.request }}
on:
  workflow_dispatch:
    inputs:
      request:
        required: true
        type: string
jobs:
  code:
    runs-on: ubuntu-latest
    steps:
      - run: echo coding
"""


async def _actions_story(
    emulator: Emulator, session: aiohttp.ClientSession, gh: GitHubClient, installation: Any
) -> None:
    """The actions executor's calls: dispatch, follow, download the artifact and a job's
    log, cancel; plus the errors (unknown input, cancelling a finished run, an expired
    artifact)."""
    repo = emulator.create_repo(
        f"{OWNER}/runner", {".github/workflows/selfheal-code.yml": WORKFLOW, "a.py": "A = 1\n"}
    )
    emulator.add_installation_repos(installation, [repo])
    alice_token = emulator.add_person("carol", "write").token
    rr: dict[str, Any] = {"owner": OWNER, "repo": "runner", "workflow_id": "selfheal-code.yml"}
    details = await gh.call(
        "actions.create_workflow_dispatch",
        data={"ref": "main", "inputs": {"request": "r-1"}, "return_run_details": True},
        **rr,
    )
    run_id = int(details["workflow_run_id"])
    await gh.call(
        "actions.create_workflow_dispatch", data={"ref": "main", "inputs": {"request": "r-2"}}, **rr
    )
    with pytest.raises(gidgethub.BadRequest):
        await gh.call(
            "actions.create_workflow_dispatch",
            data={"ref": "main", "inputs": {"request": "r-3", "shell": "rm -rf /"}},
            **rr,
        )
    runs = [
        r async for r in gh.paginate("actions.list_workflow_runs", event="workflow_dispatch", **rr)
    ]
    assert {r["display_title"] for r in runs} == {"selfheal r-1", "selfheal r-2"}
    await _as_person(
        session, emulator, alice_token, "GET", f"/repos/{OWNER}/runner/actions/runs?status=queued"
    )
    emulator.start_workflow_run(repo, run_id, ["code"])
    artifact = emulator.upload_artifact(repo, run_id, "selfheal-patch", {"patch.diff": "diff\n"})
    emulator.finish_workflow_run(repo, run_id, "success", logs={"code": "coded\n"})
    r2: dict[str, Any] = {"owner": OWNER, "repo": "runner"}
    listed = [
        a async for a in gh.paginate("actions.list_workflow_run_artifacts", run_id=run_id, **r2)
    ]
    assert [a["name"] for a in listed] == ["selfheal-patch"]
    blob = await gh.download(
        "actions.download_artifact", max_bytes=10**6, artifact_id=artifact["id"],
        archive_format="zip", **r2,
    )  # fmt: skip
    assert blob.startswith(b"PK")
    jobs = await gh.call("actions.list_jobs_for_workflow_run", run_id=run_id, **r2)
    log = await gh.download(
        "actions.download_job_logs_for_workflow_run", max_bytes=10**6,
        job_id=jobs["jobs"][0]["id"], **r2,
    )  # fmt: skip
    assert log == b"coded\n"
    other = next(r["id"] for r in runs if r["id"] != run_id)
    await gh.call("actions.cancel_workflow_run", run_id=other, **r2)
    with pytest.raises(gidgethub.BadRequest):
        await gh.call("actions.cancel_workflow_run", run_id=other, **r2)  # 409: it is over
    emulator.expire_artifact(repo, artifact["id"])
    with pytest.raises(gidgethub.BadRequest):
        await gh.download(
            "actions.download_artifact", max_bytes=10**6, artifact_id=artifact["id"],
            archive_format="zip", **r2,
        )  # fmt: skip


async def _drive(emulator: Emulator, session: aiohttp.ClientSession) -> None:
    """The story: every call the app makes that the emulator implements, in a sensible order."""
    emulator.create_repo(
        f"{OWNER}/{REPO}",
        {"README.md": "# service\n", "app/db.py": "def q(x):\n    return x\n"},
    )
    alice = emulator.person("alice", "admin")
    installation = emulator.install([f"{OWNER}/{REPO}"])
    auth = AppAuth(
        emulator.app.id, emulator.app.private_key_pem, session=session, base_url=emulator.base_url
    )
    app_gh = auth.app_client()
    gh = await auth.installation_client(installation.id)
    anonymous = GitHubClient(session, None, base_url=emulator.base_url)

    await app_gh.call("apps.get_authenticated")
    [i async for i in app_gh.paginate("apps.list_installations")]
    await app_gh.call("apps.get_installation", installation_id=installation.id)
    await app_gh.call("apps.get_repo_installation", **R)
    [r async for r in gh.paginate("apps.list_repos_accessible_to_installation")]
    code = emulator.register_manifest_code()
    await anonymous.call("apps.create_from_manifest", code=code)

    await gh.call("repos.get", **R)
    await gh.call("repos.get_content", path="app/db.py", ref="main", **R)
    await gh.call("repos.get_content", path="app", **R)
    await gh.call("repos.get_branch", branch="main", **R)
    await gh.call("repos.get_collaborator_permission_level", username="alice", **R)

    main = await gh.call("git.get_ref", ref="heads/main", **R)
    main_sha = main["object"]["sha"]
    await gh.call("repos.get_commit", ref=main_sha, **R)
    commit = await gh.call("git.get_commit", commit_sha=main_sha, **R)
    await gh.call("git.get_tree", tree_sha=commit["tree"]["sha"], recursive="1", **R)
    fixed = "def q(x):\n    return int(x)\n"
    blob = await gh.call("git.create_blob", data={"content": fixed, "encoding": "utf-8"}, **R)
    got = await gh.call("git.get_blob", file_sha=blob["sha"], **R)
    assert base64.b64decode(got["content"]).decode() == fixed
    tree = await gh.call(
        "git.create_tree",
        data={
            "base_tree": commit["tree"]["sha"],
            "tree": [{"path": "app/db.py", "mode": "100644", "type": "blob", "sha": blob["sha"]}],
        },
        **R,
    )
    new = await gh.call(
        "git.create_commit",
        data={"message": "selfheal: cast input", "tree": tree["sha"], "parents": [main_sha]},
        **R,
    )
    branch = "selfheal/7-cast-input"
    await gh.call("git.create_ref", data={"ref": f"refs/heads/{branch}", "sha": main_sha}, **R)
    await gh.call("git.update_ref", ref=f"heads/{branch}", data={"sha": new["sha"]}, **R)
    await gh.call("git.list_matching_refs", ref="heads/selfheal/", **R)
    await gh.call("repos.compare_commits", base="main", head=branch, **R)

    await gh.call("issues.create_label", data={"name": "selfheal:request", "color": "0e8a16"}, **R)
    await gh.call("issues.create_label", data={"name": "selfheal:obsolete", "color": "cccccc"}, **R)
    await gh.call("issues.get_label", name="selfheal:request", **R)
    await gh.call(
        "issues.update_label", name="selfheal:request", data={"description": "A change"}, **R
    )
    # A label migration renames an old spelling in place (PATCH with new_name).
    await gh.call("issues.create_label", data={"name": "selfheal:state/waiting"}, **R)
    await gh.call(
        "issues.update_label",
        name="selfheal:state/waiting",
        data={"new_name": "selfheal:state/queued", "color": "ededed", "description": "Queued"},
        **R,
    )
    await gh.call("issues.list_for_repo", labels="selfheal:state/queued", state="all", **R)
    [lb async for lb in gh.paginate("issues.list_labels_for_repo", **R)]
    await gh.call("issues.create", data={"title": "Monitor: crash in q()"}, **R)
    issue = await alice.open_issue(emulator.repo(f"{OWNER}/{REPO}"), "Cast the input")
    number = issue["number"]
    await gh.call("issues.get", issue_number=number, **R)
    await gh.call("issues.update", issue_number=number, data={"body": "Please cast."}, **R)
    [i async for i in gh.paginate("issues.list_for_repo", state="open", **R)]
    await gh.call(
        "issues.add_labels", issue_number=number, data={"labels": ["selfheal:request"]}, **R
    )
    [lb async for lb in gh.paginate("issues.list_labels_on_issue", issue_number=number, **R)]
    await gh.call(
        "issues.set_labels",
        issue_number=number,
        data={"labels": ["selfheal:request", "selfheal:obsolete"]},
        **R,
    )
    await gh.call("issues.remove_label", issue_number=number, name="selfheal:obsolete", **R)
    comment = await gh.call(
        "issues.create_comment", issue_number=number, data={"body": "<!-- selfheal:status -->"}, **R
    )
    await gh.call("issues.get_comment", comment_id=comment["id"], **R)
    await gh.call("issues.update_comment", comment_id=comment["id"], data={"body": "Coding."}, **R)
    [c async for c in gh.paginate("issues.list_comments", issue_number=number, **R)]
    await gh.call("reactions.create_for_issue", issue_number=number, data={"content": "eyes"}, **R)
    await gh.call(
        "reactions.create_for_issue_comment", comment_id=comment["id"], data={"content": "+1"}, **R
    )
    [x async for x in gh.paginate("reactions.list_for_issue", issue_number=number, **R)]
    [
        x
        async for x in gh.paginate(
            "reactions.list_for_issue_comment", comment_id=comment["id"], **R
        )
    ]
    [e async for e in gh.paginate("issues.list_events", issue_number=number, **R)]
    [e async for e in gh.paginate("issues.list_events_for_timeline", issue_number=number, **R)]
    await gh.call("issues.delete_comment", comment_id=comment["id"], **R)
    await gh.call("issues.remove_all_labels", issue_number=number, **R)
    await gh.call("issues.delete_label", name="selfheal:obsolete", **R)
    # Error shapes are part of the contract too: a 404, a 422, a 5xx and a secondary limit
    # (the client retries the last two, so the story goes on).
    with pytest.raises(gidgethub.BadRequest):
        await gh.call("issues.get", issue_number=9999, **R)
    with pytest.raises(gidgethub.BadRequest):
        await gh.call("issues.create_label", data={"name": "selfheal:request"}, **R)
    emulator.faults.server_errors(1, status=502)
    await gh.call("issues.get", issue_number=number, **R)
    emulator.faults.secondary_rate_limit(1, retry_after=1)
    await gh.call("issues.get", issue_number=number, **R)

    pr = await gh.call(
        "pulls.create",
        data={
            "title": "Cast input",
            "head": branch,
            "base": "main",
            "body": f"Fixes #{number}",
            "draft": True,
        },
        **R,
    )
    await gh.call("pulls.get", pull_number=pr["number"], **R)
    await gh.call("pulls.update", pull_number=pr["number"], data={"body": f"Fixes #{number}."}, **R)
    [p async for p in gh.paginate("pulls.list", state="open", **R)]
    [f async for f in gh.paginate("pulls.list_files", pull_number=pr["number"], **R)]
    [c async for c in gh.paginate("pulls.list_commits", pull_number=pr["number"], **R)]
    await _as_person(
        session,
        emulator,
        alice.token,
        "POST",
        f"/repos/{OWNER}/{REPO}/pulls/{pr['number']}/reviews",
        {"event": "APPROVE", "body": "Looks right."},
    )
    [r async for r in gh.paginate("pulls.list_reviews", pull_number=pr["number"], **R)]

    head = pr["head"]["sha"]
    run = await gh.call(
        "checks.create",
        data={"name": "selfheal/security-gate", "head_sha": head, "status": "in_progress"},
        **R,
    )
    annotation = {
        "path": "app/db.py",
        "start_line": 2,
        "end_line": 2,
        "annotation_level": "warning",
        "message": "input reaches a query",
        "title": "taint",
    }
    await gh.call(
        "checks.update",
        check_run_id=run["id"],
        data={
            "status": "completed",
            "conclusion": "action_required",
            "output": {
                "title": "Risk: medium",
                "summary": "1 finding",
                "annotations": [annotation],
            },
            "actions": [{"label": "Approve", "description": "Approve it", "identifier": "approve"}],
        },
        **R,
    )
    await gh.call("checks.get", check_run_id=run["id"], **R)
    [a async for a in gh.paginate("checks.list_annotations", check_run_id=run["id"], **R)]
    [c async for c in gh.paginate("checks.list_for_ref", ref=head, **R)]
    suites = [s async for s in gh.paginate("checks.list_suites_for_ref", ref=head, **R)]
    suite_id = run["check_suite"]["id"] if run.get("check_suite") else suites[0]["id"]
    await gh.call("checks.get_suite", check_suite_id=suite_id, **R)
    await alice.click_check_run_action(run["id"], "approve")
    await gh.call("checks.rerequest_run", check_run_id=run["id"], **R)
    await gh.call("checks.rerequest_suite", check_suite_id=suite_id, **R)
    await gh.call(
        "checks.update",
        check_run_id=run["id"],
        data={"status": "completed", "conclusion": "success"},
        **R,
    )
    await gh.call("pulls.update", pull_number=pr["number"], data={"state": "closed"}, **R)
    await gh.call("pulls.update", pull_number=pr["number"], data={"state": "open"}, **R)
    await gh.graphql("pulls.mark_ready_for_review", id=pr["node_id"])
    await gh.call("pulls.merge", pull_number=pr["number"], data={"merge_method": "squash"}, **R)
    await gh.call("git.delete_ref", ref=f"heads/{branch}", **R)
    repo = emulator.repo(f"{OWNER}/{REPO}")
    pushed = await alice.push(repo, "feature/docs", {"docs/x.md": "# x\n"}, "Add docs")
    workflow_run = emulator.complete_workflow_run(
        repo, head_sha=pushed, head_branch="feature/docs", conclusion="failure"
    )
    await gh.call("actions.get_workflow_run", run_id=workflow_run["id"], **R)
    await gh.call("actions.list_jobs_for_workflow_run", run_id=workflow_run["id"], **R)
    note = {"path": "tests/test_x.py", "start_line": 3, "end_line": 3, "title": "test_x",
            "annotation_level": "failure", "message": "assert 1 == 2"}  # fmt: skip
    reported = emulator.complete_workflow_run(
        repo, head_sha=pushed, head_branch="feature/docs", conclusion="failure",
        annotations={"test": [note]},
    )  # fmt: skip
    jobs = await gh.call("actions.list_jobs_for_workflow_run", run_id=reported["id"], **R)
    [
        a
        async for a in gh.paginate(
            "checks.list_annotations", check_run_id=jobs["jobs"][0]["id"], **R
        )
    ]
    [
        p
        async for p in gh.paginate(
            "repos.list_pull_requests_associated_with_commit", commit_sha=pushed, **R
        )
    ]
    emulator.add_team(OWNER, "security", {"alice": "maintainer"})
    await gh.call(
        "teams.get_membership_for_user_in_org", org=OWNER, team_slug="security", username="alice"
    )
    emulator.add_installation_repos(installation, [emulator.create_repo(f"{OWNER}/other")])
    await _fork_story(emulator, session, gh, installation)
    await _actions_story(emulator, session, gh, installation)
    [
        i
        async for i in gh.paginate(
            "search.issues_and_pull_requests", q=f"repo:{OWNER}/{REPO} is:issue"
        )
    ]
    await gh.call("rate_limit.get")


def _route_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile(
        "^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$"
    )


def _exercised(routes: list[tuple[str, str]], exchanges: list[Exchange]) -> set[tuple[str, str]]:
    seen = set()
    for method, template in routes:
        pattern = _route_regex(template)
        if any(e.method == method and pattern.match(e.raw_path) for e in exchanges):
            seen.add((method, template))
    return seen


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def story(
    tmp_path_factory: pytest.TempPathFactory, github_app_private_key: bytes
) -> AsyncIterator[Story]:
    """The story runs once per module against its own emulator; the tests read the record."""
    emulator = Emulator(
        tmp_path_factory.mktemp("contract") / "github", private_key_pem=github_app_private_key
    )
    emulator.root.mkdir(parents=True, exist_ok=True)
    await emulator.start()
    try:
        emulator.create_app("selfheal")
        webhooks = WebhookReceiver(secret=emulator.app.webhook_secret)
        emulator.set_webhook_url(await webhooks.start())
        try:
            recorder = Recorder()
            async with aiohttp.ClientSession(trace_configs=[recorder.trace()]) as session:
                await _drive(emulator, session)
            await emulator.drain()
            yield Story(emulator, recorder, webhooks)
        finally:
            await webhooks.stop()
    finally:
        await emulator.stop()


def test_every_emulator_response_matches_githubs_description(
    story: Story, checker: ResponseChecker
) -> None:
    exchanges = [
        e
        for e in story.recorder.exchanges
        if (e.method, e.raw_path) not in NOT_REST and not e.raw_path.startswith(STORAGE)
    ]
    assert len(exchanges) > 60
    assert {404, 422, 502, 403, 409, 410, 302} <= {e.status for e in exchanges}, (
        "error and redirect shapes not exercised"
    )
    failures = {
        f"{e.method} {e.raw_path} -> {e.status}": found
        for e in exchanges
        if (found := checker.problems(e))
    }
    assert not failures, json.dumps(failures, indent=1)[:20000]


def test_every_emulator_route_was_exercised(story: Story) -> None:
    routes = [r for r in story.emulator.routes() if r not in NOT_REST]
    missing = sorted(set(routes) - _exercised(routes, story.recorder.exchanges))
    assert not missing, f"add these emulator routes to the story: {missing}"


def test_every_webhook_sent_matches_the_webhook_schemas(story: Story) -> None:
    assert story.webhooks.rejected == 0  # every signature checked out
    events = set()
    failures = {}
    for event in story.webhooks.events:
        action = event.data.get("action")
        events.add((event.event, action))
        if found := webhook_problems(event.event, event.data, formats=True):
            failures[f"{event.event}.{action}"] = found[:10]
    assert not failures, json.dumps(failures, indent=1)[:20000]
    for expected in [
        ("installation", "created"),
        ("issues", "opened"),
        ("issues", "labeled"),
        ("issue_comment", "created"),
        ("pull_request", "opened"),
        ("check_run", "created"),
        ("check_suite", "requested"),
        ("check_run", "requested_action"),
        ("check_run", "rerequested"),
        ("push", None),
        ("workflow_run", "completed"),
        ("workflow_job", "completed"),
        ("workflow_run", "requested"),
        ("workflow_run", "in_progress"),
        ("workflow_job", "queued"),
        ("workflow_job", "in_progress"),
        ("installation_repositories", "added"),
        ("fork", None),
        ("pull_request", "synchronize"),
    ]:
        assert expected in events, sorted(events, key=str)


def test_a_mutated_emulator_response_is_reported(story: Story, checker: ResponseChecker) -> None:
    issue = next(
        e
        for e in story.recorder.exchanges
        if e.method == "GET"
        and e.status == 200
        and re.fullmatch(r"/repos/[^/]+/[^/]+/issues/\d+", e.raw_path)
    )
    assert checker.problems(issue) == []
    data = issue.json()
    mutations: list[Callable[[dict[str, Any]], object]] = [
        lambda d: d.pop("title"),
        lambda d: d.__setitem__("number", "one"),
        lambda d: d["user"].__setitem__("login", None),
        lambda d: d.__setitem__("state", 42),
    ]
    for mutate in mutations:
        broken = copy.deepcopy(data)
        mutate(broken)
        mutated = Exchange(**{**issue.__dict__, "body": json.dumps(broken).encode()})
        assert checker.problems(mutated), f"mutation of {broken} went unnoticed"
    undocumented = Exchange(**{**issue.__dict__, "status": 418, "body": b'{"msg": 1}'})
    assert checker.problems(undocumented)


def test_a_mutated_webhook_is_reported(story: Story) -> None:
    sent = next(e.data for e in story.webhooks.events if e.event == "pull_request")
    payload = copy.deepcopy(sent)
    assert webhook_problems("pull_request", payload) == []
    payload["pull_request"]["number"] = "one"
    assert webhook_problems("pull_request", payload)
