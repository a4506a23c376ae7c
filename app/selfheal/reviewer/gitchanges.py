"""A :class:`~selfheal.reviewer.changeset.ChangeSet` from a git range, read with pygit2.

Like a pull request, :func:`changeset_from_git` compares ``head`` with the merge base of the
two refs, detects renames, flags binary files and takes each file's new content from the
head tree; :func:`read_blob_text` reads one file at a ref (the policy at the base).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pygit2

from selfheal.git.discovery import find_repository
from selfheal.model.codeowners import normalize_path
from selfheal.reviewer.changeset import (
    ChangedFile,
    ChangeSet,
    ChangeSetError,
    ChangeStatus,
    Reader,
    first_exposed,
    looks_binary,
)


def _peel_commit(repo: Any, ref: str) -> Any:
    if not ref or ref.startswith("-"):
        raise ChangeSetError(f"invalid git ref {ref!r}")
    try:
        return repo.revparse_single(ref).peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError) as exc:
        raise ChangeSetError(f"unknown git ref {ref!r}: {exc}") from None


def _open(repo_path: Path) -> Any:
    repo = find_repository(repo_path)
    if repo is None:
        raise ChangeSetError(f"{repo_path} is not inside a git repository")
    return repo


def _tree_reader(repo: Any, tree: Any) -> Reader:
    def read(path: str) -> str | None:
        try:
            obj = repo[tree[normalize_path(path)].id]
        except (KeyError, ValueError):
            return None
        if not isinstance(obj, pygit2.Blob) or obj.is_binary:
            return None
        data: bytes = obj.data
        return data.decode("utf-8", "replace")

    return read


_STATUS = {
    pygit2.enums.DeltaStatus.ADDED: ChangeStatus.ADDED,
    pygit2.enums.DeltaStatus.DELETED: ChangeStatus.DELETED,
    pygit2.enums.DeltaStatus.RENAMED: ChangeStatus.RENAMED,
}


def _tree_files(repo: Any, tree: Any, prefix: str) -> Iterator[str]:
    """The file paths below ``tree``, breadth first."""
    pending: deque[tuple[str, Any]] = deque([(prefix, tree)])
    while pending:
        base, current = pending.popleft()
        for entry in current:
            path = f"{base}/{entry.name}" if base else str(entry.name)
            if entry.type_str == "tree":
                pending.append((path, repo[entry.id]))
            else:
                yield path


def _exposed(repo: Any, head_tree: Any, target: str) -> tuple[tuple[str, ...], bool]:
    """The files behind a link to ``target`` when it is a directory of the head tree."""
    try:
        tree = repo[head_tree[target].id] if target else head_tree
    except (KeyError, ValueError):
        return (), False
    if not isinstance(tree, pygit2.Tree):
        return (), False
    return first_exposed(_tree_files(repo, tree, target))


def _file_from_patch(repo: Any, patch: Any, head_tree: Any = None) -> ChangedFile:
    delta = patch.delta
    status = _STATUS.get(delta.status, ChangeStatus.MODIFIED)
    path = delta.new_file.path if status is not ChangeStatus.DELETED else delta.old_file.path
    old_path = delta.old_file.path if status is ChangeStatus.RENAMED else None
    content: bytes | None = None
    binary = bool(delta.is_binary)
    if status is not ChangeStatus.DELETED:
        obj = repo.get(delta.new_file.id)
        if isinstance(obj, pygit2.Blob):
            content = obj.data
            binary = binary or obj.is_binary or looks_binary(obj.data)
        else:  # a submodule (gitlink): nothing to scan
            binary = True
    added = frozenset(
        line.new_lineno
        for hunk in ([] if binary else patch.hunks)
        for line in hunk.lines
        if line.origin == "+" and line.new_lineno > 0
    )
    link = None
    if status is not ChangeStatus.DELETED and delta.new_file.mode == pygit2.enums.FileMode.LINK:
        link = content.decode("utf-8", "surrogateescape") if content is not None else None
    entry = ChangedFile(
        path, old_path, status, None if binary else content, added, binary, link_target=link
    )
    target = entry.resolved_link()
    if target is None or head_tree is None:
        return entry
    exposes, more = _exposed(repo, head_tree, target)
    return dataclasses.replace(entry, link_exposes=exposes, link_exposes_more=more)


# -- public functions ------------------------------------------------------------------------


def changeset_from_git(
    repo_path: Path | str, base: str, head: str = "HEAD", *, merge_base: bool = True
) -> ChangeSet:
    """The files changed from ``base`` to ``head`` (refs, tags, short or full SHAs).

    With ``merge_base`` (the default, like a pull request's "files changed"), the comparison
    starts at the merge base of the two commits, so changes that landed on ``base`` after
    ``head`` branched off are not attributed to ``head``.
    """
    repo = _open(Path(repo_path))
    base_commit, head_commit = _peel_commit(repo, base), _peel_commit(repo, head)
    start = base_commit
    if merge_base:
        found = repo.merge_base(base_commit.id, head_commit.id)
        if found is not None:
            start = repo[found]
    diff = repo.diff(start.tree, head_commit.tree, context_lines=0)
    diff.find_similar()
    files = tuple(
        _file_from_patch(repo, patch, head_commit.tree) for patch in diff if patch is not None
    )
    return ChangeSet(
        files,
        kind="git",
        base=str(start.id),
        head=str(head_commit.id),
        read=_tree_reader(repo, head_commit.tree),
    )


def read_blob_text(repo_path: Path | str, ref: str, path: str) -> bytes | None:
    """The bytes of ``path`` at ``ref`` (e.g. the policy file on the base branch), or None."""
    repo = _open(Path(repo_path))
    tree = _peel_commit(repo, ref).tree
    try:
        obj = repo[tree[path].id]
    except KeyError:
        return None
    return obj.data if isinstance(obj, pygit2.Blob) else None
