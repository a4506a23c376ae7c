"""Git smart HTTP in front of real bare repositories: the git CLI and pygit2 both work, pushes
move the refs the API reports (and the reverse), and pushes produce webhooks."""

from __future__ import annotations

import asyncio
import base64
import gzip
import os
import subprocess
from pathlib import Path

import aiohttp
import pygit2
import pytest

from selfheal.emulator import Emulator
from selfheal.emulator.state import Repo
from tests.support.webhook_receiver import WebhookReceiver

# git asks this helper for credentials; the token comes from the environment, never from disk
CREDENTIAL_HELPER = '!f() { echo "username=x-access-token"; echo "password=$EMU_TOKEN"; }; f'


def git(*args: str, cwd: Path, token: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(cwd),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "EMU_TOKEN": token,
        "GIT_AUTHOR_NAME": "Bot",
        "GIT_AUTHOR_EMAIL": "bot@example.invalid",
        "GIT_COMMITTER_NAME": "Bot",
        "GIT_COMMITTER_EMAIL": "bot@example.invalid",
    }
    return subprocess.run(
        ["git", "-c", f"credential.helper={CREDENTIAL_HELPER}", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def repo(github_emulator: Emulator) -> Repo:
    repo = github_emulator.create_repo("acme/widgets", {"README.md": "hi\n"})
    github_emulator.install([repo])
    return repo


async def test_git_cli_clone_and_push_moves_api_refs(
    github_emulator: Emulator, repo: Repo, webhook_receiver: WebhookReceiver, tmp_path: Path
) -> None:
    token = github_emulator.installation_token()
    alice = github_emulator.person("alice")
    await alice.push(repo, "topic", {"README.md": "topic\n"})
    pr = await alice.open_pr(repo, "topic", "Topic")
    url = f"{github_emulator.base_url}/acme/widgets.git"
    cloned = await asyncio.to_thread(git, "clone", url, "work", cwd=tmp_path, token=token)
    assert cloned.returncode == 0, cloned.stderr
    work = tmp_path / "work"
    assert (work / "README.md").read_text() == "hi\n"
    steps = [
        ("checkout", "-q", "topic"),
        ("commit", "-q", "--allow-empty", "-m", "more"),
        ("push", "-q", "origin", "topic"),
    ]
    for step in steps:
        done = await asyncio.to_thread(git, *step, cwd=work, token=token)
        assert done.returncode == 0, done.stderr
    head = (await asyncio.to_thread(git, "rev-parse", "HEAD", cwd=work, token=token)).stdout
    status, data = await alice.api("GET", "/repos/acme/widgets/git/ref/heads/topic")
    assert status == 200 and data["object"]["sha"] == head.strip()
    status, got = await alice.api("GET", f"/repos/acme/widgets/pulls/{pr['number']}")
    assert got["head"]["sha"] == head.strip()
    await github_emulator.drain()
    sync = webhook_receiver.seen("pull_request", "synchronize")
    assert sync[-1].data["after"] == head.strip()
    assert sync[-1].data["sender"]["login"] == "selfheal[bot]"
    pushes = [e for e in webhook_receiver.seen("push") if e.data["after"] == head.strip()]
    assert pushes and pushes[0].data["commits"][-1]["message"].strip() == "more"
    requested = webhook_receiver.seen("check_suite", "requested")
    assert head.strip() in {e.data["check_suite"]["head_sha"] for e in requested}
    assert webhook_receiver.rejected == 0


async def test_api_refs_are_visible_to_git(
    github_emulator: Emulator, repo: Repo, tmp_path: Path
) -> None:
    token = github_emulator.installation_token()
    alice = github_emulator.person("alice")
    main = (await alice.api("GET", "/repos/acme/widgets/git/ref/heads/main"))[1]
    status, _ = await alice.api(
        "POST",
        "/repos/acme/widgets/git/refs",
        {"ref": "refs/heads/from-api", "sha": main["object"]["sha"]},
    )
    assert status == 201
    listed = await asyncio.to_thread(
        git, "ls-remote", f"{github_emulator.base_url}/acme/widgets.git", cwd=tmp_path, token=token
    )
    assert f"{main['object']['sha']}\trefs/heads/from-api" in listed.stdout


async def test_read_only_token_cannot_push_with_git_cli(
    github_emulator: Emulator, repo: Repo, tmp_path: Path
) -> None:
    reader = github_emulator.person("rita", permission="read")
    url = f"{github_emulator.base_url}/acme/widgets.git"
    cloned = await asyncio.to_thread(
        git, "clone", "-q", url, "work", cwd=tmp_path, token=reader.token
    )
    assert cloned.returncode == 0, cloned.stderr
    work = tmp_path / "work"
    await asyncio.to_thread(
        git, "commit", "-q", "--allow-empty", "-m", "x", cwd=work, token=reader.token
    )
    pushed = await asyncio.to_thread(
        git, "push", "origin", "HEAD:refs/heads/rita", cwd=work, token=reader.token
    )
    assert pushed.returncode != 0
    assert "403" in pushed.stderr or "denied" in pushed.stderr
    assert "refs/heads/rita" not in pygit2.Repository(str(repo.path)).references


async def test_gzip_request_body(github_emulator: Emulator, repo: Repo) -> None:
    token = github_emulator.installation_token()
    head = str(pygit2.Repository(str(repo.path)).references["refs/heads/main"].target)
    want = f"want {head}\n"
    request = f"{len(want) + 4:04x}{want}00000009done\n".encode()
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    headers = {
        "Authorization": f"Basic {basic}",
        "Content-Type": "application/x-git-upload-pack-request",
        "Content-Encoding": "gzip",
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{github_emulator.base_url}/acme/widgets.git/git-upload-pack",
            data=gzip.compress(request),
            headers=headers,
        ) as resp,
    ):
        body = await resp.read()
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "application/x-git-upload-pack-result"
    assert b"PACK" in body
