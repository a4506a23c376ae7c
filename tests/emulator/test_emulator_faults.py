"""Fault switches and rate-limit headers, observed from real clients (aiohttp, gidgethub)."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from gidgethub import BadRequest, GitHubBroken, RateLimitExceeded
from gidgethub.aiohttp import GitHubAPI

from selfheal.emulator import Emulator


@pytest.fixture
def token(github_emulator: Emulator) -> str:
    repo = github_emulator.create_repo("acme/widgets")
    return github_emulator.installation_token(github_emulator.install([repo]))


async def get(emu: Emulator, path: str, token: str) -> aiohttp.ClientResponse:
    async with (
        aiohttp.ClientSession() as session,
        session.get(emu.base_url + path, headers={"Authorization": f"token {token}"}) as resp,
    ):
        await resp.read()
        return resp


async def test_rate_limit_headers_count_down(github_emulator: Emulator, token: str) -> None:
    first = await get(github_emulator, "/repos/acme/widgets", token)
    second = await get(github_emulator, "/repos/acme/widgets", token)
    assert first.headers["X-RateLimit-Limit"] == "5000"
    assert first.headers["X-RateLimit-Resource"] == "core"
    assert (
        int(second.headers["X-RateLimit-Remaining"])
        == int(first.headers["X-RateLimit-Remaining"]) - 1
    )
    assert int(second.headers["X-RateLimit-Used"]) == 2
    assert int(first.headers["X-RateLimit-Reset"]) > time.time()
    assert first.headers["X-GitHub-Request-Id"] != second.headers["X-GitHub-Request-Id"]
    fresh = github_emulator.installation_token()  # same installation: same budget
    third = await get(github_emulator, "/repos/acme/widgets", fresh)
    assert int(third.headers["X-RateLimit-Used"]) == 3
    search = await get(github_emulator, "/search/issues?q=repo:acme/widgets", token)
    assert search.headers["X-RateLimit-Resource"] == "search"
    assert search.headers["X-RateLimit-Limit"] == "30"


async def test_server_error_burst_then_recovery(github_emulator: Emulator, token: str) -> None:
    github_emulator.faults.server_errors(2, status=503)
    async with aiohttp.ClientSession() as session:
        gh = GitHubAPI(session, "t", oauth_token=token, base_url=github_emulator.base_url)
        for _ in range(2):
            with pytest.raises(GitHubBroken) as broken:
                await gh.getitem("/repos/acme/widgets")
            assert broken.value.status_code == 503
        repo = await gh.getitem("/repos/acme/widgets")
    assert repo["full_name"] == "acme/widgets"
    assert github_emulator.faults.served == 2


@pytest.mark.parametrize("status", [403, 429])
async def test_secondary_rate_limit_has_retry_after(
    github_emulator: Emulator, token: str, status: int
) -> None:
    github_emulator.faults.secondary_rate_limit(count=1, retry_after=7, status=status)
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            github_emulator.base_url + "/repos/acme/widgets",
            headers={"Authorization": f"token {token}"},
        ) as resp,
    ):
        body = await resp.json()
        assert resp.status == status
        assert resp.headers["Retry-After"] == "7"
        assert "secondary rate limit" in body["message"]
        assert body["documentation_url"].endswith("#about-secondary-rate-limits")
    assert (await get(github_emulator, "/repos/acme/widgets", token)).status == 200


async def test_primary_exhaustion_until_reset(github_emulator: Emulator, token: str) -> None:
    github_emulator.faults.exhaust_rate_limit(reset_in=120)
    async with aiohttp.ClientSession() as session:
        gh = GitHubAPI(session, "t", oauth_token=token, base_url=github_emulator.base_url)
        with pytest.raises(RateLimitExceeded) as exceeded:
            await gh.getitem("/repos/acme/widgets")
        assert exceeded.value.rate_limit is not None
        assert exceeded.value.rate_limit.remaining == 0
        assert exceeded.value.rate_limit.reset_datetime.timestamp() > time.time() + 60
        resp = await get(github_emulator, "/rate_limit", token)
        assert resp.status == 200  # /rate_limit itself is never charged
        github_emulator.faults.clear()
        github_emulator.faults.buckets.clear()
        assert (await gh.getitem("/repos/acme/widgets"))["name"] == "widgets"


async def test_slow_responses(github_emulator: Emulator, token: str) -> None:
    github_emulator.faults.slow(delay=2.0, count=1)
    timeout = aiohttp.ClientTimeout(total=0.5)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        gh = GitHubAPI(session, "t", oauth_token=token, base_url=github_emulator.base_url)
        with pytest.raises(asyncio.TimeoutError):
            await gh.getitem("/repos/acme/widgets")
        assert (await gh.getitem("/repos/acme/widgets"))["name"] == "widgets"


async def test_bad_request_bodies_are_github_errors(github_emulator: Emulator, token: str) -> None:
    async with aiohttp.ClientSession() as session:
        gh = GitHubAPI(session, "t", oauth_token=token, base_url=github_emulator.base_url)
        with pytest.raises(BadRequest) as missing:
            await gh.getitem("/repos/acme/nope")
        assert missing.value.status_code == 404
        async with session.post(
            github_emulator.base_url + "/repos/acme/widgets/issues",
            data=b"{not json",
            headers={"Authorization": f"token {token}"},
        ) as resp:
            assert resp.status == 400
            assert (await resp.json())["message"] == "Problems parsing JSON"
