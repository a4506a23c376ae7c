"""Where the coder's commit goes: the request's branch, kept across attempts and restarts,
and never force-pushed once a person pushed to it.

The branch name is recorded in the ledger *before* the first push, so a worker that dies
after pushing finds its own branch on the next attempt instead of opening a second one.
What to do with the branch as GitHub has it is a pure decision (:func:`decide`):

- no such branch: push it;
- the branch holds only the bot's commits and already has this exact tree (an attempt that
  died after its push): reuse that commit, push nothing;
- the branch holds only the bot's commits: replace it (the bot's own, unshared branch);
- a person pushed to it: leave it alone and push to a new branch with a suffix.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

import pygit2

from selfheal.git.clones import repo_lock
from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import split

MAX_WALK = 200  # commits inspected on a branch before it counts as a person's


class Step(enum.StrEnum):
    PUSH = "push"  # a new branch
    REUSE = "reuse"  # the branch already has this change
    REPLACE = "replace"  # the bot's own branch, force-pushed with the new attempt
    NEW_BRANCH = "new_branch"  # a person pushed to the branch: use another one


@dataclass(frozen=True)
class Tip:
    """The branch on GitHub: its head commit, that commit's tree, and whether every commit
    on it since the base was made by the bot."""

    sha: str
    tree: str
    bot_only: bool


def decide(tip: Tip | None, tree: str, *, shared: bool = False) -> Step:
    """What to do with the request's branch (pure). ``shared``: the ledger already knows a
    person pushed to it."""
    if tip is None:
        return Step.PUSH
    if shared or not tip.bot_only:
        return Step.NEW_BRANCH
    if tip.tree == tree:
        return Step.REUSE
    return Step.REPLACE


def inspect_tip(cache: Path, tip_sha: str, base: str, bot_email: str) -> Tip:
    """Read the fetched branch head ``tip_sha`` in the cache clone: is every commit between
    it and ``base`` authored and committed by the bot (``bot_email``)?"""
    with repo_lock(cache):
        repo = pygit2.Repository(str(cache))
        head = repo.get(tip_sha)
        if not isinstance(head, pygit2.Commit):
            return Tip(tip_sha, "", False)
        bot_only = True
        walker = repo.walk(head.id, pygit2.enums.SortMode.TOPOLOGICAL)
        try:
            walker.hide(pygit2.Oid(hex=base))
        except (KeyError, ValueError, pygit2.GitError):
            pass
        for seen, commit in enumerate(walker):
            people = {commit.author.email.lower(), commit.committer.email.lower()}
            if seen >= MAX_WALK or people != {bot_email.lower()}:
                bot_only = False
                break
        return Tip(tip_sha, str(head.tree_id), bot_only)


async def taken(gh: GitHubAPI, repo: str, number: int) -> list[str]:
    """The branches already named ``selfheal/<number>-...`` (an earlier attempt's, or a
    revert's), so a new name does not collide with them."""
    owner, name = split(repo)
    refs = await gh.call("git.list_matching_refs", owner=owner, repo=name,
                         ref=f"heads/selfheal/{number}-")  # fmt: skip
    return [str(ref["ref"]).removeprefix("refs/heads/") for ref in refs or []]
