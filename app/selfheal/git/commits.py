"""Commits and pushes the bot makes: its identity, trailers, branch names, pushes with the
installation token, and reverts.

Everything works on the bare cache clone of :mod:`selfheal.git.clones`. A push hands the
token to libgit2 only through the credentials callback (never in a URL, never on disk) and
masks it in any error. A push the server refuses for a ref (a protected branch, a
non-fast-forward) is an error, not a silent success.
"""

from __future__ import annotations

import asyncio
import re
import time
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pygit2

from selfheal.git.clones import TOKEN_USER, GitOpsError, repo_lock
from selfheal.model.markdown import defuse_closing_keywords

DEFAULT_BRANCH_TEMPLATE = "selfheal/{issue}-{slug}"
SLUG_MAX = 40
TRAILER_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Identity:
    name: str
    email: str

    def signature(self, when: float | None = None) -> pygit2.Signature:
        return pygit2.Signature(self.name, self.email, int(when or time.time()), 0)


def bot_identity(slug: str, user_id: int | None = None) -> Identity:
    """The App's bot as GitHub shows it: ``<slug>[bot]``, with the noreply address GitHub
    links to the bot account when the bot user's id is known."""
    login = f"{slug}[bot]"
    email = (
        f"{user_id}+{login}@users.noreply.github.com"
        if user_id
        else f"{login}@users.noreply.github.com"
    )
    return Identity(login, email)


def commit_message(subject: str, body: str = "", trailers: Mapping[str, str] = {}) -> str:
    """A commit message with git trailers. Subjects and values are single lines (newlines
    and other control characters become spaces), so text from an issue cannot forge a
    trailer or a second paragraph; and no closing keyword in the subject or the body is left
    before an issue reference, so text from an issue or a model cannot close an issue when
    the commit reaches the default branch."""

    def line(text: str) -> str:
        return " ".join("".join(" " if unicodedata.category(ch)[0] == "C" else ch
                                for ch in text).split())  # fmt: skip

    parts = [defuse_closing_keywords(line(subject)[:72]) or "selfheal change"]
    if body.strip():
        parts.append(defuse_closing_keywords(body.strip()))
    if trailers:
        for key in trailers:
            if not TRAILER_KEY.match(key):
                raise ValueError(f"not a trailer key: {key!r}")
        parts.append("\n".join(f"{key}: {line(value)}" for key, value in trailers.items()))
    return "\n\n".join(parts) + "\n"


def branch_name(
    issue: int, title: str, taken: Iterable[str] = (), template: str = DEFAULT_BRANCH_TEMPLATE
) -> str:
    """``selfheal/<issue>-<slug>`` (``template`` may reorder ``{issue}`` and ``{slug}``),
    with ``-2``, ``-3`` ... when the name is taken."""
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    slug = _NOT_SLUG.sub("-", folded).strip("-")[:SLUG_MAX].strip("-") or "change"
    base = template.format(issue=int(issue), slug=slug)
    if not pygit2.reference_is_valid_name(f"refs/heads/{base}"):
        raise ValueError(f"the branch template gives an invalid name: {base!r}")
    used = {name.lower() for name in taken}
    name, n = base, 1
    while name.lower() in used:
        n += 1
        name = f"{base}-{n}"
    return name


def commit_on(
    repo_path: Path,
    parent: str,
    tree: str,
    message: str,
    author: Identity,
    *,
    when: float | None = None,
) -> str:
    """Create a commit of ``tree`` on ``parent`` (no ref is moved); returns its id."""
    with repo_lock(repo_path):
        repo = pygit2.Repository(str(repo_path))
        sig = author.signature(when)
        oid = repo.create_commit(
            None, sig, sig, message, pygit2.Oid(hex=tree), [pygit2.Oid(hex=parent)]
        )
        return str(oid)


def revert_on(repo_path: Path, commit: str, onto: str, message: str, author: Identity) -> str:
    """A commit on ``onto`` that undoes ``commit`` (for a merge commit, against its first
    parent). Raises :class:`GitOpsError` when the revert does not apply cleanly."""
    with repo_lock(repo_path):
        repo = pygit2.Repository(str(repo_path))
        undo, ours = repo.get(commit), repo.get(onto)
        if not isinstance(undo, pygit2.Commit) or not isinstance(ours, pygit2.Commit):
            raise GitOpsError(f"revert needs two commits, got {commit!r} and {onto!r}")
        mainline = 1 if len(undo.parents) > 1 else 0
        index = repo.revert_commit(undo, ours, mainline)
        if index.conflicts is not None:
            raise GitOpsError(f"reverting {commit[:12]} conflicts with {onto[:12]}")
        tree = index.write_tree(repo)
        sig = author.signature()
        return str(repo.create_commit(None, sig, sig, message, tree, [ours.id]))


class _PushCallbacks(pygit2.RemoteCallbacks):
    """Credentials for the push, and the server's answer for each ref."""

    def __init__(self, token: str | None) -> None:
        super().__init__(credentials=pygit2.UserPass(TOKEN_USER, token) if token else None)
        self.rejected: dict[str, str] = {}

    def push_update_reference(self, refname: str, message: str | None) -> None:
        if message:
            self.rejected[refname] = message


PUSH_NAMESPACE = "refs/selfheal/push/"


def push_sync(
    repo_path: Path,
    url: str,
    branches: Mapping[str, str | None],
    token: str | None,
    *,
    force: bool = False,
) -> None:
    """Set each branch of ``branches`` on ``url`` to its commit (None deletes the branch).
    Without ``force`` only fast-forwards are made. Raises :class:`GitOpsError` (token
    masked) when the push fails or the server refuses a ref."""
    with repo_lock(repo_path):
        repo = pygit2.Repository(str(repo_path))
        specs = []
        for branch, sha in branches.items():
            target = f"refs/heads/{branch}"
            if not pygit2.reference_is_valid_name(target):
                raise GitOpsError(f"not a branch name: {branch!r}")
            if sha is None:
                specs.append(f":{target}")
                continue
            local = PUSH_NAMESPACE + branch  # libgit2 pushes refs, not bare commit ids
            repo.references.create(local, pygit2.Oid(hex=sha), force=True)
            specs.append(f"{'+' if force else ''}{local}:{target}")
        callbacks = _PushCallbacks(token)
        remote = repo.remotes.create_anonymous(url)
        try:
            remote.push(specs, callbacks=callbacks)
        except (pygit2.GitError, KeyError, ValueError) as exc:
            message = str(exc).replace(token, "***") if token else str(exc)
            raise GitOpsError(f"git push to {url} failed: {message}") from None
    if callbacks.rejected:
        ref, why = next(iter(callbacks.rejected.items()))
        raise GitOpsError(f"git push to {url}: {ref} was refused: {why}")


async def push(
    repo_path: Path,
    url: str,
    branches: Mapping[str, str | None],
    token: str | None,
    *,
    force: bool = False,
) -> None:
    """Async :func:`push_sync` (blocking git work runs in a thread)."""
    await asyncio.to_thread(push_sync, repo_path, url, branches, token, force=force)
