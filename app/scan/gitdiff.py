"""Which files and lines changed in a working tree since a git ref (``selfheal scan --base``).

The diff is REF's tree against the working directory (committed, staged and unstaged edits,
plus untracked files that are not ignored), with zero context lines; only added or modified
lines count. Deleted files are not reported: there is nothing left to scan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pygit2

from app.cli import UsageError

DIFF_FLAGS = (
    pygit2.enums.DiffOption.INCLUDE_UNTRACKED
    | pygit2.enums.DiffOption.RECURSE_UNTRACKED_DIRS
    | pygit2.enums.DiffOption.SHOW_UNTRACKED_CONTENT
    | pygit2.enums.DiffOption.INCLUDE_TYPECHANGE
)
ADDED_ORIGIN = "+"


def _open_repo(root: Path) -> tuple[Any, str]:
    try:
        found = pygit2.discover_repository(str(root))
    except pygit2.GitError:
        found = None
    if not found:
        raise UsageError(f"--base needs a git repository, and {root} is not inside one")
    repo = pygit2.Repository(found)
    if repo.is_bare or not repo.workdir:
        raise UsageError(f"--base needs a work tree; {found} is a bare repository")
    workdir = Path(repo.workdir).resolve()
    try:
        prefix = root.resolve().relative_to(workdir).as_posix()
    except ValueError as exc:
        raise UsageError(f"{root} is outside the work tree {workdir}") from exc
    return repo, "" if prefix == "." else prefix + "/"


def ignore_context(root: Path) -> tuple[Any, str, frozenset[str]] | None:
    """For ignore checks: (repository, root's prefix in the work tree, tracked paths) or None.

    Tracked paths are every file in the index and every directory that holds one: those are
    scanned even when an ignore rule matches them.
    """
    try:
        found = pygit2.discover_repository(str(root))
    except pygit2.GitError:
        return None
    if not found:
        return None
    try:
        repo = pygit2.Repository(found)
    except pygit2.GitError:
        return None
    if repo.is_bare or not repo.workdir:
        return None
    workdir = Path(repo.workdir).resolve()
    try:
        prefix = root.resolve().relative_to(workdir).as_posix()
    except ValueError:
        return None
    prefix = "" if prefix == "." else prefix + "/"
    tracked: set[str] = set()
    try:
        for entry in repo.index:
            tracked.add(entry.path)
            parts = entry.path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                tracked.add("/".join(parts[:i]))
    except pygit2.GitError:
        pass
    return repo, prefix, frozenset(tracked)


def resolve_tree(repo: Any, ref: str) -> Any:
    """The tree of ``ref`` (a branch, tag, sha or any rev-parse expression) or UsageError."""
    if ref.startswith("-"):
        raise UsageError(f"invalid git ref {ref!r}")
    try:
        obj = repo.revparse_single(ref)
        return obj.peel(pygit2.Tree)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError) as exc:
        raise UsageError(f"unknown git ref {ref!r}: {exc}") from exc


def changed_lines_since(root: Path, ref: str) -> dict[str, frozenset[int]]:
    """Map root-relative paths to the 1-based line numbers added or changed since ``ref``.

    A changed file whose lines cannot be listed (binary, or a pure mode change) maps to an
    empty set. Raises UsageError when there is no repository or the ref is unknown.
    """
    repo, prefix = _open_repo(root)
    tree = resolve_tree(repo, ref)
    diff = tree.diff_to_workdir(DIFF_FLAGS, 0, 0)
    changed: dict[str, frozenset[int]] = {}
    for patch in diff:
        if patch is None:
            continue
        delta = patch.delta
        if delta.status == pygit2.enums.DeltaStatus.DELETED:
            continue
        path = delta.new_file.path
        if not path.startswith(prefix):
            continue
        lines = {
            line.new_lineno
            for hunk in patch.hunks
            for line in hunk.lines
            if line.origin == ADDED_ORIGIN and line.new_lineno > 0
        }
        changed[path[len(prefix) :]] = frozenset(lines)
    return changed
