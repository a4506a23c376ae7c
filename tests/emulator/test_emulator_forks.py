"""Forks and pull requests from forks in the emulator, over loopback with real git (pygit2):
fork creation, ``refs/pull/N/head`` in the base repository, synchronize on a push to the
fork, refused pushes to PR refs, deleted forks, and merges."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pygit2
import pytest

from selfheal.emulator import Emulator, Person, PersonError
from selfheal.emulator.gitdata import open_repo, refs
from selfheal.emulator.state import Installation, Repo
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.webhook_schema import problems


@dataclass
class World:
    emulator: Emulator
    receiver: WebhookReceiver
    repo: Repo  # public, the App installed on it
    installation: Installation
    alice: Person  # write on the repository
    mallory: Person  # no permission of her own


@pytest.fixture
def world(github_emulator: Emulator, webhook_receiver: WebhookReceiver) -> World:
    repo = github_emulator.create_repo(
        "acme/widgets", {"README.md": "# widgets\n", "app.py": "print(1)\n"}, private=False
    )
    installation = github_emulator.install([repo])
    alice = github_emulator.person("alice", "write", repos=[repo])
    mallory = github_emulator.person("mallory", "none", repos=[])
    return World(github_emulator, webhook_receiver, repo, installation, alice, mallory)


async def _fork_pr(w: World, files: dict[str, str | None] | None = None) -> tuple[Repo, str, int]:
    """mallory forks, pushes ``patch`` to her fork and opens a PR on the parent."""
    fork = await w.mallory.fork(w.repo)
    sha = await w.mallory.push(fork, "patch", files or {"app.py": "print(2)\n"}, "Patch")
    pr = await w.mallory.open_pr(w.repo, "mallory:patch", "Patch app")
    return fork, sha, int(pr["number"])


def _app(w: World) -> Person:
    """The App, acting through the REST API with an installation token."""
    token = w.emulator.installation_token(w.installation)
    return Person(w.emulator, w.emulator.world.tokens[token])


async def _status(person: Person, method: str, path: str, data: Any = None) -> int:
    return (await person.api(method, path, data))[0]


async def _delivered(w: World, event: str, action: str | None = None) -> list[dict[str, Any]]:
    await w.emulator.drain()
    payloads = [e.data for e in w.receiver.seen(event, action)]
    for payload in payloads:
        assert problems(event, payload, formats=True) == []
    return payloads


def _push_refspec(url: str, person: Person, workdir: str, spec: str) -> list[str]:
    """Clone, commit on top of main, push ``spec`` (``:`` names the new commit as source);
    returns the server's per-ref rejection messages."""
    rejected: list[str] = []

    class Callbacks(pygit2.RemoteCallbacks):
        def push_update_reference(self, refname: str, message: str | None) -> None:
            if message is not None:
                rejected.append(f"{refname}: {message}")

    callbacks = Callbacks(credentials=pygit2.UserPass(person.login, person.token))
    repo = pygit2.clone_repository(url, workdir, bare=True, callbacks=callbacks)
    main = repo.references["refs/remotes/origin/main"].peel(pygit2.Commit)
    sig = pygit2.Signature(person.login, f"{person.login}@example.invalid", int(time.time()), 0)
    oid = repo.create_commit("refs/heads/evil", sig, sig, "evil", main.tree.id, [main.id])
    repo.remotes["origin"].push([spec.replace(":", f"{oid}:", 1)], callbacks=callbacks)
    return rejected


async def test_a_fork_copies_the_parent_and_tells_the_parents_installation(
    world: World,
) -> None:
    w = world
    await w.alice.push(w.repo, "dev", {"dev.txt": "dev\n"})
    status, data = await w.mallory.api("POST", "/repos/acme/widgets/forks", {})
    assert status == 202, data
    assert data["full_name"] == "mallory/widgets" and data["fork"] is True
    assert data["owner"]["login"] == "mallory" and data["permissions"]["admin"] is True
    assert data["parent"]["full_name"] == data["source"]["full_name"] == "acme/widgets"
    fork = w.emulator.repo("mallory/widgets")
    assert refs(open_repo(fork.path)) == refs(open_repo(w.repo.path))
    assert {"refs/heads/main", "refs/heads/dev"} <= set(refs(open_repo(fork.path)))

    [event] = await _delivered(w, "fork")
    assert event["forkee"]["full_name"] == "mallory/widgets" and event["forkee"]["fork"] is True
    assert event["repository"]["full_name"] == "acme/widgets"
    assert event["repository"]["forks_count"] == 1
    assert event["sender"]["login"] == "mallory"
    assert event["installation"]["id"] == w.installation.id

    again = await w.mallory.call("POST", "/repos/acme/widgets/forks", {"name": "other"})
    assert again["full_name"] == "mallory/widgets"  # one fork per account, no new event
    assert len(await _delivered(w, "fork")) == 1
    parent = await w.mallory.call("GET", "/repos/acme/widgets")
    assert parent["fork"] is False and parent["forks_count"] == 1

    bob = w.emulator.person("bob", "none", repos=[])
    lite = await bob.fork(w.repo, name="gadgets", default_branch_only=True)
    assert lite.full_name == "bob/gadgets"
    assert set(refs(open_repo(lite.path))) == {"refs/heads/main"}


