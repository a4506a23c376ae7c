"""Authentication and authorisation: App JWTs, installation tokens, people's permissions,
over the REST API and over git smart HTTP."""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path

import aiohttp
import jwt
import pygit2
import pytest

from selfheal.emulator import Emulator, PersonError, generate_private_key
from selfheal.emulator.state import Repo


async def call(
    emu: Emulator, method: str, path: str, auth: str | None, data: object = None
) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": auth} if auth else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, emu.base_url + path, headers=headers, json=data) as resp,
    ):
        return resp.status, await resp.json()


@pytest.fixture
def repo(github_emulator: Emulator) -> Repo:
    repo = github_emulator.create_repo("acme/widgets", {"a.txt": "a\n"})
    github_emulator.install([repo])
    return repo


async def test_jwt_mints_installation_token_that_works(
    github_emulator: Emulator, repo: Repo
) -> None:
    inst = next(iter(github_emulator.world.installations.values()))
    bearer = f"Bearer {github_emulator.app_jwt()}"
    status, data = await call(
        github_emulator, "POST", f"/app/installations/{inst.id}/access_tokens", bearer
    )
    assert status == 201
    assert str(data["token"]).startswith("ghs_")
    assert str(data["expires_at"]).endswith("Z")
    status, found = await call(github_emulator, "GET", "/repos/acme/widgets/installation", bearer)
    assert status == 200 and found["id"] == inst.id
    status, _ = await call(github_emulator, "GET", "/repos/acme/widgets", f"token {data['token']}")
    assert status == 200


@pytest.mark.parametrize(
    "claims_change",
    [{"exp_delta": 1200}, {"exp_delta": -10}, {"iss": "999999"}],
    ids=["exp-too-far", "expired", "unknown-app"],
)
async def test_bad_jwt_claims_are_401(
    github_emulator: Emulator, repo: Repo, claims_change: dict[str, object]
) -> None:
    now = int(time.time())
    claims = {
        "iat": now - 30,
        "exp": now + int(str(claims_change.get("exp_delta", 500))),
        "iss": str(claims_change.get("iss", github_emulator.app.id)),
    }
    token = jwt.encode(claims, github_emulator.app.private_key_pem, algorithm="RS256")
    status, data = await call(github_emulator, "GET", "/app", f"Bearer {token}")
    assert status == 401
    assert "documentation_url" in data


async def test_jwt_signed_by_another_key_is_401(github_emulator: Emulator, repo: Repo) -> None:
    now = int(time.time())
    forged = jwt.encode(
        {"iat": now - 30, "exp": now + 500, "iss": str(github_emulator.app.id)},
        generate_private_key(),
        algorithm="RS256",
    )
    inst = next(iter(github_emulator.world.installations.values()))
    status, data = await call(
        github_emulator, "POST", f"/app/installations/{inst.id}/access_tokens", f"Bearer {forged}"
    )
    assert status == 401
    assert data["message"] == "A JSON web token could not be decoded"


async def test_installation_token_expires(github_emulator: Emulator, repo: Repo) -> None:
    token = github_emulator.installation_token()
    assert (await call(github_emulator, "GET", "/repos/acme/widgets", f"token {token}"))[0] == 200
    issued = github_emulator.world.tokens[token]
    assert issued.expires_at is not None and issued.expires_at > time.time() + 3000  # an hour
    issued.expires_at = time.time()  # its hour is up
    status, data = await call(github_emulator, "GET", "/repos/acme/widgets", f"token {token}")
    assert status == 401 and data["message"] == "Bad credentials"


async def test_installation_token_cannot_use_app_endpoints_or_other_repos(
    github_emulator: Emulator, repo: Repo
) -> None:
    github_emulator.create_repo("acme/secret")
    token = f"token {github_emulator.installation_token()}"
    assert (await call(github_emulator, "GET", "/app", token))[0] == 401
    assert (await call(github_emulator, "GET", "/repos/acme/secret", token))[0] == 404
    assert (await call(github_emulator, "GET", "/repos/acme/widgets", None))[0] == 404


async def test_narrowed_token_sees_only_its_repositories(github_emulator: Emulator) -> None:
    one = github_emulator.create_repo("acme/one")
    two = github_emulator.create_repo("acme/two")
    inst = github_emulator.install([one, two])
    status, data = await call(
        github_emulator,
        "POST",
        f"/app/installations/{inst.id}/access_tokens",
        f"Bearer {github_emulator.app_jwt()}",
        {"repositories": ["one"]},
    )
    assert status == 201
    token = f"token {data['token']}"
    assert (await call(github_emulator, "GET", "/repos/acme/one", token))[0] == 200
    assert (await call(github_emulator, "GET", "/repos/acme/two", token))[0] == 404


async def test_read_only_person_cannot_label_or_push(
    github_emulator: Emulator, repo: Repo, tmp_path: Path
) -> None:
    writer = github_emulator.person("wanda", permission="write")
    reader = github_emulator.person("rita", permission="read")
    issue = await reader.open_issue(repo, "Please fix", labels=["selfheal:request"])
    assert issue["labels"] == []  # labels from people without triage are dropped, as on GitHub
    with pytest.raises(PersonError) as refused:
        await reader.add_labels(repo, issue["number"], "selfheal:request")
    assert refused.value.status == 403
    assert (await reader.comment(repo, issue["number"], "ping"))["user"]["login"] == "rita"
    with pytest.raises(pygit2.GitError):
        await reader.push(repo, "rita-branch", {"a.txt": "changed\n"})
    status, perm = await call(
        github_emulator,
        "GET",
        "/repos/acme/widgets/collaborators/rita/permission",
        f"token {writer.token}",
    )
    assert status == 200 and perm["permission"] == "read" and perm["role_name"] == "read"
    assert (await writer.add_labels(repo, issue["number"], "selfheal:request"))[0]["name"] == (
        "selfheal:request"
    )
    sha = await writer.push(repo, "wanda-branch", {"a.txt": "changed\n"})
    refs = github_emulator.repo("acme/widgets")
    assert pygit2.Repository(str(refs.path)).references["refs/heads/wanda-branch"].target == (
        pygit2.Oid(hex=sha)
    )


async def test_git_requires_credentials(
    github_emulator: Emulator, repo: Repo, tmp_path: Path
) -> None:
    url = f"{github_emulator.base_url}/acme/widgets.git/info/refs?service=git-upload-pack"
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Basic")
    with pytest.raises(pygit2.GitError):
        await asyncio.to_thread(
            pygit2.clone_repository,
            f"{github_emulator.base_url}/acme/widgets.git",
            str(tmp_path / "anon"),
        )
    stranger = github_emulator.person("eve", permission="none")
    basic = base64.b64encode(f"eve:{stranger.token}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}"}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        assert resp.status == 404


async def test_people_cannot_create_check_runs(github_emulator: Emulator, repo: Repo) -> None:
    alice = github_emulator.person("alice", permission="admin")
    git = pygit2.Repository(str(repo.path))
    sha = str(git.references["refs/heads/main"].target)
    status, data = await alice.api(
        "POST", "/repos/acme/widgets/check-runs", {"name": "x", "head_sha": sha}
    )
    assert status == 403
    assert "GitHub App" in str(data["message"])
