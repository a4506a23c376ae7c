"""The gate's cache clone: pygit2 fetches over the emulator's smart HTTP with a token that
never lands on disk or in an error message."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from selfheal.emulator import Emulator
from selfheal.git.clones import GitOpsError, branch_refspec, cache_path, fetch


async def test_fetch_into_the_cache_keeps_the_token_off_disk(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo = emu.create_repo("acme/tools", {"a.py": "x = 1\n"})
    emu.install([repo])
    bob = emu.person("bob", "write")
    head = await bob.push(repo, "feature", {"a.py": "x = 2\n"})
    token = emu.installation_token()
    url = f"{emu.base_url}/acme/tools.git"
    data = tmp_path / "data"
    specs = [branch_refspec("main"), "+refs/heads/feature:refs/selfheal/pull/1"]
    path = await fetch(data, "acme/tools", url, specs, token, want=[head])
    assert path == cache_path(data, "acme/tools") == data / "repos/acme/tools.git"
    git = pygit2.Repository(str(path))
    assert str(git.references["refs/selfheal/pull/1"].target) == head
    assert "refs/remotes/origin/main" in git.references
    assert not list(git.remotes)  # an anonymous remote: nothing written to the config
    for file in path.rglob("*"):
        if file.is_file():
            assert token.encode() not in file.read_bytes(), file

    # Already present: no network needed (an unreachable URL is not even contacted).
    again = await fetch(data, "acme/tools", "http://127.0.0.1:9/none.git", specs, token, [head])
    assert again == path

    with pytest.raises(GitOpsError) as missing:
        await fetch(data, "acme/tools", url, specs, token, want=["1" * 40])
    assert "is not on the fetched branches" in str(missing.value)

    bad = "ghs_" + "0" * 36
    with pytest.raises(GitOpsError) as refused:
        await fetch(tmp_path / "other", "acme/tools", url, specs, bad, want=[head])
    assert bad not in str(refused.value) and "git fetch" in str(refused.value)


@pytest.mark.parametrize("name", ["../etc", "acme/..", "acme", "a/b/c", "acme/to ols"])
def test_cache_path_refuses_names_that_escape(name: str, tmp_path: Path) -> None:
    with pytest.raises(GitOpsError):
        cache_path(tmp_path, name)
