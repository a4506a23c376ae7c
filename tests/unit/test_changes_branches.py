"""Where the coder's commit goes: the pure decision, and reading a branch's commits."""

from __future__ import annotations

from pathlib import Path

import pygit2

from selfheal.changes.branches import Step, Tip, decide, inspect_tip

BOT = "selfheal[bot]@users.noreply.github.com"


def test_decide_covers_every_case() -> None:
    assert decide(None, "t1") is Step.PUSH
    assert decide(Tip("c1", "t1", bot_only=True), "t1") is Step.REUSE
    assert decide(Tip("c1", "t0", bot_only=True), "t1") is Step.REPLACE
    assert decide(Tip("c1", "t1", bot_only=False), "t1") is Step.NEW_BRANCH
    assert decide(Tip("c1", "t0", bot_only=False), "t1") is Step.NEW_BRANCH
    # once the ledger knows a person pushed, the branch is never replaced or reused
    assert decide(Tip("c1", "t1", bot_only=True), "t1", shared=True) is Step.NEW_BRANCH


def _commit(repo: pygit2.Repository, parent: list[pygit2.Oid], email: str, text: str) -> str:
    blob = repo.create_blob(text.encode())
    builder = repo.TreeBuilder()
    builder.insert("f.txt", blob, pygit2.enums.FileMode.BLOB)
    sig = pygit2.Signature("x", email, 1_700_000_000, 0)
    return str(repo.create_commit(None, sig, sig, text, builder.write(), parent))


def test_inspect_tip_tells_the_bots_commits_from_a_persons(tmp_path: Path) -> None:
    repo = pygit2.init_repository(str(tmp_path / "r.git"), bare=True)
    base = _commit(repo, [], "alice@example.com", "base")
    ours = _commit(repo, [pygit2.Oid(hex=base)], BOT, "bot change")
    again = _commit(repo, [pygit2.Oid(hex=ours)], BOT, "bot change 2")
    theirs = _commit(repo, [pygit2.Oid(hex=again)], "bob@example.com", "a person's fix")
    mine = inspect_tip(tmp_path / "r.git", again, base, BOT.upper())
    assert mine.bot_only and mine.sha == again
    assert mine.tree == str(repo.get(again).tree_id)  # type: ignore[union-attr]
    assert not inspect_tip(tmp_path / "r.git", theirs, base, BOT).bot_only
    # a committer that is not the bot also counts as a person's commit
    sig_a = pygit2.Signature("x", BOT, 1_700_000_000, 0)
    sig_b = pygit2.Signature("y", "carol@example.com", 1_700_000_000, 0)
    tree = repo.get(ours).tree_id  # type: ignore[union-attr]
    mixed = str(repo.create_commit(None, sig_a, sig_b, "m", tree, [pygit2.Oid(hex=base)]))
    assert not inspect_tip(tmp_path / "r.git", mixed, base, BOT).bot_only
