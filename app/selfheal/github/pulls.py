"""Pull request facts GitHub computes in the background.

GitHub works out whether a pull request can be merged after it is opened or its head moves;
until then ``mergeable`` is ``null``. :func:`mergeability` asks a few times, a little apart,
and raises :class:`MergeabilityPending` (a transient failure: the job retries later with
backoff) rather than guessing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import split


class MergeabilityPending(Exception):
    """GitHub has not computed the PR's mergeability yet; try again later."""


async def mergeability(
    gh: GitHubAPI,
    repo: str,
    number: int,
    *,
    attempts: int = 3,
    delay: float = 1.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> tuple[bool, str]:
    """``(mergeable, mergeable_state)`` of PR ``number`` once GitHub knows it."""
    owner, name = split(repo)
    for attempt in range(attempts):
        pr = await gh.call("pulls.get", owner=owner, repo=name, pull_number=number)
        if pr.get("mergeable") is not None:
            return bool(pr["mergeable"]), str(pr.get("mergeable_state") or "")
        if attempt + 1 < attempts:
            await sleep(delay * (attempt + 1))
    raise MergeabilityPending(f"GitHub has not worked out whether #{number} can be merged yet")
