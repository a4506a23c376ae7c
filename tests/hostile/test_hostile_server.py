"""Hostile input against the webhook server over real HTTP on 127.0.0.1 with a real ledger.

Every answer must be one of the documented statuses (400/401/413/202/200), never a 500, and a
503 ("ledger unavailable", which invites redelivery) only when the ledger really failed.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import urllib.parse
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from selfheal.ledger import Ledger, deliveries, installations, jobs
from selfheal.runtime.budget import MemoryBudget
from selfheal.runtime.context import Wiring
from selfheal.runtime.intake import MAX_BODY, payload_text
from selfheal.runtime.server import BODY_BUDGET, METRICS, ClientErrorLog, create_app
from tests.support.appcore import (
    Recorder,
    make_settings,
    pull_request_payload,
    running_server,
    sign,
    wait_for,
)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[TestServer, Ledger, Recorder]]:
    async with running_server(tmp_path / "hostile.db") as running:
        yield running


async def _post(
    srv: TestServer,
    body: bytes,
    *,
    content_type: str = "application/json",
    delivery_id: str = "d-1",
    signed: bool = True,
    signature_body: bytes | None = None,
) -> tuple[int, Any]:
    headers = {
        "Content-Type": content_type,
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": delivery_id,
    }
    if signed:
        headers["X-Hub-Signature-256"] = sign(body if signature_body is None else signature_body)
    async with aiohttp.ClientSession() as session:
        async with session.post(srv.make_url("/webhook"), data=body, headers=headers) as resp:
            return resp.status, await resp.json()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{}", "application/json; charset=no-such-charset"),  # was 500 (LookupError)
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),  # was 500 (RecursionError)
        (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "application/json"),
        (b'{"repository": {"full_name": "\\ud800"}}', "application/json"),  # was 503
        (b'{"action": "opened", "x": "\\udfff"}', "application/json"),
        (b"\xff\xfe{}", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'"a string"', "application/json"),
        (b"42", "application/json"),
        (b"null", "application/json"),
    ],
    ids=[
        "unknown-charset",
        "deep-array",
        "deep-object",
        "surrogate-in-repository",
        "surrogate-anywhere",
        "not-utf8",
        "array",
        "string",
        "number",
        "null",
    ],
)
async def test_signed_but_malformed_bodies_are_400_and_leave_no_trace(
    server: Any, body: bytes, content_type: str
) -> None:
    srv, ledger, _ = server
    status, answer = await _post(srv, body, content_type=content_type)
    assert status == 400, answer
    assert answer["status"].startswith("malformed body")
    assert ledger.read(deliveries.count) == 0
    assert sum(ledger.read(jobs.depth).values()) == 0


@pytest.mark.parametrize(
    ("body", "charset", "storable"),
    [
        (b'{"t": "\\ud83d\\ude00"}', "utf-8", True),  # an escaped pair: one character
        (b'{"t": "\\uD83D\\uDE00"}', "utf-8", True),
        (b'{"t": "\\\\ud800"}', "utf-8", True),  # an escaped backslash, then text
        (b'{"t": "\\ud800"}', "utf-8", False),
        (b'{"t": "\\uDFFF"}', "utf-8", False),
        (b'{"\\udc00": 1}', "utf-8", False),  # in a key
        (b'{"t": "\\ud83d\\ude00"}', "latin-1", True),  # re-encoded by json.dumps
        (b'{"t": "\\udfff"}', "latin-1", False),
        (b'{"t": "\\ud83d x \\ude00"}', "latin-1", False),  # two strays, not a pair
        # a charset that decodes escapes itself: raw surrogates reach the data, never a pair
        (b'{"t": "\\ud83d\\ude00"}', "raw-unicode-escape", False),
    ],
)
def test_only_unpaired_surrogates_make_a_payload_unstorable(
    body: bytes, charset: str, storable: bool
) -> None:
    data = json.loads(body.decode(charset))
    text = payload_text(body, f"application/json; charset={charset}", data)
    assert (text is not None) is storable
    if text is not None:
        assert json.loads(text) == data


async def test_other_charsets_are_decoded_and_stored_as_utf8_json(server: Any) -> None:
    srv, ledger, recorder = server
    payload = pull_request_payload()
    payload["pull_request"]["title"] = "caf\u00e9"
    latin1 = json.dumps(payload, ensure_ascii=False).encode("latin-1")
    status, _ = await _post(srv, latin1, content_type="application/json; charset=latin-1")
    assert status == 202  # was 500: the server re-decoded the body as UTF-8
    utf16 = json.dumps(payload).encode("utf-16")
    status, _ = await _post(
        srv, utf16, content_type="application/json; charset=utf-16", delivery_id="d-2"
    )
    assert status == 202
    await wait_for(lambda: len(recorder.events) == 2)
    for delivery_id in ("d-1", "d-2"):
        stored = ledger.read(lambda c, d=delivery_id: deliveries.get_delivery(c, d))
        assert stored is not None and stored.data() == payload
        assert stored.repository == "octo/demo"


@pytest.mark.parametrize(
    "installation",
    [
        {"id": 10**30},  # was 503: OverflowError binding it into SQLite
        {"id": True},  # a bool is an int in Python; it is not an installation id
        {"id": -5},
        {"id": "77"},
        {"id": 1e400},
    ],
    ids=["huge", "bool", "negative", "string", "infinity"],
)
async def test_odd_installation_ids_are_queued_without_one(
    server: Any, installation: dict[str, Any]
) -> None:
    srv, ledger, recorder = server
    payload = pull_request_payload()
    payload["installation"] = installation
    body = json.dumps(payload).encode()
    status, answer = await _post(srv, body)
    assert status == 202, answer
    await wait_for(lambda: ledger.read(jobs.depth)["done"] == 1)
    stored = ledger.read(lambda c: deliveries.get_delivery(c, "d-1"))
    assert stored is not None and stored.installation_id is None
    assert stored.outcome == "processed" and recorder.delivery_ids == ["d-1"]


async def test_payload_with_wrong_shapes_is_processed_not_retried_to_death(server: Any) -> None:
    srv, ledger, recorder = server
    payload = {
        "action": ["not", "a", "string"],
        "installation": {"id": 5, "account": {"login": "octo", "type": {"x": 1}}},
        "repository": {"id": 10**25, "full_name": "octo/demo", "private": {"y": 2}},
        "repositories_added": 7,
        "repositories_removed": "abc",
    }
    status, _ = await _post(srv, json.dumps(payload).encode())
    assert status == 202
    await wait_for(lambda: ledger.read(jobs.depth)["done"] == 1)
    found = ledger.read(lambda c: jobs.find(c, status=None, kind=None, limit=10))
    assert [j.attempts for j in found] == [1]  # no crash-and-retry in note_payload
    assert ledger.read(lambda c: installations.repositories_of(c, 5)) == []
    assert recorder.delivery_ids == ["d-1"]


async def test_signature_over_another_body_and_unsigned_are_401(server: Any) -> None:
    srv, ledger, _ = server
    body = json.dumps(pull_request_payload()).encode()
    status, _ = await _post(srv, body, signature_body=body + b" ")
    assert status == 401
    status, _ = await _post(srv, body, signed=False)
    assert status == 401
    assert ledger.read(deliveries.count) == 0


async def test_twenty_parallel_identical_deliveries_make_one_job(server: Any) -> None:
    srv, ledger, recorder = server
    body = json.dumps(pull_request_payload()).encode()
    answers = await asyncio.gather(*(_post(srv, body, delivery_id="same") for _ in range(20)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * 19 + [202]
    await wait_for(lambda: ledger.read(jobs.depth)["done"] == 1)
    assert ledger.read(deliveries.count) == 1
    assert recorder.delivery_ids == ["same"]


async def test_chunked_body_over_the_cap_without_length_is_413(server: Any) -> None:
    srv, ledger, _ = server

    async def chunks() -> AsyncIterator[bytes]:
        block = b" " * (1024 * 1024)
        for _ in range(MAX_BODY // len(block) + 2):
            yield block

    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "big",
        "X-Hub-Signature-256": "sha256=" + "0" * 64,
    }
    async with aiohttp.ClientSession() as session:
        try:
            async with session.post(
                srv.make_url("/webhook"), data=chunks(), headers=headers
            ) as resp:
                status = resp.status
        except aiohttp.ClientError:
            status = 413  # the server may close the connection while the client still sends
    assert status == 413
    # The server's own count says it refused the body as too large (a connection that broke
    # for another reason would leave it at 0).
    too_large = {"event": "unverified", "outcome": "too_large"}
    assert srv.app[METRICS].deliveries.value(too_large) == 1
    assert ledger.read(deliveries.count) == 0


async def test_oversized_header_is_rejected_by_the_http_layer(server: Any) -> None:
    srv, ledger, _ = server
    body = json.dumps(pull_request_payload()).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": "x" * 20_000,
        "X-Hub-Signature-256": sign(body),
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(srv.make_url("/webhook"), data=body, headers=headers) as resp:
            assert resp.status in (400, 431)
    status, answer = await _post(srv, body, delivery_id="y" * 200)
    assert (status, answer["status"]) == (400, "invalid X-GitHub-Delivery")
    assert ledger.read(deliveries.count) == 0


async def _raw_post(port: int, head: str, body: bytes = b"") -> tuple[asyncio.StreamReader, Any]:
    """Open a connection and send a request head (and maybe part of the body) by hand."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head.encode() + body)
    await writer.drain()
    return reader, writer


