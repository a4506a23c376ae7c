"""The webhook server over real HTTP on 127.0.0.1: intake, healthz and metrics."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from gidgethub.sansio import Event

from selfheal.ledger import Ledger, deliveries, jobs
from selfheal.runtime.context import JobContext, Wiring
from selfheal.runtime.intake import MAX_BODY
from selfheal.runtime.server import WORKER, create_app
from tests.support.appcore import (
    SECRET,
    Recorder,
    delivery,
    make_settings,
    pull_request_payload,
    running_server,
    wait_for,
)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[TestServer, Ledger, Recorder]]:
    async with running_server(tmp_path / "server.db") as running:
        yield running


async def _post(srv: TestServer, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.post(srv.make_url("/webhook"), data=body, headers=headers) as resp:
            return resp.status, await resp.json()


async def test_signed_delivery_is_queued_then_dispatched(server: Any) -> None:
    srv, ledger, recorder = server
    body, headers = delivery(delivery_id="d-1")
    status, answer = await _post(srv, body, headers)
    assert status == 202 and answer["status"] == "queued" and answer["delivery"] == "d-1"
    await wait_for(lambda: recorder.events)
    assert recorder.events == [("pull_request", "d-1", 77)]
    await wait_for(lambda: ledger.read(jobs.depth)["done"] == 1)
    stored = ledger.read(lambda c: deliveries.get_delivery(c, "d-1"))
    assert stored is not None and stored.outcome == "processed"
    assert (stored.action, stored.repository) == ("opened", "octo/demo")


async def test_redelivery_is_processed_once(server: Any) -> None:
    srv, ledger, recorder = server
    body, headers = delivery(delivery_id="same")
    assert (await _post(srv, body, headers))[0] == 202
    status, answer = await _post(srv, body, headers)
    assert status == 200 and answer["status"] == "duplicate"
    await wait_for(lambda: ledger.read(jobs.depth)["done"] == 1)
    await asyncio.sleep(0.2)
    assert len(recorder.events) == 1
    assert sum(ledger.read(jobs.depth).values()) == 1


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda h: h.pop("X-Hub-Signature-256"), 401),
        (lambda h: h.update({"X-Hub-Signature-256": "sha256=" + "0" * 64}), 401),
        (lambda h: h.update({"X-Hub-Signature-256": "sha1=abc"}), 401),
        (lambda h: h.pop("X-GitHub-Delivery"), 400),
        (lambda h: h.pop("X-GitHub-Event"), 400),
        (lambda h: h.update({"Content-Type": "text/plain"}), 415),
    ],
)
async def test_rejected_requests(server: Any, mutate: Any, expected: int) -> None:
    srv, ledger, _ = server
    body, headers = delivery()
    mutate(headers)
    status, _answer = await _post(srv, body, headers)
    assert status == expected
    assert ledger.read(deliveries.count) == 0


async def test_sha1_hmac_in_the_sha256_header_is_401(server: Any) -> None:
    """The docs promise SHA-256 only; gidgethub's validator also took a valid SHA-1 HMAC."""
    srv, ledger, _ = server
    body, headers = delivery()
    sha1 = hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    headers["X-Hub-Signature-256"] = f"sha1={sha1}"
    status, _answer = await _post(srv, body, headers)
    assert status == 401
    assert ledger.read(deliveries.count) == 0


async def test_wrong_secret_and_malformed_json(server: Any) -> None:
    srv, ledger, _ = server
    body, headers = delivery(secret="another-secret-value-xyz")
    assert (await _post(srv, body, headers))[0] == 401
    bad = b'{"action": "opened",'
    _, headers = delivery()
    from tests.support.appcore import sign

    headers["X-Hub-Signature-256"] = sign(bad)
    assert (await _post(srv, bad, headers))[0] == 400
    headers["X-Hub-Signature-256"] = sign(b"[1, 2]")
    assert (await _post(srv, b"[1, 2]", headers))[0] == 400
    assert ledger.read(deliveries.count) == 0


async def test_body_over_25_mib_is_413(server: Any) -> None:
    srv, ledger, _ = server
    payload = pull_request_payload()
    payload["padding"] = "x" * MAX_BODY
    body, headers = delivery(payload)
    status, answer = await _post(srv, body, headers)
    assert status == 413 and answer["limit"] == MAX_BODY

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1 << 20):
            yield body[start : start + (1 << 20)]

    async with aiohttp.ClientSession() as session:
        async with session.post(srv.make_url("/webhook"), data=chunks(), headers=headers) as resp:
            assert resp.status == 413
    assert ledger.read(deliveries.count) == 0


