"""Build real git repositories with pygit2 for the reviewer tests (no git subprocess)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pygit2

from selfheal.emulator.gitdata import write_files

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
        base: pygit2.Tree | None = None
        parents: list[pygit2.Oid] = []
        if parent is None and ref is not None and ref in self.repo.references:
            parent = str(self.repo.references[ref].target)
        if parent is not None:
            commit = self.repo[parent].peel(pygit2.Commit)
            base = commit.tree
            parents.append(commit.id)
        tree = write_files(self.repo, files, base)
        oid = self.repo.create_commit(ref, SIGNATURE, SIGNATURE, message, tree, parents)
        return str(oid)

    def branch(self, name: str, at: str) -> None:
        self.repo.references.create(f"refs/heads/{name}", pygit2.Oid(hex=at), force=True)
