"""Halt state: whether a repository is halted, and which lock label it uses.

A repository is halted while any OPEN issue carries the lock label (``halt_label`` in
``.github/selfheal.yml``, default ``selfheal:halt``). The state comes from GitHub (a search
``repo:O/R is:issue is:open label:"..."``) and is cached in the ledger (effect record
``halt:<repo>``), kept current by the ``issues`` events (see :mod:`selfheal.halt.events`) so
that search-index lag never matters. Other features call :func:`is_halted` before starting
work.

A halt must take effect even when the configuration cannot be read (an empty repository, a
broken file, GitHub failing): then both the default label and the last label name that was
read successfully halt (:func:`halt_labels`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import gidgethub

from selfheal.github.client import GitHubGaveUp
from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import repo_config
from selfheal.ledger import effects
from selfheal.model.labels import HALT_LABEL
from selfheal.model.repo_config import RepoConfig, TextCache
from selfheal.runtime.context import JobContext

KIND = "halt_state"
LABEL_KIND = "halt_label"
# What reading the configuration can fail with, short of a bug: GitHub's answers (an empty
# repository's missing branch is a 404) and the client giving up after its retries.
UNREADABLE = (gidgethub.GitHubException, GitHubGaveUp)

Labels = tuple[str, ...]


def _key(repo: str) -> str:
    return f"halt:{repo.lower()}"


def _label_key(repo: str) -> str:
    return f"halt-label:{repo.lower()}"


def label_set(names: Iterable[str]) -> Labels:
    """Distinct names (case-insensitively, as GitHub compares labels), in a stable order."""
    unique = {name.lower(): name for name in names}
    return tuple(unique[key] for key in sorted(unique))


def search_query(repo: str, label: str) -> str:
    return f'repo:{repo} is:issue is:open label:"{label}"'


async def halt_label(
    gh: GitHubAPI, repo: str, cache: TextCache | None = None, default_branch: str | None = None
) -> str:
    """The configured lock label; the default when the config cannot be read or is broken
    (fail closed towards halting on the well-known label)."""
    try:
        config = await repo_config(gh, repo, cache, default_branch)
    except UNREADABLE:
        return HALT_LABEL
    return config.halt_label if isinstance(config, RepoConfig) else HALT_LABEL


async def halt_labels(
    ctx: JobContext, gh: GitHubAPI, repo: str, default_branch: str | None = None
) -> Labels:
    """The labels that halt ``repo`` now: the configured one; when the configuration cannot
    be read, the default and the last name that was read successfully."""
    try:
        config = await repo_config(gh, repo, ctx.caches.config_text, default_branch)
    except UNREADABLE:
        config = None
    if isinstance(config, RepoConfig):
        await _remember_label(ctx, repo, config.halt_label)
        return (config.halt_label,)
    last = await ctx.ledger.aread(lambda c: effects.get_effect(c, _label_key(repo)))
    known = [str(last.data["label"])] if last is not None and last.data.get("label") else []
    return label_set([HALT_LABEL, *known])


async def _remember_label(ctx: JobContext, repo: str, label: str) -> None:
    key = _label_key(repo)
    last = await ctx.ledger.aread(lambda c: effects.get_effect(c, key))
    if last is not None and last.data.get("label") == label:
        return

    def save(conn: Any) -> None:
        effects.forget_effect(conn, key)
        effects.record_effect(conn, key, LABEL_KIND, None, data={"label": label})

    await ctx.ledger.awrite(save)


def _names(labels: Labels) -> list[str]:
    return [name.lower() for name in labels]


def _cached(conn: Any, repo: str, labels: Labels) -> set[int] | None:
    """The cached halting issues, or None when nothing is cached for these labels (a new
    label set starts over from GitHub's search)."""
    cached = effects.get_effect(conn, _key(repo))
    if cached is not None and cached.data.get("labels") == _names(labels):
        return {int(n) for n in cached.data.get("issues", [])}
    return None


def _save(conn: Any, repo: str, labels: Labels, issues: set[int]) -> None:
    effects.forget_effect(conn, _key(repo))
    data = {"labels": _names(labels), "issues": sorted(issues)}
    effects.record_effect(conn, _key(repo), KIND, None, data=data)


async def _store(ctx: JobContext, repo: str, labels: Labels, issues: set[int]) -> None:
    await ctx.ledger.awrite(lambda c: _save(c, repo, labels, issues))


def transition(
    conn: Any,
    repo: str,
    labels: Labels,
    fallback: set[int] | None,
    change: tuple[int, bool] | None = None,
) -> tuple[set[int], set[int]]:
    """Apply one issue's change to the cached set in ONE writer transaction (two workers
    handling two labels at once cannot lose either); returns (before, after)."""
    before = _cached(conn, repo, labels)
    if before is None:
        before = set(fallback or ())
    after = set(before)
    if change is not None:
        number, add = change
        if add:
            after.add(number)
        else:
            after.discard(number)
    _save(conn, repo, labels, after)
    return before, after


async def search_halting(gh: GitHubAPI, repo: str, labels: Iterable[str]) -> set[int]:
    """Open issues carrying any of ``labels``, from GitHub's search."""
    found: set[int] = set()
    for label in labels:
        query = search_query(repo, label)
        async for item in gh.paginate("search.issues_and_pull_requests", q=query):
            found.add(int(item["number"]))
    return found


def known_halting(conn: Any, repo: str) -> set[int] | None:
    """The halting issues of ``repo`` as the ledger last knew them, read without GitHub (for
    a page that shows the state; None: never looked up). Jobs ask :func:`is_halted`."""
    cached = effects.get_effect(conn, _key(repo))
    return None if cached is None else {int(n) for n in cached.data.get("issues", [])}


async def cached_issues(ctx: JobContext, repo: str, labels: Labels) -> set[int] | None:
    return await ctx.ledger.aread(lambda c: _cached(c, repo, labels))


async def halting_issues(ctx: JobContext, gh: GitHubAPI, repo: str, labels: Labels) -> set[int]:
    """Open issues carrying ``labels``: the ledger cache, else GitHub's search (then cached)."""
    cached = await cached_issues(ctx, repo, labels)
    if cached is not None:
        return cached
    issues = await search_halting(gh, repo, labels)
    await _store(ctx, repo, labels, issues)
    return issues


async def is_halted(
    ctx: JobContext, repo: str, *, gh: GitHubAPI | None = None, label: str | None = None
) -> bool:
    """Whether ``repo`` is halted (by ``label``, default: :func:`halt_labels`). Job handlers
    call this before starting anything."""
    gh = gh if gh is not None else await ctx.github()
    labels = (label,) if label is not None else await halt_labels(ctx, gh, repo)
    return bool(await halting_issues(ctx, gh, repo, labels))


async def halted_by(ctx: JobContext, gh: GitHubAPI, repo: str) -> set[int]:
    """The open issues whose lock label halts ``repo`` now (empty: it is not halted)."""
    return await halting_issues(ctx, gh, repo, await halt_labels(ctx, gh, repo))