def _head(length: int, signature: str | None, delivery_id: str = "raw") -> str:
    lines = [
        "POST /webhook HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        "X-GitHub-Event: pull_request",
        f"X-GitHub-Delivery: {delivery_id}",
        f"Content-Length: {length}",
    ]
    if signature is not None:
        lines.append(f"X-Hub-Signature-256: {signature}")
    return "\r\n".join(lines) + "\r\n\r\n"


@pytest.mark.parametrize(
    "signature",
    [None, "", "sha1=" + "0" * 40, "sha256=nothex", "sha256=" + "0" * 65],
    ids=["missing", "empty", "sha1", "not-hex", "too-long"],
)
async def test_a_bad_signature_header_is_refused_before_the_body_is_read(
    server: Any, signature: str | None
) -> None:
    """The 10 MB the request announces are never sent: the answer must not wait for them."""
    srv, ledger, _ = server
    reader, writer = await _raw_post(srv.port, _head(10_000_000, signature))
    try:
        status_line = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 401 "), status_line
    unverified = {"event": "unverified", "outcome": "bad_signature"}
    assert srv.app[METRICS].deliveries.value(unverified) == 1
    assert ledger.read(deliveries.count) == 0


async def test_signed_bodies_wait_for_memory_instead_of_being_refused(tmp_path: Path) -> None:
    """Two 600 kB deliveries under a 1 MB budget: the second waits for the first to finish,
    then both are accepted. Nothing is refused for load."""
    payload = pull_request_payload()
    payload["padding"] = "x" * 600_000
    first = json.dumps(payload).encode()
    payload["number"] = 2
    second = json.dumps(payload).encode()
    ledger = Ledger.open(tmp_path / "budget.db")
    settings = make_settings(tmp_path / "budget.db", SELFHEAL_WORKERS="0")
    app = create_app(settings, ledger=ledger, github_factory=_no_github, wiring=Wiring())
    budget = app[BODY_BUDGET] = MemoryBudget(1_000_000)
    srv = TestServer(app, host="127.0.0.1", port=0)
    await srv.start_server()
    try:
        head = _head(len(first), sign(first), delivery_id="first")
        assert srv.port is not None
        reader, writer = await _raw_post(srv.port, head, first[:1000])
        await wait_for(lambda: budget.in_use == len(first))
        waiting = asyncio.create_task(_post(srv, second, delivery_id="second"))
        await wait_for(lambda: budget.waiting == 1)
        await asyncio.sleep(0.2)
        assert not waiting.done()
        writer.write(first[1000:])
        status_line = await asyncio.wait_for(reader.readline(), 10)
        writer.close()
        assert status_line.startswith(b"HTTP/1.1 202 "), status_line
        status, answer = await asyncio.wait_for(waiting, 10)
        assert status == 202, answer
        assert ledger.read(deliveries.count) == 2 and budget.in_use == 0
    finally:
        await srv.close()
        ledger.close()


