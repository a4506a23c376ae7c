"""Fork networks: forking and deleting repositories, finding a PR's head repository, and the
read-only ``refs/pull/<number>/head`` ref every pull request keeps in its base repository.

A fork is a new bare repository holding a copy of its parent's branches and tags. A pull
request from a fork lives in the base repository; its head commit (and everything it reaches)
is copied into the base repository whenever the head moves, so ``refs/pull/N/head`` there can
point at it and the merge, files and commits endpoints read the base repository only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from . import gitdata
from .state import Issue, Repo, User

if TYPE_CHECKING:
    from .emulator import Emulator


def network(repo: Repo) -> Iterator[Repo]:
    """Every live repository in ``repo``'s fork network, the root first."""
    pending = [repo.source]
    while pending:
        current = pending.pop(0)
        if not current.deleted:
            yield current
        pending.extend(current.forks)


def head_repo_for(base: Repo, owner: str, name: str | None = None) -> Repo | None:
    """The repository of ``owner`` (named ``name``, if given) in ``base``'s network."""
    if name is None and owner.lower() == base.owner.login.lower():
        return base
    for candidate in network(base):
        if candidate.owner.login.lower() != owner.lower():
            continue
        if name is None or candidate.name.lower() == name.lower():
            return candidate
    return None


def fork(
    emu: Emulator,
    parent: Repo,
    owner: User,
    name: str | None = None,
    *,
    default_branch_only: bool = False,
) -> tuple[Repo, bool]:
    """Fork ``parent`` into ``owner``'s account; (the fork, whether it is new). An account
    has at most one fork of a repository: forking again answers the existing one, as GitHub
    does. A name taken by another repository gets a ``-1``, ``-2``... suffix. The caller
    sends the ``fork`` webhook."""
    for other in parent.forks:  # one fork of a repository per account
        if other.owner is owner:
            return other, False
    wanted = name or parent.name
    candidate, suffix = wanted, 0
    while emu.world.repo(owner.login, candidate) is not None:
        suffix += 1
        candidate = f"{wanted}-{suffix}"
    path = emu.root / "git" / owner.login / f"{candidate}.git"
    path.parent.mkdir(parents=True, exist_ok=True)
    gitdata.copy_repo(parent.path, path, parent.default_branch, only_default=default_branch_only)
    child = Repo(
        id=emu.world.next_id(),
        owner=owner,
        name=candidate,
        path=path,
        default_branch=parent.default_branch,
        private=parent.private,
        description=parent.description,
        parent=parent,
    )
    child.collaborators.update(emu.default_permissions)
    if parent.private:  # private forks inherit the parent's permission structure
        for login, role in parent.collaborators.items():
            child.collaborators.setdefault(login, role)
    parent.forks.append(child)
    emu.world.repos[child.full_name.lower()] = child
    return child, True


def delete(emu: Emulator, repo: Repo) -> None:
    """Delete ``repo``: it leaves the world, its installations and its network (its forks
    move up to its parent). Open PRs elsewhere whose head was in it stay open, with
    ``head.repo`` null, and their ``refs/pull/N/head`` keeps the last head commit."""
    repo.deleted = True
    emu.world.repos.pop(repo.full_name.lower(), None)
    for inst in emu.world.installations.values():
        if repo.full_name in inst.repos:
            inst.repos.remove(repo.full_name)
    if repo.parent is not None:
        repo.parent.forks.remove(repo)
        repo.parent.forks.extend(repo.forks)
    for child in repo.forks:
        child.parent = repo.parent
    repo.forks = []
    gitdata.remove_repo(repo.path)


def pulls_headed_at(repo: Repo, branch: str) -> list[tuple[Repo, Issue]]:
    """Open pull requests (base repository, PR) whose head branch is ``repo``'s ``branch``."""
    found: list[tuple[Repo, Issue]] = []
    for base in network(repo):
        for issue in base.issues.values():
            pr = issue.pull
            if pr is None or issue.state != "open" or pr.head_ref != branch:
                continue
            if (pr.head_repo or base) is repo:
                found.append((base, issue))
    return found


def track_head(base: Repo, issue: Issue, sha: str) -> None:
    """Point ``refs/pull/N/head`` in ``base`` at ``sha``, first copying the commit from the
    fork when the head branch lives in one."""
    pr = issue.pull
    assert pr is not None
    git = gitdata.open_repo(base.path)
    if pr.head_repo is not None and not pr.head_repo.deleted:
        gitdata.import_commit(git, pr.head_repo.path, sha)
    gitdata.set_ref(git, gitdata.pull_head_ref(issue.number), sha)