async def test_forking_follows_visibility_and_permissions(world: World) -> None:
    w = world
    secret = w.emulator.create_repo("acme/secret")
    assert await _status(w.mallory, "POST", "/repos/acme/secret/forks") == 404
    reader = w.emulator.person("rita", "read", repos=[secret])
    with pytest.raises(PersonError) as refused:
        await reader.fork(secret)
    assert refused.value.status == 403
    secret.allow_forking = True
    fork = await reader.fork(secret)
    assert fork.private and fork.permission_of(w.emulator.world.user("rita")) == "admin"
    assert await _status(w.mallory, "GET", "/repos/rita/secret") == 404

    owner = w.emulator.person("acme-admin", "admin", repos=[w.repo])
    into_acme = {"organization": "acme"}
    assert await _status(owner, "POST", "/repos/acme/widgets/forks", into_acme) == 422
    assert await _status(_app(w), "POST", "/repos/acme/widgets/forks") == 403


async def test_forking_into_an_organisation_needs_membership(world: World) -> None:
    w = world
    w.emulator.create_repo("tools/infra")
    w.emulator.add_team("tools", "devs", {"mallory": "member"})
    fork = await w.mallory.fork(w.repo, organization="tools")
    assert fork.full_name == "tools/widgets"
    assert fork.permission_of(w.mallory.user) == "admin"
    bob = w.emulator.person("bob", "none", repos=[])
    forks = "/repos/acme/widgets/forks"
    assert await _status(bob, "POST", forks, {"organization": "tools"}) == 403
    assert await _status(bob, "POST", forks, {"organization": "nope"}) == 422


async def test_a_pull_request_from_a_fork(world: World) -> None:
    w = world
    _fork, sha, number = await _fork_pr(w)
    pr = await w.alice.call("GET", f"/repos/acme/widgets/pulls/{number}")
    head, base = pr["head"], pr["base"]
    assert head["repo"]["full_name"] == "mallory/widgets" and head["repo"]["fork"] is True
    assert head["label"] == "mallory:patch" and head["ref"] == "patch" and head["sha"] == sha
    assert head["user"]["login"] == "mallory"
    assert base["repo"]["full_name"] == "acme/widgets" and base["label"] == "acme:main"
    assert pr["mergeable"] is True and pr["commits"] == 1 and pr["changed_files"] == 1
    files = await w.alice.call("GET", f"/repos/acme/widgets/pulls/{number}/files")
    assert [f["filename"] for f in files] == ["app.py"]
    commits = await w.alice.call("GET", f"/repos/acme/widgets/pulls/{number}/commits")
    assert [c["sha"] for c in commits] == [sha]

    assert await w.alice.fetch(w.repo, f"refs/pull/{number}/head") == sha
    assert "refs/heads/patch" not in refs(open_repo(w.repo.path))  # no branch in the parent

    [opened] = await _delivered(w, "pull_request", "opened")
    assert opened["repository"]["full_name"] == "acme/widgets"
    assert opened["installation"]["id"] == w.installation.id
    assert opened["pull_request"]["head"]["repo"]["full_name"] == "mallory/widgets"

    listed = await w.alice.call("GET", "/repos/acme/widgets/pulls?head=mallory:patch")
    assert [p["number"] for p in listed] == [number]
    assert await w.alice.call("GET", "/repos/acme/widgets/pulls?head=acme:patch") == []
    again = await w.mallory.api(
        "POST", "/repos/acme/widgets/pulls", {"head": "mallory:patch", "base": "main", "title": "x"}
    )
    assert again[0] == 422 and "mallory:patch" in again[1]["errors"][0]["message"]
    unknown = await w.mallory.api(
        "POST", "/repos/acme/widgets/pulls", {"head": "nobody:patch", "base": "main", "title": "x"}
    )
    assert unknown[0] == 422


async def test_the_app_sees_no_pull_requests_on_fork_heads_but_can_read_the_fork(
    world: World,
) -> None:
    """GitHub leaves check runs' ``pull_requests`` empty for PRs from forks; any token reads
    a public fork."""
    w = world
    _fork, sha, _number = await _fork_pr(w)
    app = _app(w)
    run = await app.call(
        "POST", "/repos/acme/widgets/check-runs", {"name": "gate", "head_sha": sha}
    )
    assert run["pull_requests"] == []
    assert (await app.call("GET", "/repos/mallory/widgets"))["fork"] is True