async def _no_github(installation_id: int | None) -> Any:
    raise AssertionError("the intake never calls GitHub")


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [("gzip", gzip.compress), ("deflate", zlib.compress)],
    ids=["gzip", "deflate"],
)
async def test_a_compressed_body_is_refused_before_it_is_inflated(
    server: Any, encoding: str, pack: Any
) -> None:
    """Was 202: the HTTP layer inflated the body and the HMAC was checked over the result."""
    srv, ledger, _ = server
    body = json.dumps(pull_request_payload()).encode()
    headers = {
        "Content-Type": "application/json",
        "Content-Encoding": encoding,
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": "packed",
        "X-Hub-Signature-256": sign(body),
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(srv.make_url("/webhook"), data=pack(body), headers=headers) as resp:
            assert resp.status == 415, await resp.text()
            answer = await resp.json()
    assert answer["status"] == "unsupported Content-Encoding: send the body uncompressed"
    refused = {"event": "unverified", "outcome": "unsupported_media"}
    assert srv.app[METRICS].deliveries.value(refused) == 1
    assert ledger.read(deliveries.count) == 0


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"payload=" + urllib.parse.quote(json.dumps(pull_request_payload())).encode(),
         "application/x-www-form-urlencoded"),  # was 202
        (b"x=1", "application/x-www-form-urlencoded"),
        (json.dumps(pull_request_payload()).encode(), "text/plain"),
        (json.dumps(pull_request_payload()).encode(), "application/octet-stream"),
    ],
    ids=["form", "form-without-payload", "text-plain", "octet-stream"],
)  # fmt: skip
async def test_a_body_that_is_not_json_is_refused_unread(
    server: Any, body: bytes, content_type: str
) -> None:
    """GitHub Apps always send application/json; a form-encoded delivery is refused."""
    srv, ledger, _ = server
    status, answer = await _post(srv, body, content_type=content_type)
    assert (status, answer["status"]) == (
        415,
        "unsupported Content-Type: expected application/json",
    )
    refused = {"event": "unverified", "outcome": "unsupported_media"}
    assert srv.app[METRICS].deliveries.value(refused) == 1
    assert ledger.read(deliveries.count) == 0


