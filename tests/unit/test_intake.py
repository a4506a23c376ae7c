"""The sans-I/O webhook checks of selfheal.runtime.intake, without a server."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from multidict import CIMultiDict

from selfheal.runtime import intake
from selfheal.runtime.intake import Delivery, Envelope, Refusal, SignedBody
from tests.support.appcore import SECRET, delivery, pull_request_payload, sign

EXPECT_JSON = "unsupported Content-Type: expected application/json"


def _headers(**changes: str | None) -> tuple[bytes, CIMultiDict[str]]:
    body, given = delivery(delivery_id="d-1")
    headers = CIMultiDict(given)
    headers["Content-Length"] = str(len(body))
    for name, value in changes.items():
        key = name.replace("_", "-")
        if value is None:
            headers.popall(key, None)
        else:
            headers[key] = value
    return body, headers


def test_a_signed_delivery_is_accepted() -> None:
    body, headers = _headers()
    result = intake.check_delivery(headers, body, SECRET)
    assert isinstance(result, Delivery)
    assert (result.event, result.delivery_id) == ("pull_request", "d-1")
    assert result.data == pull_request_payload() and result.text == body.decode()


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"X_Hub_Signature_256": None}, 401, "missing X-Hub-Signature-256"),
        ({"X_Hub_Signature_256": "sha1=" + "0" * 40}, 401, "bad signature"),
        ({"X_Hub_Signature_256": "sha256=" + "A" * 64}, 401, "bad signature"),
        ({"X_Hub_Signature_256": "sha256=" + "0" * 63}, 401, "bad signature"),
        ({"Content_Length": str(intake.MAX_BODY + 1)}, 413, "payload too large"),
        (
            {"Content_Encoding": "gzip"},
            415,
            "unsupported Content-Encoding: send the body uncompressed",
        ),
        (
            {"Content_Encoding": " BR "},
            415,
            "unsupported Content-Encoding: send the body uncompressed",
        ),
        ({"Content_Type": "application/x-www-form-urlencoded"}, 415, EXPECT_JSON),
        ({"Content_Type": "text/plain; charset=utf-8"}, 415, EXPECT_JSON),
        ({"Content_Type": None}, 415, EXPECT_JSON),
        ({"X_GitHub_Event": None}, 400, "missing X-GitHub-Event or X-GitHub-Delivery"),
        ({"X_GitHub_Delivery": "x" * 129}, 400, "invalid X-GitHub-Delivery"),
        ({"X_GitHub_Delivery": "a\nb"}, 400, "invalid X-GitHub-Delivery"),
    ],
)
def test_headers_alone_are_refused(
    changes: dict[str, str | None], status: int, message: str
) -> None:
    _, headers = _headers(**changes)
    refused = intake.check_headers(headers)
    assert isinstance(refused, Refusal)
    assert (refused.status, refused.message) == (status, message)


def test_the_envelope_carries_what_the_body_checks_need() -> None:
    body, headers = _headers()
    envelope = intake.check_headers(headers)
    assert envelope == Envelope("pull_request", "d-1", sign(body), "application/json", len(body))
    _, plain = _headers(Content_Encoding="identity")
    assert isinstance(intake.check_headers(plain), Envelope)
    _, chunked = _headers(Content_Length=None)
    assert isinstance(found := intake.check_headers(chunked), Envelope) and found.length is None


def test_the_hmac_is_the_same_in_chunks_and_only_sha256_is_taken() -> None:
    body = json.dumps(pull_request_payload()).encode()
    signed = SignedBody(SECRET)
    for start in range(0, len(body), 7):
        assert signed.feed(body[start : start + 7]) is None
    assert signed.body() == body and signed.size == len(body)
    assert signed.verify(sign(body)) is None
    assert signed.verify(sign(body, "another-secret-value")) == intake.BAD_SIGNATURE
    sha1 = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    assert signed.verify(sha1) == intake.BAD_SIGNATURE


def test_the_size_cap_is_kept_while_feeding() -> None:
    signed = SignedBody(SECRET, limit=10)
    assert signed.feed(b"12345") is None
    assert signed.feed(b"123456") == intake.TOO_LARGE
    assert signed.body() == b""  # what was kept is let go


@pytest.mark.parametrize(
    ("body", "message", "event"),
    [
        (b'{"a": ', "malformed body: expected JSON", "unknown"),
        (b"", "malformed body: expected JSON", "unknown"),
        (b"[1]", "malformed body: expected a JSON object", "pull_request"),
        (
            b'{"a": "\\ud800"}',
            "malformed body: not storable (unpaired surrogates?)",
            "pull_request",
        ),
    ],
)
def test_a_signed_body_that_is_not_a_storable_object_is_400(
    body: bytes, message: str, event: str
) -> None:
    _, headers = _headers(X_Hub_Signature_256=sign(body), Content_Length=str(len(body)))
    refused = intake.check_delivery(headers, body, SECRET)
    assert refused == Refusal(400, message, "bad_request", event)
