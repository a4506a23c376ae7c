"""Local git for the gate: one bare cache repository per GitHub repository, fetched with pygit2.

The cache lives under ``<data dir>/repos/<owner>/<name>.git``. Fetches use an anonymous remote
(nothing is written to the repository's config) and a credentials callback that hands the
installation token to libgit2 only when the server asks; the URL never carries it, and errors
are re-raised with the token masked. Blocking pygit2 work runs in a thread.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Sequence
from pathlib import Path

import pygit2

TOKEN_USER = "x-access-token"  # noqa: S105 (the user name GitHub expects)
SAFE_PART = re.compile(r"^[A-Za-z0-9._-]+$")
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


class GitOpsError(Exception):
    """A fetch failed or a commit is missing (the message never contains a token)."""


def cache_path(data_dir: Path, full_name: str) -> Path:
    """``<data_dir>/repos/<owner>/<name>.git``; refuses names that could escape the dir."""
    parts = full_name.split("/")
    if len(parts) != 2 or not all(SAFE_PART.match(p) and p not in (".", "..") for p in parts):
        raise GitOpsError(f"not a repository name: {full_name!r}")
    return data_dir / "repos" / parts[0] / f"{parts[1]}.git"


def repo_lock(path: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(str(path), threading.Lock())


def _open_or_init(path: Path) -> pygit2.Repository:
    if (path / "HEAD").exists():
        return pygit2.Repository(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    return pygit2.init_repository(str(path), bare=True)


def has_commit(repo: pygit2.Repository, sha: str) -> bool:
    try:
        return isinstance(repo.get(sha), pygit2.Commit)
    except (ValueError, KeyError):
        return False


def fetch_sync(
    path: Path, url: str, refspecs: Sequence[str], token: str | None, want: Sequence[str] = ()
) -> Path:
    """Fetch ``refspecs`` from ``url`` into the bare cache at ``path`` (created if needed).

    Skips the network when every commit in ``want`` is already present. Raises
    :class:`GitOpsError` when the fetch fails or a wanted commit is still missing.
    """
    with repo_lock(path):
        repo = _open_or_init(path)
        if want and all(has_commit(repo, sha) for sha in want):
            return path
        callbacks = pygit2.RemoteCallbacks(
            credentials=pygit2.UserPass(TOKEN_USER, token) if token else None
        )
        remote = repo.remotes.create_anonymous(url)
        try:
            remote.fetch(list(refspecs), callbacks=callbacks)
        except (pygit2.GitError, KeyError, ValueError) as exc:
            message = str(exc)
            if token:
                message = message.replace(token, "***")
            raise GitOpsError(f"git fetch from {url} failed: {message}") from None
        missing = [sha for sha in want if not has_commit(repo, sha)]
        if missing:
            raise GitOpsError(f"commit {missing[0]} is not on the fetched branches (force-pushed?)")
    return path


async def fetch(
    data_dir: Path,
    full_name: str,
    url: str,
    refspecs: Sequence[str],
    token: str | None,
    want: Sequence[str] = (),
) -> Path:
    """Async :func:`fetch_sync` into the cache of ``full_name``; returns the cache path."""
    path = cache_path(data_dir, full_name)
    return await asyncio.to_thread(fetch_sync, path, url, refspecs, token, want)


def branch_refspec(branch: str, namespace: str = "origin") -> str:
    """``+refs/heads/B:refs/remotes/<namespace>/B``."""
    return f"+refs/heads/{branch}:refs/remotes/{namespace}/{branch}"
