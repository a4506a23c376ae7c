"""The SDK's transport: typed errors per status, retries only where repeating is safe, and
the agent mixin's own-file and exception handling (against a small aiohttp server)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from selfheal.sdk import (
    AuthError,
    BaseAgent,
    HaltedError,
    NotFoundError,
    RateLimitedError,
    SelfHealClient,
    ServerError,
    ValidationError,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


class Script:
    """Answers per path, in order; records what was asked."""

    def __init__(self) -> None:
        self.answers: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self.seen: list[tuple[str, str, Any, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        text = await request.text()
        body = json.loads(text) if text else None
        self.seen.append((request.method, request.path, body, request.headers["Authorization"]))
        queue = self.answers.get(request.path) or [(200, {})]
        status, data = queue.pop(0) if len(queue) > 1 else queue[0]
        return web.json_response(data, status=status)


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[Script, str]]:
    script = Script()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", script.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield script, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def _client(url: str) -> SelfHealClient:
    return SelfHealClient(url, "shk_secret", retries=3, backoff=0.001)


async def test_reads_retry_on_5xx_and_requests_do_not(scripted: tuple[Script, str]) -> None:
    script, url = scripted
    status = {"change_id": "req_x", "state": "queued"}
    script.answers["/api/code/status/req_x"] = [(503, {}), (502, {}), (200, status)]
    script.answers["/code/fix"] = [(503, {"error": "internal", "message": "down"})]
    async with _client(url) as sdk:
        assert (await sdk.get_code_change_status("req_x"))["state"] == "queued"
        with pytest.raises(ServerError):
            await sdk.request_code_fix("Fix it.", ["a.py"], 7, {"error": "leak"})
    assert [p for _, p, _, _ in script.seen].count("/api/code/status/req_x") == 3
    assert [p for _, p, _, _ in script.seen].count("/code/fix") == 1
    fix = next(b for _, p, b, _ in script.seen if p == "/code/fix")
    assert fix == {"description": "Fix it.", "target_files": ["a.py"], "priority": 7,
                   "context": {"error": "leak"}}  # fmt: skip
    assert all(auth == "Bearer shk_secret" for *_, auth in script.seen)
    assert "shk_secret" not in repr(SelfHealClient(url, "shk_secret"))


async def test_a_429_is_retried_after_its_wait_even_for_a_request(
    scripted: tuple[Script, str],
) -> None:
    script, url = scripted
    limited = {"error": "rate_limited", "message": "slow down", "retry_after": 0.01}
    created = {"change_id": "req_y", "state": "received"}
    script.answers["/code/tell-agent"] = [(429, limited), (201, created)]
    script.answers["/api/code/history"] = [(429, limited)]
    async with _client(url) as sdk:
        made = await sdk.tell_agent_to_code("coding_agent", "Validate input.", priority=6)
        assert made["change_id"] == "req_y"
        with pytest.raises(RateLimitedError) as err:
            await sdk.history(state="queued")
        assert err.value.retry_after == 0.01
    told = [b for _, p, b, _ in script.seen if p == "/code/tell-agent"]
    assert told[0] == {"agent_id": "coding_agent", "coding_task": "Validate input.",
                       "target_files": [], "priority": 6}  # fmt: skip


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, AuthError), (403, AuthError), (400, ValidationError), (422, ValidationError),
     (404, NotFoundError), (409, HaltedError)],
)  # fmt: skip
async def test_each_refusal_has_its_exception(
    scripted: tuple[Script, str], status: int, kind: type[Exception]
) -> None:
    script, url = scripted
    script.answers["/api/code/approve/req_z"] = [(status, {"error": "e", "message": "why",
                                                           "field": "priority"})]  # fmt: skip
    async with _client(url) as sdk:
        with pytest.raises(kind) as err:
            await sdk.approve("req_z")
    assert "why" in str(err.value)
    if isinstance(err.value, ValidationError):
        assert err.value.field == "priority"
    assert len(script.seen) == 1  # refusals are never retried


class Helper(BaseAgent):
    agent_id = "helper"

    def __init__(self, sdk: SelfHealClient) -> None:
        self.selfheal = sdk
        self.source_root = REPO_ROOT


async def test_the_agent_targets_its_own_file_and_reports_exceptions(
    scripted: tuple[Script, str],
) -> None:
    script, url = scripted
    script.answers["/api/monitor/events"] = [(202, {"recorded": 1})]
    async with _client(url) as sdk:
        agent = Helper(sdk)
        await agent.request_self_improvement("Add caching to reduce API calls", priority=3)
        try:
            raise KeyError("missing")
        except KeyError as exc:
            assert await agent.report_bug_for_fix(exc, affected_files=["x.py"]) == 1
        await agent.report_bug_for_fix("plain text", "trace", ["y.py"])
    asked = next(b for _, p, b, _ in script.seen if p == "/api/code/request")
    assert asked["target_files"] == ["tests/unit/test_sdk.py"]
    assert asked["change_type"] == "self-improvement" and asked["requester_id"] == "helper"
    events = [b[0] for _, p, b, _ in script.seen if p == "/api/monitor/events"]
    assert events[0]["error_type"] == "KeyError" and events[0]["agent_id"] == "helper"
    assert "KeyError" in events[0]["stack_trace"] and events[0]["source"] == "agent"
    assert "error_type" not in events[1] and events[1]["stack_trace"] == "trace"
