"""GitHub's eventual consistency for ``mergeable``: the emulator answers null for a while
after a PR opens or moves, and the bot waits for an answer instead of guessing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from selfheal.emulator import Emulator
from selfheal.github.client import GitHubClient
from selfheal.github.pulls import MergeabilityPending, mergeability


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def _no_wait(seconds: float) -> None:
    return None


async def test_mergeable_is_null_until_github_has_computed_it(
    github_emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    emu = github_emulator
    emu.world.mergeable_lag = 2
    repo = emu.create_repo("acme/tools", {"a.py": "x = 1\n"})
    emu.install([repo])
    gh = GitHubClient.for_token(emu.installation_token(), session=session, base_url=emu.base_url)
    bob = emu.person("bob", "write")
    await bob.push(repo, "topic", {"a.py": "x = 2\n"})
    pr = await bob.open_pr(repo, "topic", "Change x")
    assert pr["mergeable"] is None and pr["mergeable_state"] == "unknown"
    number = int(pr["number"])

    with pytest.raises(MergeabilityPending):  # two reads answer null
        await mergeability(gh, "acme/tools", number, attempts=2, sleep=_no_wait)
    assert await mergeability(gh, "acme/tools", number, sleep=_no_wait) == (True, "clean")

    await bob.push(repo, "topic", {"a.py": "x = 3\n"})  # the head moves: unknown again
    waited: list[float] = []

    async def note(seconds: float) -> None:
        waited.append(seconds)

    assert await mergeability(gh, "acme/tools", number, delay=0.5, sleep=note) == (True, "clean")
    assert waited == [0.5, 1.0]