async def test_healthz_reports_ledger_and_worker(server: Any) -> None:
    srv, _, _ = server
    async with aiohttp.ClientSession() as session:
        async with session.get(srv.make_url("/healthz")) as resp:
            data = await resp.json()
            assert resp.status == 200, data
            assert data["ledger"]["ok"] and data["worker"]["ok"] and data["worker"]["workers"] == 1
        await srv.app[WORKER].stop()
        async with session.get(srv.make_url("/healthz")) as resp:
            data = await resp.json()
            assert resp.status == 503 and data["worker"]["ok"] is False


async def test_metrics_exposition(server: Any) -> None:
    srv, ledger, _ = server
    body, headers = delivery(delivery_id="m-1")
    await _post(srv, body, headers)
    await _post(srv, body, headers)
    bad_body, bad_headers = delivery(secret="wrong-secret-0000000000")
    await _post(srv, bad_body, bad_headers)
    await wait_for(lambda: ledger.read(jobs.depth)["done"] == 1)
    async with aiohttp.ClientSession() as session:
        async with session.get(srv.make_url("/metrics")) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = await resp.text()
    lines = text.splitlines()
    assert "# TYPE selfheal_deliveries_total counter" in lines
    assert 'selfheal_deliveries_total{event="pull_request",outcome="accepted"} 1' in lines
    assert 'selfheal_deliveries_total{event="pull_request",outcome="duplicate"} 1' in lines
    assert 'selfheal_deliveries_total{event="unverified",outcome="bad_signature"} 1' in lines
    assert 'selfheal_queue_depth{status="done"} 1' in lines
    assert 'selfheal_queue_depth{status="queued"} 0' in lines
    assert "selfheal_queue_oldest_due_seconds 0" in lines
    assert (
        'selfheal_deliveries_processed_total{event="pull_request",outcome="processed"} 1' in lines
    )
    assert "# TYPE selfheal_job_duration_seconds histogram" in lines
    assert any(
        line.startswith('selfheal_job_duration_seconds_count{kind="webhook",result="done"} 1')
        for line in lines
    )
    for name in ("selfheal_github_api_calls_total", "selfheal_gate_conclusions_total"):
        assert f"# HELP {name} " in text


async def test_ack_does_not_wait_for_github(tmp_path: Path) -> None:
    """The GitHub client factory never answers; deliveries are still acknowledged and queued."""
    github_blocked = asyncio.Event()
    entered: list[str] = []

    async def stuck_factory(installation_id: int | None) -> Any:
        await github_blocked.wait()  # never set: GitHub "hangs"

    async def hook(event: Event, ctx: JobContext) -> None:
        entered.append(event.delivery_id)
        await ctx.github()

    ledger = Ledger.open(tmp_path / "stuck.db")
    settings = make_settings(
        tmp_path / "stuck.db", SELFHEAL_WORKERS="1", SELFHEAL_SHUTDOWN_GRACE_SECONDS="0.2"
    )
    app = create_app(
        settings, ledger=ledger, github_factory=stuck_factory, wiring=Wiring(dispatchers=(hook,))
    )
    srv = TestServer(app, host="127.0.0.1", port=0)
    await srv.start_server()
    try:
        first = delivery(delivery_id="stuck-1")
        assert (await _post(srv, *first))[0] == 202
        await wait_for(lambda: entered == ["stuck-1"])  # the worker is now blocked on GitHub
        for n in range(2, 6):
            status, answer = await _post(srv, *delivery(delivery_id=f"stuck-{n}"))
            assert status == 202 and answer["status"] == "queued"
        assert ledger.read(jobs.depth) == {"queued": 4, "running": 1, "done": 0, "dead": 0}
    finally:
        await srv.close()
        ledger.close()


async def test_closed_ledger_gives_503(server: Any) -> None:
    srv, ledger, _ = server
    ledger.close()
    async with aiohttp.ClientSession() as session:
        async with session.get(srv.make_url("/healthz")) as resp:
            data = await resp.json()
            assert resp.status == 503
            assert data["ledger"] == {"ok": False, "error": "LedgerClosed"}
    status, answer = await _post(srv, *delivery())
    assert status == 503 and answer["status"] == "ledger unavailable"