async def test_a_push_to_the_fork_synchronizes_the_pull_request(world: World) -> None:
    w = world
    fork, first, number = await _fork_pr(w)
    second = await w.mallory.push(fork, "patch", {"app.py": "print(3)\n"}, "More")
    [sync] = await _delivered(w, "pull_request", "synchronize")
    assert sync["repository"]["full_name"] == "acme/widgets"
    assert sync["installation"]["id"] == w.installation.id
    assert (sync["before"], sync["after"]) == (first, second)
    assert sync["pull_request"]["head"]["sha"] == second
    assert await w.alice.fetch(w.repo, f"refs/pull/{number}/head") == second
    pr = await w.alice.call("GET", f"/repos/acme/widgets/pulls/{number}")
    assert pr["head"]["sha"] == second and pr["commits"] == 2


async def test_a_same_repository_pull_request_has_a_pull_ref_that_follows_pushes(
    world: World,
) -> None:
    w = world
    first = await w.alice.push(w.repo, "topic", {"app.py": "print(4)\n"})
    pr = await w.alice.open_pr(w.repo, "topic", "Topic")
    ref = f"refs/pull/{pr['number']}/head"
    assert pr["head"]["repo"]["full_name"] == "acme/widgets"
    assert await w.mallory.fetch(w.repo, ref) == first
    second = await w.alice.push(w.repo, "topic", {"app.py": "print(5)\n"})
    assert await w.mallory.fetch(w.repo, ref) == second


def _fetch_anonymously(url: str, workdir: str, ref: str) -> str:
    repo = pygit2.init_repository(workdir, bare=True)
    repo.remotes.create_anonymous(url).fetch([f"+{ref}:refs/fetched"])
    return str(repo.references["refs/fetched"].target)


async def test_anyone_fetches_a_public_pull_ref_without_credentials(world: World) -> None:
    w = world
    _fork, sha, number = await _fork_pr(w)
    scratch = w.emulator.root / "scratch"
    url = w.alice.clone_url(w.repo)
    ref = f"refs/pull/{number}/head"
    assert await asyncio.to_thread(_fetch_anonymously, url, str(scratch / "a"), ref) == sha
    secret = w.emulator.create_repo("acme/secret")
    with pytest.raises(pygit2.GitError):
        url = w.alice.clone_url(secret)
        await asyncio.to_thread(_fetch_anonymously, url, str(scratch / "b"), "refs/heads/main")


async def test_pushing_to_a_pull_ref_is_refused(world: World) -> None:
    w = world
    sha = await w.alice.push(w.repo, "topic", {"app.py": "print(4)\n"})
    await w.alice.open_pr(w.repo, "topic", "Topic")
    url = w.alice.clone_url(w.repo)
    workdir = str(w.emulator.root / "scratch" / uuid.uuid4().hex)
    rejected = await asyncio.to_thread(_push_refspec, url, w.alice, workdir, ":refs/pull/1/head")
    assert rejected and "hidden" in rejected[0]
    assert await w.alice.fetch(w.repo, "refs/pull/1/head") == sha


async def test_deleting_the_fork_keeps_the_pull_request_and_its_ref(world: World) -> None:
    w = world
    fork, sha, number = await _fork_pr(w)
    assert await _status(w.alice, "DELETE", "/repos/mallory/widgets") == 403  # public: read
    assert await _status(w.alice, "DELETE", "/repos/acme/widgets") == 403  # write only
    await w.mallory.delete_repo(fork)
    assert await _status(w.mallory, "GET", "/repos/mallory/widgets") == 404
    assert not fork.path.exists()

    pr = await w.alice.call("GET", f"/repos/acme/widgets/pulls/{number}")
    assert pr["state"] == "open" and pr["head"]["repo"] is None
    assert pr["head"]["sha"] == sha and pr["head"]["label"] == "mallory:patch"
    assert await w.alice.fetch(w.repo, f"refs/pull/{number}/head") == sha
    files = await w.alice.call("GET", f"/repos/acme/widgets/pulls/{number}/files")
    assert [f["filename"] for f in files] == ["app.py"]
    listed = await w.alice.call("GET", "/repos/acme/widgets/pulls")
    assert listed[0]["head"]["repo"] is None
    assert (await w.alice.call("GET", "/repos/acme/widgets"))["forks_count"] == 0


async def test_merging_a_pull_request_from_a_fork(world: World) -> None:
    w = world
    _fork, sha, number = await _fork_pr(w, {"app.py": "print(2)\n", "new.txt": "new\n"})
    merged = await w.alice.merge(w.repo, number)
    assert merged["merged"] is True
    main = refs(open_repo(w.repo.path))["refs/heads/main"]
    commit = open_repo(w.repo.path)[main]
    assert isinstance(commit, pygit2.Commit)
    assert [str(p) for p in commit.parent_ids][1] == sha
    assert commit.message.startswith(f"Merge pull request #{number} from mallory/patch")
    content = await w.alice.call("GET", "/repos/acme/widgets/contents/new.txt")
    assert content["type"] == "file"
    [closed] = await _delivered(w, "pull_request", "closed")
    assert closed["pull_request"]["merged"] is True
    assert closed["pull_request"]["head"]["repo"]["full_name"] == "mallory/widgets"
