"""The job context: the bot's login (token mode vs. a GitHub failure) and the worker's caches."""

from __future__ import annotations

from collections.abc import AsyncIterator
from http import HTTPStatus
from pathlib import Path
from typing import Any

import gidgethub
import pytest

from selfheal.github.client import GitHubGaveUp
from selfheal.github.protocol import Credential
from selfheal.ledger import Ledger, jobs
from selfheal.runtime.context import (
    BOT_FALLBACK,
    BoundedCache,
    JobContext,
    fetch_bot_login,
)
from selfheal.runtime.worker import Worker


class FakeGitHub:
    """Answers ``apps.get_authenticated`` with a payload or raises what it is given."""

    credential: Credential | None = None

    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome
        self.calls = 0

    async def call(self, name: str, /, **params: Any) -> Any:
        assert name == "apps.get_authenticated"
        self.calls += 1
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome

    def paginate(self, name: str, /, **params: Any) -> AsyncIterator[Any]:
        raise AssertionError("not used")

    async def graphql(self, name: str, /, **variables: Any) -> Any:
        raise AssertionError("not used")

    async def download(self, name: str, /, *, max_bytes: int, **params: Any) -> bytes:
        raise AssertionError("not used")


async def test_bot_login_from_the_app_slug() -> None:
    assert await fetch_bot_login(FakeGitHub({"slug": "acme-healer"})) == "acme-healer[bot]"


@pytest.mark.parametrize("status", [401, 403])
async def test_token_mode_is_a_refused_get_app(status: int) -> None:
    refused = gidgethub.BadRequest(HTTPStatus(status))
    assert await fetch_bot_login(FakeGitHub(refused)) == BOT_FALLBACK


@pytest.mark.parametrize(
    "failure",
    [
        GitHubGaveUp("HTTP 502", "apps.get_authenticated", 502, attempts=4),
        gidgethub.GitHubBroken(HTTPStatus(503)),
        gidgethub.BadRequest(HTTPStatus(404)),
        ConnectionResetError("reset"),
    ],
)
async def test_a_github_failure_is_not_taken_for_token_mode(failure: Exception) -> None:
    """A 5xx (GitHub down), a 404 or a dropped connection used to make the bot call itself
    ``selfheal[bot]``, so its own PRs stopped being recognised as the bot's."""
    with pytest.raises(type(failure)):
        await fetch_bot_login(FakeGitHub(failure))


async def test_the_worker_asks_once_and_a_new_worker_asks_again(tmp_path: Path) -> None:
    gh = FakeGitHub({"slug": "healer"})

    async def factory(installation_id: int | None) -> Any:
        assert installation_id is None  # the App itself, not an installation
        return gh

    with Ledger.open(tmp_path / "ledger.db") as ledger:
        job = jobs.Job(1, "k", None, None, {}, "running", 1, 5, "w", None, 0, None, 0, 0, None)
        first = Worker(ledger, github_factory=factory)
        for _ in range(3):
            assert await JobContext(job, ledger, first).bot_login() == "healer[bot]"
        assert gh.calls == 1
        second = Worker(ledger, github_factory=factory)
        assert await JobContext(job, ledger, second).bot_login() == "healer[bot]"
        assert gh.calls == 2


def test_bounded_cache_keeps_the_newest() -> None:
    cache = BoundedCache(maxsize=2)
    made: list[str] = []

    def make(key: str) -> str:
        made.append(key)
        return key.upper()

    assert cache.remember("a", lambda: make("a")) == "A"
    assert cache.remember("b", lambda: make("b")) == "B"
    assert cache.remember("a", lambda: make("a")) == "A"  # a hit, and now the newest
    assert cache.remember("c", lambda: make("c")) == "C"  # evicts b, the oldest
    assert list(cache) == ["a", "c"] and made == ["a", "b", "c"]
