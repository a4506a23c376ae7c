"""The queue's gate before coding: the repository's limits on the bot's PRs, and priority.

A queued request starts only when :func:`selfheal.changes.limits.may_start` says so, from
what GitHub and the ledger say now: the bot's open PRs (plus requests being coded, whose PR is
about to open), when the bot opened its PRs in the last hour, and the other queued requests
of the repository, so that the most urgent goes first. Otherwise the request stays queued,
its status comment says why, and its coding job is tried again later.
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING

from selfheal.changes import machine
from selfheal.changes.limits import (
    HOUR,
    LimitDecision,
    QueuedRequest,
    RepoLimits,
    may_start,
    tighten,
)
from selfheal.github.repo import repo_config, split
from selfheal.ledger import requests
from selfheal.model.repo_config import ConfigError

if TYPE_CHECKING:
    from selfheal.changes.service import RequestRun

WAIT_SECONDS = 60.0  # how soon a request held back by the open-PR limit asks again


def _queued(request: requests.Request) -> QueuedRequest:
    return QueuedRequest(request.issue_number, request.priority, request.updated_at,
                         request.change_type)  # fmt: skip


async def repo_limits(run: RequestRun) -> RepoLimits:
    """The operator's limits, tightened by the repository's configuration."""
    config = run.ctx.worker.config
    operator = RepoLimits(config.max_open_prs, config.max_new_prs_per_hour)
    repo = await repo_config(run.gh, run.repo, run.ctx.caches.config_text)
    if isinstance(repo, ConfigError):
        return operator
    wanted = repo.requests
    return tighten(operator, RepoLimits(
        operator.max_open_prs if wanted.max_open_prs is None else wanted.max_open_prs,
        operator.max_new_prs_per_hour if wanted.max_new_prs_per_hour is None
        else wanted.max_new_prs_per_hour,
    ))  # fmt: skip


async def _open_bot_prs(run: RequestRun) -> int:
    owner, name = split(run.repo)
    bot = (await run.ctx.bot_login()).lower()
    count = 0
    async for pr in run.gh.paginate("pulls.list", owner=owner, repo=name, state="open"):
        if str((pr.get("user") or {}).get("login") or "").lower() == bot:
            count += 1
    return count


async def start_decision(run: RequestRun, request: requests.Request) -> LimitDecision:
    """Whether the queued ``request`` may start coding now."""
    now = time.time()
    limits = await repo_limits(run)
    repo = run.repo

    def facts(conn: sqlite3.Connection) -> tuple[list[requests.Request], list[float], int]:
        queued = requests.find(conn, repository=repo, states=[machine.State.QUEUED.value],
                               limit=1000)  # fmt: skip
        coding = requests.find(conn, repository=repo, states=[machine.State.CODING.value],
                               limit=1000)  # fmt: skip
        return queued, requests.opened_since(conn, repo, now - HOUR), len(coding)

    queued, opened, coding = await run.ctx.ledger.aread(facts)
    items = [_queued(r) for r in queued]
    if not any(r.id == request.id for r in queued):
        items.append(_queued(request))
    return may_start(_queued(request), items, limits,
                     open_bot_prs=await _open_bot_prs(run) + coding, opened_at=opened,
                     now=now)  # fmt: skip


def wait_seconds(decision: LimitDecision) -> float:
    if decision.retry_after is not None:
        return max(1.0, min(decision.retry_after, HOUR))
    return WAIT_SECONDS
