"""Finding the git repository that holds a path (pygit2, no subprocess, no asyncio).

Shared by the command-line scan, review and policy commands, which must start fast: this module
imports nothing but pygit2.
"""

from __future__ import annotations

from pathlib import Path

import pygit2


def find_repository(path: Path | str) -> pygit2.Repository | None:
    """The repository holding ``path`` (searching upwards, like git), or None if there is none."""
    try:
        found = pygit2.discover_repository(str(path))
    except pygit2.GitError:
        return None
    return pygit2.Repository(found) if found else None
