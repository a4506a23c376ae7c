"""Work trees for coders: a commit's files written out to a folder, and the folder read back
as a tree on top of that commit.

A coder edits plain files; git stays with selfheal. :func:`export_tree` writes the files of a
commit from the bare cache clone into an empty folder (regular files with their executable
bit, symbolic links as links; submodules are left out). After the coder ran,
:func:`snapshot` builds the tree of the folder on top of the same commit and lists what
changed. Paths in ``keep`` (secret files scrubbed from the folder before a coder saw it) are
taken from the base commit, so removing them from the folder is never a deletion.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pygit2

SKIPPED_DIRS = frozenset({".git"})
EXECUTABLE = pygit2.enums.FileMode.BLOB_EXECUTABLE
REGULAR = pygit2.enums.FileMode.BLOB
LINK = pygit2.enums.FileMode.LINK
GITLINK = pygit2.enums.FileMode.COMMIT  # a submodule: not exported, kept as it is


class WorkTreeError(Exception):
    """The folder cannot be exported to or read back (the message says why)."""


@dataclass(frozen=True)
class Change:
    path: str
    status: str  # "added", "modified" or "deleted"


def _commit(repo: pygit2.Repository, sha: str) -> pygit2.Commit:
    try:
        commit = repo.revparse_single(sha).peel(pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError) as exc:
        raise WorkTreeError(f"no commit {sha!r} in {repo.path}") from exc
    assert isinstance(commit, pygit2.Commit)
    return commit


def _entries(
    repo: pygit2.Repository, tree: pygit2.Tree, prefix: str = ""
) -> Iterator[tuple[str, pygit2.enums.FileMode, pygit2.Oid]]:
    for entry in tree:
        path = f"{prefix}{entry.name}"
        if entry.filemode == pygit2.enums.FileMode.TREE:
            sub = repo.get(entry.id)
            assert isinstance(sub, pygit2.Tree)
            yield from _entries(repo, sub, path + "/")
        elif entry.filemode in (REGULAR, EXECUTABLE, LINK, GITLINK):
            yield path, entry.filemode, entry.id


def export_tree(repo_path: Path, sha: str, dest: Path) -> int:
    """Write the files of commit ``sha`` into ``dest`` (which must be empty or missing);
    returns how many were written."""
    if dest.exists() and any(dest.iterdir()):
        raise WorkTreeError(f"{dest} is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    repo = pygit2.Repository(str(repo_path))
    count = 0
    for path, mode, oid in _entries(repo, _commit(repo, sha).tree):
        if mode == GITLINK:
            continue
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        blob = repo.get(oid)
        assert isinstance(blob, pygit2.Blob)
        if mode == LINK:
            os.symlink(os.fsdecode(blob.data), target)
        else:
            target.write_bytes(blob.data)
            if mode == EXECUTABLE:
                target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        count += 1
    return count


def _folder_files(root: Path) -> Iterator[tuple[str, Path]]:
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS or Path(current) != root)
        for name in dirs:  # a link to a folder is a file for git: listed, not entered
            if os.path.islink(os.path.join(current, name)):
                full = Path(current) / name
                yield full.relative_to(root).as_posix(), full
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(current, d))]
        for name in sorted(files):
            full = Path(current) / name
            yield full.relative_to(root).as_posix(), full


def _blob(repo: pygit2.Repository, full: Path) -> tuple[pygit2.Oid, pygit2.enums.FileMode] | None:
    info = full.lstat()
    if stat.S_ISLNK(info.st_mode):
        return repo.create_blob(os.fsencode(os.readlink(full))), LINK
    if stat.S_ISREG(info.st_mode):
        executable = bool(info.st_mode & stat.S_IXUSR)
        return repo.create_blob(full.read_bytes()), EXECUTABLE if executable else REGULAR
    return None  # sockets, fifos, devices: not something git stores


def snapshot(
    repo_path: Path, base_sha: str, workdir: Path, keep: Iterable[str] = ()
) -> tuple[str, list[Change]]:
    """The tree of ``workdir`` on top of commit ``base_sha`` (its hex id) and the changes.

    Blobs are written into the repository at ``repo_path``; nothing is committed."""
    repo = pygit2.Repository(str(repo_path))
    base = {path: (mode, oid) for path, mode, oid in _entries(repo, _commit(repo, base_sha).tree)}
    kept = {path: base[path] for path in keep if path in base}
    kept.update((path, entry) for path, entry in base.items() if entry[0] == GITLINK)
    index = pygit2.Index()
    seen: dict[str, tuple[pygit2.enums.FileMode, pygit2.Oid]] = {}
    for path, full in _folder_files(workdir):
        made = _blob(repo, full)
        if made is not None:
            oid, mode = made
            seen[path] = (mode, oid)
    seen.update(kept)
    for path, (mode, oid) in seen.items():
        index.add(pygit2.IndexEntry(path, oid, mode))
    tree = index.write_tree(repo)
    changes = [
        Change(path, "added" if path not in base else "modified")
        for path in sorted(seen)
        if base.get(path) != seen[path]
    ]
    changes += [Change(path, "deleted") for path in sorted(set(base) - set(seen))]
    return str(tree), sorted(changes, key=lambda c: c.path)
