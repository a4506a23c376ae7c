"""What a change touches: a :class:`ChangeSet` of :class:`ChangedFile` entries.

Three sources, one shape:

* :func:`changeset_from_git` reads a range ``base..head`` of a repository with pygit2 (no git
  subprocess). Like a pull request, it compares ``head`` with the merge base of the two refs,
  detects renames, flags binary files and takes each file's new content from the head tree;
* :func:`changeset_from_diff` (in :mod:`app.review.diffparse`) parses a unified diff;
* :func:`changeset_from_paths` lists target paths, for a request reviewed before any code
  exists (only the path policy applies).
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import posixpath
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygit2

from selfheal.git.discovery import find_repository
from selfheal.model.codeowners import normalize_path

BINARY_SNIFF_BYTES = 8000
# Files listed behind a symbolic link to a directory; past this the link needs a person.
LINK_EXPOSE_LIMIT = 5000
Reader = Callable[[str], str | None]


class ChangeStatus(enum.StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"
    RENAMED = "renamed"


class ChangeSetError(ValueError):
    """The change cannot be read (unknown ref, not a repository ...): a usage error."""


@dataclass(frozen=True, slots=True)
class ChangedFile:
    """One changed path. ``content`` is the new version (None when deleted, binary or unknown);
    ``added_lines`` are the 1-based line numbers, in the new version, that were added or
    changed; only those lines may produce code findings."""

    path: str
    old_path: str | None = None
    status: ChangeStatus = ChangeStatus.MODIFIED
    content: bytes | None = None
    added_lines: frozenset[int] = frozenset()
    binary: bool = False
    # False when ``content`` was rebuilt from a diff's hunks: lines the diff does not show
    # are blank, so structured files (TOML, lock files) may not parse. ``shown_lines`` are
    # the new-side lines the diff did show (context and added).
    complete: bool = True
    shown_lines: frozenset[int] = frozenset()
    # For a symbolic link (mode 120000): where it points, as stored in the link.
    link_target: str | None = None
    # For a link to a directory of the new tree (git ranges only): the files a tool that
    # follows the link reaches through it, at most LINK_EXPOSE_LIMIT of them, and whether
    # there were more.
    link_exposes: tuple[str, ...] = ()
    link_exposes_more: bool = False

    @property
    def paths(self) -> tuple[str, ...]:
        """Every path the change touches (a rename touches the old and the new one; a
        symbolic link also touches what it points to, so a link cannot open a protected
        path to tools that follow links)."""
        paths = [self.path]
        if self.old_path and self.old_path != self.path:
            paths.insert(0, self.old_path)
        target = self.resolved_link()
        if target and target not in paths:
            paths.append(target)
        return tuple(paths)

    def resolved_link(self) -> str | None:
        """The link target as a repository path (``..`` above the root stops at the root)."""
        if self.link_target is None:
            return None
        return normalize_path(posixpath.join(posixpath.dirname(self.path), self.link_target))

    @property
    def link_escapes(self) -> bool:
        """True for a link to an absolute path or one above the repository root."""
        if self.link_target is None:
            return False
        target = self.link_target.replace("\\", "/")
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(self.path), target))
        return target.startswith("/") or joined == ".." or joined.startswith("../")


@dataclass(frozen=True, slots=True)
class ChangeSet:
    files: tuple[ChangedFile, ...]
    kind: str = "paths"  # "git" | "diff" | "paths"
    base: str | None = None
    head: str | None = None
    # Text of any repository path in the new version (for `-r` includes); None = unknown.
    read: Reader | None = field(default=None, compare=False)

    @property
    def paths(self) -> list[str]:
        return [f.path for f in self.files]


# -- helpers ---------------------------------------------------------------------------------


def looks_binary(data: bytes) -> bool:
    return b"\0" in data[:BINARY_SNIFF_BYTES]


def first_exposed(paths: Iterable[str]) -> tuple[tuple[str, ...], bool]:
    """The first LINK_EXPOSE_LIMIT of the files behind a link to a directory, and whether
    there were more."""
    found = tuple(itertools.islice(paths, LINK_EXPOSE_LIMIT + 1))
    return found[:LINK_EXPOSE_LIMIT], len(found) > LINK_EXPOSE_LIMIT


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


def changeset_from_paths(paths: Iterable[str]) -> ChangeSet:
    """Target paths of a request not yet coded: path checks only, nothing to scan."""
    seen: dict[str, ChangedFile] = {}
    for raw in paths:
        path = normalize_path(raw.strip())
        if not path:
            raise ChangeSetError(f"empty target path {raw!r}")
        seen.setdefault(path, ChangedFile(path))
    return ChangeSet(tuple(seen.values()), kind="paths")


def changeset_from_files(files: Sequence[ChangedFile], *, kind: str = "diff") -> ChangeSet:
    """A change set from already-built entries; ``read`` serves their new contents."""
    texts = {f.path: f.content for f in files if f.content is not None}

    def read(path: str) -> str | None:
        data = texts.get(normalize_path(path))
        return data.decode("utf-8", "replace") if data is not None else None

    return ChangeSet(tuple(files), kind=kind, read=read)
