"""End-to-end story through the GitHub emulator, as the App and as people.

A real aiohttp receiver on 127.0.0.1 gets every webhook and verifies its signature with
gidgethub.sansio.Event.from_http; the App authenticates with a real JWT through gidgethub.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import aiohttp
import pygit2
import pytest
from gidgethub import BadRequest, apps
from gidgethub.aiohttp import GitHubAPI

from selfheal.emulator import Emulator
from tests.support.webhook_receiver import WebhookReceiver


async def app_client(
    emu: Emulator, session: aiohttp.ClientSession, installation_id: int
) -> GitHubAPI:
    """Authenticate exactly as the App will: JWT -> installation token, via gidgethub."""
    gh = GitHubAPI(session, "selfheal-tests", base_url=emu.base_url)
    token = await apps.get_installation_access_token(
        gh,
        installation_id=str(installation_id),
        app_id=str(emu.app.id),
        private_key=emu.app.private_key_pem.decode(),
    )
    return GitHubAPI(session, "selfheal-tests", oauth_token=token["token"], base_url=emu.base_url)


def clone(emu: Emulator, full_name: str, token: str, dest: Path) -> pygit2.Repository:
    callbacks = pygit2.RemoteCallbacks(credentials=pygit2.UserPass("x-access-token", token))
    return pygit2.clone_repository(
        f"{emu.base_url}/{full_name}.git", str(dest), callbacks=callbacks
    )


async def test_whole_story(
    github_emulator: Emulator, webhook_receiver: WebhookReceiver, tmp_path: Path
) -> None:
    emu, receiver = github_emulator, webhook_receiver
    repo = emu.create_repo("acme/widgets", {"app.py": "def main():\n    return 1\n"})
    emu.require_checks(repo, "main", ["selfheal/security-gate"])
    inst = emu.install([repo])
    alice = emu.person("alice", permission="write")

    async with aiohttp.ClientSession() as session:
        gh = await app_client(emu, session, inst.id)

        # a person files a request; the app labels it
        issue = await alice.open_issue(repo, "Fix main", "It returns 1", labels=["bug"])
        await gh.post(
            f"/repos/acme/widgets/issues/{issue['number']}/labels",
            data={"labels": ["selfheal:request"]},
        )

        # the app clones over HTTP with its installation token, commits, pushes a branch
        token = gh.oauth_token
        assert token is not None
        local = await asyncio.to_thread(clone, emu, "acme/widgets", token, tmp_path / "clone")
        assert (tmp_path / "clone" / "app.py").read_text().startswith("def main")
        head = local.head.peel(pygit2.Commit)
        blob = local.create_blob(b"def main():\n    return 2\n")
        builder = local.TreeBuilder(head.tree)
        builder.insert("app.py", blob, pygit2.enums.FileMode.BLOB)
        sig = pygit2.Signature("selfheal", "bot@example.invalid")
        new = local.create_commit(
            "refs/heads/selfheal/1-fix", sig, sig, "Fix main", builder.write(), [head.id]
        )
        callbacks = pygit2.RemoteCallbacks(credentials=pygit2.UserPass("x-access-token", token))
        await asyncio.to_thread(
            local.remotes["origin"].push,
            ["refs/heads/selfheal/1-fix:refs/heads/selfheal/1-fix"],
            callbacks=callbacks,
        )
        ref = await gh.getitem("/repos/acme/widgets/git/ref/heads/selfheal/1-fix")
        assert ref["object"]["sha"] == str(new)

        # draft PR, then ready for review through GraphQL
        pr = await gh.post(
            "/repos/acme/widgets/pulls",
            data={
                "head": "selfheal/1-fix",
                "base": "main",
                "title": "Fix main",
                "body": f"Fixes #{issue['number']}",
                "draft": True,
            },
        )
        assert pr["draft"] is True and pr["head"]["sha"] == str(new)
        files = await gh.getitem(f"/repos/acme/widgets/pulls/{pr['number']}/files")
        assert [f["filename"] for f in files] == ["app.py"]

        merge_url = f"/repos/acme/widgets/pulls/{pr['number']}/merge"

        async def refused_merge() -> str:
            with pytest.raises(BadRequest) as refused:
                await gh.put(merge_url, data={})
            assert refused.value.status_code == 405
            return str(refused.value)

        # a draft cannot be merged; ready for review goes through GraphQL, as on GitHub
        assert "draft" in await refused_merge()
        await gh.post(
            "/graphql",
            data={
                "query": "mutation($id: ID!) { markPullRequestReadyForReview(input: "
                "{pullRequestId: $id}) { pullRequest { isDraft } } }",
                "variables": {"id": pr["node_id"]},
            },
        )
        # the required check is missing
        assert 'Required status check "selfheal/security-gate" is expected' in (
            await refused_merge()
        )

        # the gate: a check run, annotations in two batches, failure first
        note = {"path": "app.py", "start_line": 1, "end_line": 1, "annotation_level": "warning"}
        run = await gh.post(
            "/repos/acme/widgets/check-runs",
            data={
                "name": "selfheal/security-gate",
                "head_sha": str(new),
                "status": "in_progress",
                "output": {
                    "title": "Scanning",
                    "summary": "running",
                    "annotations": [{**note, "message": "first batch"}],
                },
            },
        )
        await gh.patch(
            f"/repos/acme/widgets/check-runs/{run['id']}",
            data={
                "conclusion": "failure",
                "output": {
                    "title": "Blocked",
                    "summary": "1 finding",
                    "annotations": [
                        {**note, "start_line": 2, "end_line": 2, "message": "second batch"}
                    ],
                },
            },
        )
        notes = await gh.getitem(f"/repos/acme/widgets/check-runs/{run['id']}/annotations")
        assert [a["message"] for a in notes] == ["first batch", "second batch"]
        # the required check failed
        assert 'Required status check "selfheal/security-gate" is failing' in (
            await refused_merge()
        )

        rerun = await gh.post(
            "/repos/acme/widgets/check-runs",
            data={
                "name": "selfheal/security-gate",
                "head_sha": str(new),
                "conclusion": "success",
                "output": {"title": "Passed", "summary": "no findings"},
            },
        )
        assert rerun["status"] == "completed"
        merged = await alice.merge(repo, pr["number"])
        assert merged["merged"] is True

        after = await gh.getitem("/repos/acme/widgets/issues/" + str(issue["number"]))
        assert after["state"] == "closed"
        content = await gh.getitem("/repos/acme/widgets/contents/app.py")
        assert "return 2" in base64.b64decode(content["content"]).decode()

    await emu.drain()
    assert receiver.rejected == 0
    assert all(d.ok for d in emu.deliveries), [(d.event, d.status, d.error) for d in emu.deliveries]
    assert receiver.seen("installation", "created")
    assert receiver.seen("issues", "opened")
    labeled = [
        (e.data["label"]["name"], e.data["sender"]["login"])
        for e in receiver.seen("issues", "labeled")
    ]
    assert labeled == [("bug", "alice"), ("selfheal:request", "selfheal[bot]")]
    pushes = [e for e in receiver.seen("push") if e.data["ref"] == "refs/heads/selfheal/1-fix"]
    assert pushes and pushes[0].data["after"] == str(new) and pushes[0].data["created"]
    assert receiver.seen("check_suite", "requested")
    assert receiver.seen("pull_request", "opened")
    assert receiver.seen("pull_request", "ready_for_review")
    assert receiver.seen("check_run", "created") and receiver.seen("check_run", "completed")
    closed = receiver.seen("pull_request", "closed")
    assert closed and closed[0].data["pull_request"]["merged"] is True
    assert receiver.seen("issues", "closed")
    assert {e.data["installation"]["id"] for e in receiver.events if "repository" in e.data} == {
        inst.id
    }
