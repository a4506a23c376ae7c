"""What a change touches: a :class:`ChangeSet` of :class:`ChangedFile` entries.

Three sources, one shape:

* :func:`~selfheal.reviewer.gitchanges.changeset_from_git` reads a range ``base..head`` of a
  repository with pygit2 (no git subprocess). Like a pull request, it compares ``head`` with
  the merge base of the two refs, detects renames, flags binary files and takes each file's
  new content from the head tree;
* :func:`~selfheal.reviewer.diffparse.changeset_from_diff` parses a unified diff;
* :func:`changeset_from_paths` lists target paths, for a request reviewed before any code
  exists (only the path policy applies).

This module is the pure model (no git, no files); the readers live with their sources.
"""

from __future__ import annotations

import enum
import itertools
import posixpath
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

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
