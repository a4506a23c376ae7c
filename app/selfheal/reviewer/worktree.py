"""Complete a diff's fragments with the real files of a work tree, when they provably match.

A unified diff shows only some lines of a modified file; the reviewer rebuilds the rest as
blank lines, which keeps line numbers right but can hide code from parsers (an indented
hunk is not valid Python on its own). When the diff was made from the work tree being
reviewed (the usual ``git diff > change.diff``), the file on disk IS the new version: this
module swaps it in, but only when every line the diff shows is identical, at the same line
number, in the file on disk. Paths never leave the tree (symlinks are resolved and checked),
only regular files up to a size limit are read, and anything doubtful keeps the fragment.

A diff carries no tree, so the files behind a symbolic link to a directory
(``ChangedFile.link_exposes``) are listed from the work tree too, when the directory is there.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

from selfheal.model.codeowners import normalize_path
from selfheal.reviewer.changeset import ChangedFile, ChangeSet, ChangeStatus, first_exposed

MAX_FILE_BYTES = 8 * 1024 * 1024
LINE_ENDINGS = b"\r\n"


# -- helpers ---------------------------------------------------------------------------------


def _inside(root: Path, path: str) -> Path | None:
    """The real path of ``path`` under ``root``, or None if it is missing or escapes."""
    try:
        full = (root / path).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return full if full == root or root in full.parents else None


def _read(root: Path, path: str) -> bytes | None:
    full = _inside(root, path)
    if full is None or not full.is_file():
        return None
    try:
        if full.stat().st_size > MAX_FILE_BYTES:
            return None
        return full.read_bytes()
    except OSError:
        return None


def _matches(fragment: ChangedFile, disk: bytes) -> bool:
    """Every line the diff shows is the same line, at the same number, on disk."""
    assert fragment.content is not None
    shown = fragment.content.split(b"\n")
    lines = disk.split(b"\n")
    for n in fragment.shown_lines:
        if n > len(lines) or n > len(shown):
            return False
        if lines[n - 1].rstrip(LINE_ENDINGS) != shown[n - 1].rstrip(LINE_ENDINGS):
            return False
    return bool(fragment.shown_lines)


def _complete(change: ChangedFile, root: Path) -> ChangedFile:
    if change.complete or change.content is None or change.status is ChangeStatus.DELETED:
        return change
    disk = _read(root, change.path)
    if disk is None or not _matches(change, disk):
        return change
    return dataclasses.replace(change, content=disk, complete=True)


def _directory_files(root: Path, directory: Path) -> Iterator[str]:
    """The files below ``directory`` (links not followed, ``.git`` left out), as repository
    paths."""
    for current, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(names):
            yield normalize_path(os.path.relpath(os.path.join(current, name), root))


def _exposed(change: ChangedFile, root: Path) -> ChangedFile:
    target = change.resolved_link()
    if target is None or change.link_exposes or change.link_escapes:
        return change
    full = _inside(root, target)
    if full is None or not full.is_dir():
        return change
    exposes, more = first_exposed(_directory_files(root, full))
    return dataclasses.replace(change, link_exposes=exposes, link_exposes_more=more)


# -- public functions ------------------------------------------------------------------------


def complete_from_worktree(changes: ChangeSet, root: Path) -> ChangeSet:
    """``changes`` with provably matching work-tree files in place of diff fragments, and the
    files behind links to directories; the reader also serves other files of the tree
    (``-r`` includes)."""
    real_root = root.resolve()
    files = tuple(_exposed(_complete(change, real_root), real_root) for change in changes.files)
    contents = {f.path: f.content for f in files if f.content is not None}

    def read(path: str) -> str | None:
        rel = normalize_path(path)
        data = contents.get(rel)
        if data is None:
            data = _read(real_root, rel)
        return data.decode("utf-8", "replace") if data is not None else None

    return dataclasses.replace(changes, files=files, read=read)