@pytest.mark.parametrize(
    "extra",
    [
        "".join(f"X-Filler-{n}: {n}\r\n" for n in range(300)),
        "X-Big: " + "b" * 20_000 + "\r\n",
        "Bad Header Name: 1\r\n",
    ],
    ids=["too-many-headers", "oversized-header", "invalid-header"],
)
async def test_a_malformed_request_is_one_warning_line(
    server: Any, caplog: pytest.LogCaptureFixture, extra: str
) -> None:
    """Was an ERROR with a traceback from aiohttp: anyone on the internet could fill the logs."""
    srv, ledger, _ = server
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    head = f"POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Content-Length: 0\r\n\r\n"
    reader, writer = await _raw_post(srv.port, head)
    try:
        status_line = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
    assert status_line.split()[1] in (b"400", b"431"), status_line
    await wait_for(lambda: any(r.name == "aiohttp.server" for r in caplog.records))
    records = [
        r for r in caplog.records if r.name == "aiohttp.server" and r.levelno > logging.DEBUG
    ]
    assert [r.levelname for r in records] == ["WARNING"], caplog.text
    message = records[0].getMessage()
    assert records[0].exc_info is None and "\n" not in message
    assert message.startswith("Error handling request from 127.0.0.1: 4"), message
    assert ledger.read(deliveries.count) == 0


def test_other_errors_keep_their_level_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    server_log = ClientErrorLog(logging.getLogger("aiohttp.server"))
    with caplog.at_level(logging.DEBUG, logger="aiohttp.server"):
        try:
            raise ValueError("a bug in a handler")
        except ValueError as exc:
            server_log.exception("Error handling request from %s", "10.0.0.1", exc_info=exc)
    (record,) = caplog.records
    assert record.levelname == "ERROR" and record.exc_info is not None
