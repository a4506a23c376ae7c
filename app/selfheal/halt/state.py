"""Halt state: whether a repository is halted, and which lock label it uses.

A repository is halted while any OPEN issue carries the lock label (``halt_label`` in
``.github/selfheal.yml``, default ``selfheal:halt``). The state comes from GitHub (a search
``repo:O/R is:issue is:open label:"..."``) and is cached in the ledger (effect record
``halt:<repo>``), kept current by the ``issues`` events (see :mod:`selfheal.halt.events`) so
that search-index lag never matters. Other features call :func:`is_halted` before starting
work.
"""

from __future__ import annotations

from typing import Any

from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import repo_config
from selfheal.ledger import effects
from selfheal.model.labels import HALT_LABEL
from selfheal.model.repo_config import RepoConfig, TextCache
from selfheal.runtime.context import JobContext

KIND = "halt_state"


def _key(repo: str) -> str:
    return f"halt:{repo.lower()}"


def search_query(repo: str, label: str) -> str:
    return f'repo:{repo} is:issue is:open label:"{label}"'


async def halt_label(
    gh: GitHubAPI, repo: str, cache: TextCache | None = None, default_branch: str | None = None
) -> str:
    """The configured lock label (the default when the config file is broken: fail closed
    towards halting on the well-known label)."""
    config = await repo_config(gh, repo, cache, default_branch)
    return config.halt_label if isinstance(config, RepoConfig) else HALT_LABEL


def _cached(conn: Any, repo: str, label: str) -> set[int] | None:
    """The cached halting issues, or None when nothing is cached for this label."""
    cached = effects.get_effect(conn, _key(repo))
    if cached is not None and cached.data.get("label") == label:
        return {int(n) for n in cached.data.get("issues", [])}
    return None


def _save(conn: Any, repo: str, label: str, issues: set[int]) -> None:
    effects.forget_effect(conn, _key(repo))
    data = {"label": label, "issues": sorted(issues)}
    effects.record_effect(conn, _key(repo), KIND, None, data=data)


async def _store(ctx: JobContext, repo: str, label: str, issues: set[int]) -> None:
    await ctx.ledger.awrite(lambda c: _save(c, repo, label, issues))


def transition(
    conn: Any,
    repo: str,
    label: str,
    fallback: set[int] | None,
    change: tuple[int, bool] | None = None,
) -> tuple[set[int], set[int]]:
    """Apply one issue's change to the cached set in ONE writer transaction (two workers
    handling two labels at once cannot lose either); returns (before, after)."""
    before = _cached(conn, repo, label)
    if before is None:
        before = set(fallback or ())
    after = set(before)
    if change is not None:
        number, add = change
        if add:
            after.add(number)
        else:
            after.discard(number)
    _save(conn, repo, label, after)
    return before, after


async def search_halting(gh: GitHubAPI, repo: str, label: str) -> set[int]:
    found: set[int] = set()
    async for item in gh.paginate("search.issues_and_pull_requests", q=search_query(repo, label)):
        found.add(int(item["number"]))
    return found


async def cached_issues(ctx: JobContext, repo: str, label: str) -> set[int] | None:
    return await ctx.ledger.aread(lambda c: _cached(c, repo, label))


async def halting_issues(ctx: JobContext, gh: GitHubAPI, repo: str, label: str) -> set[int]:
    """Open issues carrying ``label``: the ledger cache, else GitHub's search (then cached)."""
    cached = await cached_issues(ctx, repo, label)
    if cached is not None:
        return cached
    issues = await search_halting(gh, repo, label)
    await _store(ctx, repo, label, issues)
    return issues


async def is_halted(
    ctx: JobContext, repo: str, *, gh: GitHubAPI | None = None, label: str | None = None
) -> bool:
    """Whether ``repo`` is halted. Job handlers call this before starting anything."""
    gh = gh if gh is not None else await ctx.github()
    label = label if label is not None else await halt_label(gh, repo, ctx.caches.config_text)
    return bool(await halting_issues(ctx, gh, repo, label))
