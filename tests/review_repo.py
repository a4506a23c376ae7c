"""Build real git repositories with pygit2 for the reviewer tests (no git subprocess)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pygit2

SIGNATURE = pygit2.Signature("Test Person", "test@example.com", 1_700_000_000, 0)


class GitRepo:
    """A repository in ``path`` whose commits are built from in-memory file maps."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.repo = pygit2.init_repository(str(path), bare=False, initial_head="main")

    def commit(
        self,
        files: Mapping[str, bytes | str | None],
        message: str = "change",
        *,
        parent: str | None = None,
        ref: str | None = "refs/heads/main",
    ) -> str:
        """Apply ``files`` (None deletes) on top of ``parent`` (default: ``ref``'s tip)."""
        index = pygit2.Index()
        parents: list[pygit2.Oid] = []
        if parent is None and ref is not None and ref in self.repo.references:
            parent = str(self.repo.references[ref].target)
        if parent is not None:
            commit = self.repo[parent].peel(pygit2.Commit)
            index.read_tree(commit.tree)
            parents.append(commit.id)
        for path, data in files.items():
            if data is None:
                index.remove(path)
                continue
            raw = data.encode() if isinstance(data, str) else data
            blob = self.repo.create_blob(raw)
            index.add(pygit2.IndexEntry(path, blob, pygit2.enums.FileMode.BLOB))
        tree = index.write_tree(self.repo)
        oid = self.repo.create_commit(ref, SIGNATURE, SIGNATURE, message, tree, parents)
        return str(oid)

    def branch(self, name: str, at: str) -> None:
        self.repo.references.create(f"refs/heads/{name}", pygit2.Oid(hex=at), force=True)
