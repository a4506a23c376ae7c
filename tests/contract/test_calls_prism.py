"""Contract suite 2: every call the app makes, sent by GitHubClient to Prism.

Prism serves GitHub's description (pruned to CALLS) with request validation on: a request
that breaks the description comes back 422 with an ``sl-violations`` header. Each call in
CALLS is sent with its example from call_examples.py and must produce zero violations.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import aiohttp
import gidgethub
import pytest

from selfheal.github.calls import CALLS, DOWNLOADS
from selfheal.github.client import GitHubClient
from selfheal.github.ratelimit import RetryPolicy
from tests.support.call_examples import EXAMPLES
from tests.support.contract import PrismServer

NO_RETRY = RetryPolicy(max_attempts=1, request_timeout=20)


@dataclass
class Exchange:
    method: str
    url: str
    status: int
    violations: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
async def recorded() -> AsyncIterator[tuple[aiohttp.ClientSession, list[Exchange]]]:
    """A real aiohttp session whose trace hook records Prism's verdict on each request."""
    exchanges: list[Exchange] = []

    async def on_end(
        session: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        response = params.response
        raw = response.headers.get("sl-violations")
        violations = json.loads(raw) if raw else []
        if response.content_type == "application/problem+json":
            # Without a 4xx response in the description, Prism reports the violations in
            # a problem document instead of the header.
            violations += json.loads(await response.read()).get("validation", [])
        exchanges.append(Exchange(params.method, str(params.url), response.status, violations))

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_end)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        yield session, exchanges


async def _send(client: GitHubClient, name: str) -> Any:
    example = EXAMPLES[name]
    if name in DOWNLOADS:
        # The redirect's target is storage off the API (Prism's example points at the
        # internet): the request is what is checked here, the download in the e2e tests.
        return await client.locate(name, **example.params)
    if CALLS[name].paginated:
        # One page: Prism's example Link headers point at api.github.com, which the client
        # refuses to follow off its base URL (tests/test_github_client.py covers paging).
        return await client.call(name, per_page=100, **example.params)
    return await client.call(name, data=example.data, **example.params)


def test_every_call_has_an_example() -> None:
    missing = sorted(set(CALLS) - set(EXAMPLES))
    unknown = sorted(set(EXAMPLES) - set(CALLS))
    assert not missing, f"add examples to tests/contract/call_examples.py for: {missing}"
    assert not unknown, f"examples for calls that are not in CALLS: {unknown}"


def _request_violations(exchange: Exchange) -> list[dict[str, Any]]:
    return [v for v in exchange.violations if v.get("location", ["?"])[0] != "response"]


def _explained_by_prism_mock(exchange: Exchange) -> bool:
    """Prism with --errors also answers 500 when the example it would return breaks the
    description's own response schema; that says nothing about our request."""
    return (
        exchange.status == 500
        and all(v.get("location", [""])[0] == "response" for v in exchange.violations)
        and bool(exchange.violations)
    )


async def test_every_call_passes_prism_request_validation(
    prism: PrismServer, recorded: tuple[aiohttp.ClientSession, list[Exchange]]
) -> None:
    session, exchanges = recorded
    client = GitHubClient.for_token(
        "ghs_contract", session=session, base_url=prism.url, policy=NO_RETRY
    )
    problems: dict[str, Any] = {}
    for name in CALLS:
        start = len(exchanges)
        try:
            await _send(client, name)
        except gidgethub.GitHubException as exc:
            problems[name] = f"{type(exc).__name__}: {exc}"
        sent = exchanges[start:]
        assert sent, f"{name} sent no request"
        for exchange in sent:
            if _request_violations(exchange):
                problems[name] = _request_violations(exchange)
            elif exchange.status >= 400 and not _explained_by_prism_mock(exchange):
                problems.setdefault(name, f"HTTP {exchange.status}")
            elif _explained_by_prism_mock(exchange):
                problems.pop(name, None)
    assert not problems, problems


async def test_a_wrong_body_is_reported_by_prism(
    prism: PrismServer, recorded: tuple[aiohttp.ClientSession, list[Exchange]]
) -> None:
    session, exchanges = recorded
    client = GitHubClient.for_token("ghs_contract", session=session, base_url=prism.url)
    with pytest.raises(gidgethub.BadRequest) as caught:
        await client.call(
            "issues.add_labels", owner="o", repo="r", issue_number=7, data={"labels": 5}
        )
    assert caught.value.status_code == 422
    assert any("labels" in v["message"] for v in exchanges[-1].violations)


async def test_a_wrong_query_parameter_or_enum_value_is_reported_by_prism(
    prism: PrismServer, recorded: tuple[aiohttp.ClientSession, list[Exchange]]
) -> None:
    session, exchanges = recorded
    client = GitHubClient.for_token("ghs_contract", session=session, base_url=prism.url)
    with pytest.raises(gidgethub.BadRequest):
        await client.call("issues.list_for_repo", owner="o", repo="r", state="bogus")
    with pytest.raises(gidgethub.BadRequest):
        await client.call(
            "checks.create",
            owner="o",
            repo="r",
            data={"name": "g", "head_sha": "a", "status": "done"},
        )
    assert [bool(_request_violations(e)) for e in exchanges] == [True, True]
    assert "state" in json.dumps(exchanges[0].violations)
    assert "status" in json.dumps(exchanges[1].violations)
