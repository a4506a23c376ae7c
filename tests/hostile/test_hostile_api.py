"""Hostile input against the API over real HTTP on 127.0.0.1 with a real ledger.

Every answer is JSON with one of the documented statuses, names the field when a body is
wrong, and never carries a traceback; the server runs the API feature alone, with a GitHub
client factory that fails (so the one call that reaches GitHub shows the 500 path).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from openapi_spec_validator import validate

from selfheal import api
from selfheal.api import schemas, stored_events, tokens
from selfheal.github.client import GitHubGaveUp
from selfheal.ledger import Ledger, audit, installations
from selfheal.registry import compose
from selfheal.runtime.context import Feature
from selfheal.runtime.server import create_app
from tests.support.appcore import make_settings

REPO = "acme/widgets"


class Broken(Exception):
    pass


async def _no_github(installation_id: int | None) -> Any:
    raise Broken("secret-looking detail that must not reach the caller")


@contextlib.asynccontextmanager
async def _serve(
    tmp_path: Path,
    factory: Callable[[int | None], Awaitable[Any]],
    feature: Feature | None = None,
    **env: str,
) -> AsyncIterator[tuple[str, Ledger, str]]:
    ledger = Ledger.open(tmp_path / "api.db")
    limits = {"SELFHEAL_API_RATE": "0.01", "SELFHEAL_API_BURST": "4", **env}
    settings = make_settings(tmp_path / "api.db", SELFHEAL_WORKERS="0", **limits)
    app = create_app(settings, ledger=ledger, github_factory=factory,
                     wiring=compose([feature or api.feature()]))  # fmt: skip
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    _, value = ledger.write(lambda c: tokens.create(c, "t", scopes=["request", "read", "report"],
                                                    repositories=[REPO]))  # fmt: skip
    ledger.write(lambda c: installations.upsert_installation(c, 7, "acme"))
    ledger.write(lambda c: installations.upsert_repository(c, 1, REPO, 7))
    try:
        yield str(server.make_url("")).rstrip("/"), ledger, value
    finally:
        await server.close()
        ledger.close()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, Ledger, str]]:
    async with _serve(tmp_path, _no_github) as running:
        yield running


async def _send(
    url: str, method: str, path: str, token: str | None, body: bytes | None = None
) -> tuple[int, dict[str, Any], Any]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url + path, data=body, headers=headers) as resp:
            text = await resp.text()
            assert resp.content_type == "application/json", text[:200]
            assert "Traceback" not in text
            return resp.status, dict(resp.headers), json.loads(text)


def _body(data: Any) -> bytes:
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, "body"),
        (b'{"description": NaN}', 400, "body"),
        (b"", 400, "body"),
        (_body([]), 422, "body"),
        (_body({}), 422, "description"),
        (_body({"description": "x", "priority": 11}), 422, "priority"),
        (_body({"description": "x", "priority": "8"}), 422, "priority"),
        (_body({"description": "x", "change_type": "rm-rf"}), 422, "change_type"),
        (_body({"description": "x", "agent_id": "../../bin"}), 422, "agent_id"),
        (_body({"description": "x", "surprise": 1}), 422, "surprise"),
        (_body({"description": "x", "target_files": ["../etc/passwd"]}), 422, "target_files"),
        (_body({"description": "x", "target_files": [".git/config"]}), 422, "target_files"),
        (_body({"description": "x", "repository": "other/repo"}), 404, None),
    ],
)
async def test_a_bad_request_body_is_refused_naming_the_field(
    served: tuple[str, Ledger, str], body: bytes, status: int, field: str | None
) -> None:
    url, _, token = served
    got, _, data = await _send(url, "POST", "/api/code/request", token, body)
    assert got == status, data
    assert data.get("field") == field and data["message"]


async def test_tokens_sizes_failures_and_limits(served: tuple[str, Ledger, str]) -> None:
    url, ledger, token = served
    status, headers, _ = await _send(url, "GET", "/api/code/history", None)
    assert status == 401 and headers["WWW-Authenticate"] == "Bearer"
    assert (await _send(url, "GET", "/api/code/history", "shk_" + "x" * 43))[0] == 401
    assert (await _send(url, "POST", "/api/code/halt", token, b"{}"))[0] == 403  # no halt scope
    big = _body({"description": "x" * (1024 * 1024)})
    assert (await _send(url, "POST", "/api/code/request", token, big))[0] == 413
    assert (await _send(url, "GET", "/api/code/status/req_AAAAAAAAAAAAAAAA", token))[0] == 404
    assert (await _send(url, "GET", "/api/code/history?limit=0", token))[2]["field"] == "limit"
    status, _, failed = await _send(url, "POST", "/api/code/request", token,
                                    _body({"description": "Fix it."}))  # fmt: skip
    assert status == 500 and failed["error"] == "internal" and "secret" not in json.dumps(failed)
    status, headers, limited = await _send(url, "GET", "/api/code/history", token)
    assert status == 429 and int(headers["Retry-After"]) >= 1 and limited["retry_after"] >= 1
    calls = ledger.read(lambda c: audit.entries(c, action="api.call"))
    assert {e.actor for e in calls} == {"api:t"}
    assert token not in json.dumps([e.to_dict() for e in calls])
    assert {400, 403, 404, 413, 429, 500} <= {e.details["status"] for e in calls}


async def test_events_are_validated_then_handed_to_the_sink(
    served: tuple[str, Ledger, str],
) -> None:
    url, ledger, token = served
    good = {"source": "agent", "error_type": "KeyError", "message": "m", "agent_id": "a1",
            "severity": "high", "endpoint": {"url": "/x", "method": "GET", "status": 500},
            "timestamp": "2026-01-02T03:04:05Z", "run_id": "r1"}  # fmt: skip
    status, _, data = await _send(url, "POST", "/api/monitor/events", token, _body([good, good]))
    assert status == 202 and data == {"recorded": 2}
    bad_source = {**good, "source": "cron"}
    status, _, data = await _send(url, "POST", "/api/monitor/events", token, _body(bad_source))
    assert status == 422 and data["field"] == "source"
    many = _body([good] * (schemas.MAX_EVENTS + 1))
    assert (await _send(url, "POST", "/api/monitor/events", token, many))[0] == 422
    stored = ledger.read(stored_events)
    assert len(stored) == 2 and stored[0]["reporter"] == "t" and stored[0]["run_id"] == "r1"


async def test_the_document_is_valid_openapi_and_is_the_handlers_schemas(
    served: tuple[str, Ledger, str],
) -> None:
    url, _, _ = served
    status, _, doc = await _send(url, "GET", "/api/openapi.json", None)
    assert status == 200 and doc["openapi"] == "3.1.0"
    validate(doc)
    assert doc["components"]["schemas"]["CodeRequest"] == schemas.CODE_REQUEST
    ops = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    assert ops == {(op.method, op.path) for op in api.OPERATIONS}
    health = await _send(url, "GET", "/api/code/health", None)
    assert health[0] == 200 and health[2]["ledger"] is True


async def test_github_limiting_selfheal_is_a_503_with_retry_after(tmp_path: Path) -> None:
    async def limited(installation_id: int | None) -> Any:
        raise GitHubGaveUp("primary rate limit", "issues.create", 403)

    async with _serve(tmp_path, limited) as (url, _, token):
        status, headers, data = await _send(url, "POST", "/api/code/request", token,
                                            _body({"description": "Fix it."}))  # fmt: skip
    assert status == 503 and data["error"] == "github_unavailable"
    assert int(headers["Retry-After"]) > 0


async def test_a_call_over_the_concurrency_cap_is_a_429(tmp_path: Path) -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(installation_id: int | None) -> Any:
        entered.set()
        await asyncio.wait_for(release.wait(), 10)
        raise GitHubGaveUp("test", "issues.create", 503)

    async with _serve(tmp_path, slow, SELFHEAL_API_CONCURRENCY="1") as (url, _, token):
        first = asyncio.create_task(
            _send(url, "POST", "/api/code/request", token, _body({"description": "One."}))
        )
        await asyncio.wait_for(entered.wait(), 10)  # the first call holds the token's one slot
        status, headers, _ = await _send(url, "GET", "/api/code/history", token)
        release.set()
        assert status == 429 and headers["Retry-After"] == "1"
        assert (await first)[0] == 503
        assert (await _send(url, "GET", "/api/code/history", token))[0] == 200  # slot freed


async def test_another_features_route_gets_the_apis_tokens_audit_and_document(
    tmp_path: Path,
) -> None:
    async def stats(call: api.Call) -> web.StreamResponse:
        return api.answer({"is_running": True, "token": call.need_token().name})

    op = api.Operation("monitorStats", "GET", "/api/monitor/stats", "The monitor's stats",
                       "read", answer="MonitorStats")  # fmt: skip
    schema = {"type": "object", "properties": {"is_running": {"type": "boolean"}}}
    route = api.Route(op, stats, {"MonitorStats": schema})
    async with _serve(tmp_path, _no_github, api.feature(extra=[route])) as (url, ledger, token):
        assert (await _send(url, "GET", "/api/monitor/stats", None))[0] == 401
        status, _, data = await _send(url, "GET", "/api/monitor/stats", token)
        assert status == 200 and data == {"is_running": True, "token": "t"}
        doc = (await _send(url, "GET", "/api/openapi.json", None))[2]
        validate(doc)
        assert doc["paths"]["/api/monitor/stats"]["get"]["operationId"] == "monitorStats"
        assert doc["components"]["schemas"]["MonitorStats"] == schema
        routes = [e.details["route"] for e in ledger.read(lambda c: audit.entries(c))]
        assert "/api/monitor/stats" in routes
