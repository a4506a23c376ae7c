"""Which files and lines changed in a working tree since a git ref (``selfheal scan --base``).

The diff is REF's tree against the working directory (committed, staged and unstaged edits,
plus untracked files that are not ignored), with zero context lines; only added or modified
lines count. Deleted files are not reported: there is nothing left to scan.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pygit2

from selfheal.git.discovery import find_repository
from selfheal.scanner import ScanInputError

DIFF_FLAGS = (
    pygit2.enums.DiffOption.INCLUDE_UNTRACKED
    | pygit2.enums.DiffOption.RECURSE_UNTRACKED_DIRS
    | pygit2.enums.DiffOption.SHOW_UNTRACKED_CONTENT
    | pygit2.enums.DiffOption.INCLUDE_TYPECHANGE
)
ADDED_ORIGIN = "+"


def _open_repo(root: Path) -> tuple[Any, str]:
    """The repository whose work tree holds ``root``, and root's prefix in it ("" or "dir/")."""
    repo = find_repository(root)
    if repo is None:
        raise ScanInputError(f"--base needs a git repository, and {root} is not inside one")
    if repo.is_bare or not repo.workdir:
        raise ScanInputError(f"--base needs a work tree; {repo.path} is a bare repository")
    workdir = Path(repo.workdir).resolve()
    try:
        prefix = root.resolve().relative_to(workdir).as_posix()
    except ValueError as exc:
        raise ScanInputError(f"{root} is outside the work tree {workdir}") from exc
    return repo, "" if prefix == "." else prefix + "/"


def ignore_context(root: Path) -> tuple[Any, str, frozenset[str]] | None:
    """For ignore checks: (repository, root's prefix in the work tree, tracked paths) or None.

    Tracked paths are every file in the index and every directory that holds one: those are
    scanned even when an ignore rule matches them.
    """
    try:
        repo, prefix = _open_repo(root)
    except (ScanInputError, pygit2.GitError):
        return None  # no work tree around root: no ignore rules apply
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
    """The tree of ``ref`` (a branch, tag, sha or any rev-parse expression) or ScanInputError."""
    if ref.startswith("-"):
        raise ScanInputError(f"invalid git ref {ref!r}")
    try:
        obj = repo.revparse_single(ref)
        return obj.peel(pygit2.Tree)
    except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError) as exc:
        raise ScanInputError(f"unknown git ref {ref!r}: {exc}") from exc


def _candidate_paths(repo: Any, tree: Any) -> set[str]:
    """Work-tree paths that may differ from ``tree``: staged changes (tree against the index)
    plus unstaged and untracked ones (index against the work tree). The second diff uses the
    index's stat cache, so unchanged files are not read: this is what keeps a diff-aware scan
    of a large tree fast (a plain tree-to-workdir diff hashes every file)."""
    index = repo.index
    paths: set[str] = set()
    for diff in (tree.diff_to_index(index, DIFF_FLAGS), index.diff_to_workdir(DIFF_FLAGS)):
        for delta in diff.deltas:
            if delta.status != pygit2.enums.DeltaStatus.DELETED:
                paths.add(delta.new_file.path)
    return paths


def _workdir_bytes(workdir: Path, path: str) -> bytes | None:
    """The file's content as git sees it (a symlink's target text), or None when it is gone."""
    full = workdir / path
    try:
        if full.is_symlink():
            return os.readlink(full).encode("utf-8", "surrogateescape")
        return full.read_bytes() if full.is_file() else None
    except OSError:
        return None


def _old_blob(tree: Any, path: str) -> Any:
    try:
        entry = tree[path]
    except KeyError:
        return None
    return entry if entry.type == pygit2.enums.ObjectType.BLOB else None


def changed_lines_since(root: Path, ref: str) -> dict[str, frozenset[int]]:
    """Map root-relative paths to the 1-based line numbers added or changed since ``ref``.

    A changed file whose lines cannot be listed (binary, or a pure mode change) maps to an
    empty set. Raises ScanInputError when there is no repository or the ref is unknown.
    """
    repo, prefix = _open_repo(root)
    tree = resolve_tree(repo, ref)
    workdir = Path(repo.workdir)
    changed: dict[str, frozenset[int]] = {}
    for path in sorted(_candidate_paths(repo, tree)):
        if not path.startswith(prefix):
            continue
        new = _workdir_bytes(workdir, path)
        if new is None:
            continue  # deleted in the work tree
        old = _old_blob(tree, path)
        if old is not None and old.data == new:
            continue  # staged, then changed back
        patch = pygit2.Patch.create_from(
            old, new, old_as_path=path, new_as_path=path, context_lines=0, interhunk_lines=0
        )
        lines = {
            line.new_lineno
            for hunk in patch.hunks
            for line in hunk.lines
            if line.origin == ADDED_ORIGIN and line.new_lineno > 0
        }
        changed[path[len(prefix) :]] = frozenset(lines)
    return changed
