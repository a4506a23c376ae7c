"""The bot's git: a coder's folder read back as a commit, pushed over the emulator's smart
HTTP with the installation token, reverted; the token never lands in an error."""

from __future__ import annotations

import os
from pathlib import Path

import pygit2
import pytest

from selfheal.emulator import Emulator
from selfheal.emulator.gitdata import open_repo, refs
from selfheal.emulator.routes_pulls import closing_references
from selfheal.git.clones import GitOpsError, branch_refspec, fetch
from selfheal.git.commits import (
    bot_identity,
    branch_name,
    commit_message,
    commit_on,
    push,
    revert_on,
)
from selfheal.git.worktrees import Change, WorkTreeError, export_tree, snapshot

FILES = {
    "app/main.py": "print('hi')\n",
    "requirements.txt": "requests==2.19.0\n",
    ".env": "TOKEN=not-for-coders\n",
    "docs/readme.md": "# docs\n",
}


async def _cache(emu: Emulator, tmp_path: Path) -> tuple[Path, str, str, str]:
    repo = emu.create_repo("acme/tools", FILES)
    emu.install([repo])
    token = emu.installation_token()
    url = f"{emu.base_url}/acme/tools.git"
    cache = await fetch(tmp_path / "data", "acme/tools", url, [branch_refspec("main")], token)
    base = str(pygit2.Repository(str(cache)).references["refs/remotes/origin/main"].target)
    return cache, base, url, token


async def test_a_coders_folder_becomes_a_pushed_commit(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    cache, base, url, token = await _cache(emu, tmp_path)
    work = tmp_path / "work"
    assert export_tree(cache, base, work) == len(FILES)
    assert (work / "app/main.py").read_text() == FILES["app/main.py"]

    (work / ".env").unlink()  # scrubbed before the coder ran: not a deletion
    (work / "requirements.txt").write_text("requests==2.31.0\n")
    (work / "docs/readme.md").unlink()
    (work / "tool.sh").write_text("#!/bin/sh\necho hi\n")
    (work / "tool.sh").chmod(0o755)
    os.symlink("app/main.py", work / "main-link.py")
    tree, changes = snapshot(cache, base, work, keep=[".env"])
    assert changes == [
        Change("docs/readme.md", "deleted"),
        Change("main-link.py", "added"),
        Change("requirements.txt", "modified"),
        Change("tool.sh", "added"),
    ]

    author = bot_identity("selfheal", 4242)
    message = commit_message(
        "Bump requests for #7\nInjected: trailer; closes #3",
        "Fixes #7. Resolves: acme/tools#2",
        {"Selfheal-Request": "acme/tools#7", "Requested-by": "alice\nSigned-off-by: mallory"},
    )
    sha = commit_on(cache, base, tree, message, author)
    branch = branch_name(
        7, "Bump requests (CVE-2023-32681)!", taken=["selfheal/7-bump-requests-cve-2023-32681"]
    )
    assert branch == "selfheal/7-bump-requests-cve-2023-32681-2"
    await push(cache, url, {branch: sha}, token)

    remote = open_repo(emu.repo("acme/tools").path)
    assert refs(remote)[f"refs/heads/{branch}"] == sha
    pushed = remote.get(sha)
    assert isinstance(pushed, pygit2.Commit)
    assert pushed.author.name == "selfheal[bot]"
    assert pushed.author.email == "4242+selfheal[bot]@users.noreply.github.com"
    lines = pushed.message.splitlines()
    assert lines[0] == "Bump requests for #7 Injected: trailer; closes (reference) #3"
    # text from an issue or a model closes nothing when the commit reaches the default branch
    assert closing_references(pushed.message, "acme/tools") == []
    assert "Fixes (reference) #7. Resolves (reference): acme/tools#2" in lines
    assert "Requested-by: alice Signed-off-by: mallory" in lines  # one line: no forged trailer
    assert not any(line.startswith("Signed-off-by") for line in lines)
    tree_obj = pushed.tree
    assert ".env" in tree_obj and "docs" not in tree_obj  # kept; deleted
    assert tree_obj["tool.sh"].filemode == pygit2.enums.FileMode.BLOB_EXECUTABLE
    assert tree_obj["main-link.py"].filemode == pygit2.enums.FileMode.LINK

    # Not a fast-forward: refused unless forced; deleting the branch works.
    other = commit_on(cache, base, tree, "other\n", author)
    with pytest.raises(GitOpsError):
        await push(cache, url, {branch: other}, token)
    await push(cache, url, {branch: other}, token, force=True)
    assert refs(remote)[f"refs/heads/{branch}"] == other
    await push(cache, url, {branch: None}, token)
    assert f"refs/heads/{branch}" not in refs(remote)


async def test_a_revert_undoes_the_change_and_a_bad_token_is_masked(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    cache, base, url, token = await _cache(emu, tmp_path)
    work = tmp_path / "work"
    export_tree(cache, base, work)
    (work / "requirements.txt").write_text("requests==2.31.0\n")
    tree, _ = snapshot(cache, base, work)
    author = bot_identity("selfheal")
    change = commit_on(cache, base, tree, "bump\n", author)
    undo = revert_on(cache, change, change, "Revert bump\n", author)
    git = pygit2.Repository(str(cache))
    reverted = git.get(undo)
    assert isinstance(reverted, pygit2.Commit)
    assert reverted.tree.id == git.get(base).peel(pygit2.Commit).tree.id
    assert [str(p) for p in reverted.parent_ids] == [change]

    bad = "ghs_" + "1" * 36
    with pytest.raises(GitOpsError) as refused:
        await push(cache, url, {"selfheal/1-x": change}, bad)
    assert bad not in str(refused.value)
    with pytest.raises(GitOpsError, match="not a branch name"):
        await push(cache, url, {"bad..name": change}, token)


def test_names_and_messages_are_safe() -> None:
    assert (
        branch_name(12, "Ünïcode — title / with ../ parts")
        == "selfheal/12-unicode-title-with-parts"
    )
    assert branch_name(3, "!!!") == "selfheal/3-change"
    with pytest.raises(ValueError):
        branch_name(3, "x", template="selfheal/{issue}..{slug}")
    with pytest.raises(ValueError):
        commit_message("s", trailers={"Bad Key": "v"})
    assert commit_message("  ", "") == "selfheal change\n"


def test_export_refuses_a_folder_in_use_and_an_unknown_commit(tmp_path: Path) -> None:
    repo = pygit2.init_repository(str(tmp_path / "r.git"), bare=True)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(WorkTreeError, match="not empty"):
        export_tree(Path(repo.path), "HEAD", tmp_path / "busy")
    with pytest.raises(WorkTreeError, match="no commit"):
        export_tree(Path(repo.path), "1" * 40, tmp_path / "empty")
