"""The checks on one webhook delivery, sans-I/O: headers, body and secret in; an accepted
:class:`Delivery` or a :class:`Refusal` out.

Like gidgethub's ``sansio`` module, nothing here touches a socket or the ledger. The aiohttp
handler in :mod:`selfheal.runtime.server` reads the body, feeds it to these functions, records
what they accept and answers what they refuse. The checks, in order:

1. :func:`check_headers`, before any of the body is read: the declared length (413), the
   ``X-Hub-Signature-256`` header, which must be ``sha256=`` and 64 hex digits (401), a
   ``Content-Encoding`` other than ``identity`` or a ``Content-Type`` other than
   ``application/json`` (415: GitHub Apps always send JSON, never form-encoded), then
   ``X-GitHub-Event`` and ``X-GitHub-Delivery`` (400);
2. :class:`SignedBody`, chunk by chunk as the body arrives: the 25 MiB cap (413), then the
   HMAC-SHA256 of the whole body with the webhook secret (401, compared in constant time);
3. :func:`parse`, once the signature holds: the body must decode to a JSON object (400) that
   SQLite can store (400).

``headers`` is a case-insensitive mapping, such as aiohttp's ``request.headers`` or a
``multidict.CIMultiDict``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

MAX_BODY = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MiB
MAX_DELIVERY_ID = 128
SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
_SIGNATURE = re.compile(r"sha256=[0-9a-f]{64}")
UTF8_NAMES = frozenset({"utf-8", "utf8"})
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


@dataclass(frozen=True, slots=True)
class Refusal:
    """An answer other than 2xx: the HTTP status and message, and the ``outcome`` and
    ``event`` labels of ``selfheal_deliveries_total``. ``limit`` is the size cap of a 413."""

    status: int
    message: str
    outcome: str
    event: str = "unverified"
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the headers say, checked before the body is read."""

    event: str
    delivery_id: str
    signature: str
    content_type: str
    length: int | None  # the declared Content-Length (None: chunked)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A verified delivery: its data, and the text to store in the ledger."""

    event: str
    delivery_id: str
    data: dict[str, Any] = field(repr=False)
    text: str = field(repr=False)


TOO_LARGE = Refusal(413, "payload too large", "too_large", limit=MAX_BODY)
BAD_SIGNATURE = Refusal(401, "bad signature", "bad_signature")


def declared_length(headers: Mapping[str, str]) -> int | None:
    """The Content-Length header as a number; None when absent or not a number."""
    value = headers.get("Content-Length", "").strip()
    return int(value) if value.isascii() and value.isdigit() else None


def _signature_refusal(headers: Mapping[str, str]) -> Refusal | None:
    signature = headers.get(SIGNATURE_HEADER, "")
    if not signature:
        return Refusal(401, f"missing {SIGNATURE_HEADER}", "bad_signature")
    if _SIGNATURE.fullmatch(signature) is None:
        # Only HMAC-SHA256: gidgethub's validator would also take "sha1=" here.
        return BAD_SIGNATURE
    return None


def _media_refusal(headers: Mapping[str, str]) -> Refusal | None:
    """GitHub never compresses a delivery, and a GitHub App's deliveries are always JSON: a
    compressed body is not inflated, nor a form-encoded one decoded, before the HMAC."""
    encoding = headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        message = "unsupported Content-Encoding: send the body uncompressed"
        return Refusal(415, message, "unsupported_media")
    media, _ = _media_type(headers.get("Content-Type", ""))
    if media != "application/json":
        message = "unsupported Content-Type: expected application/json"
        return Refusal(415, message, "unsupported_media")
    return None


def _id_refusal(headers: Mapping[str, str]) -> Refusal | None:
    event = headers.get("X-GitHub-Event", "")
    delivery_id = headers.get("X-GitHub-Delivery", "")
    if not event or not delivery_id:
        return Refusal(400, "missing X-GitHub-Event or X-GitHub-Delivery", "bad_request", "unknown")
    if len(delivery_id) > MAX_DELIVERY_ID or not delivery_id.isprintable():
        return Refusal(400, "invalid X-GitHub-Delivery", "bad_request", "unknown")
    return None


def check_headers(headers: Mapping[str, str], *, limit: int = MAX_BODY) -> Envelope | Refusal:
    """Everything that can be refused from the headers alone, before the body is read."""
    length = declared_length(headers)
    if length is not None and length > limit:
        return TOO_LARGE
    refusal = _signature_refusal(headers) or _media_refusal(headers) or _id_refusal(headers)
    if refusal is not None:
        return refusal
    return Envelope(
        headers["X-GitHub-Event"],
        headers["X-GitHub-Delivery"],
        headers[SIGNATURE_HEADER],
        headers.get("Content-Type", ""),
        length,
    )


class SignedBody:
    """A body fed in chunks as it arrives: kept under the size cap, and hashed on the way in
    so the signature is known the moment the last chunk is in."""

    def __init__(self, secret: str, *, limit: int = MAX_BODY) -> None:
        self._mac = hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)
        self._chunks: list[bytes] = []
        self.size = 0
        self.limit = limit

    def feed(self, chunk: bytes) -> Refusal | None:
        """Take the next chunk; a refusal (413) once the body passes the cap."""
        self.size += len(chunk)
        if self.size > self.limit:
            self._chunks.clear()
            return TOO_LARGE
        self._mac.update(chunk)
        self._chunks.append(chunk)
        return None

    def verify(self, signature: str) -> Refusal | None:
        """None when ``signature`` is the HMAC of everything fed; else a refusal (401)."""
        expected = SIGNATURE_PREFIX + self._mac.hexdigest()
        return None if hmac.compare_digest(expected, signature) else BAD_SIGNATURE

    def body(self) -> bytes:
        return b"".join(self._chunks)


def _media_type(content_type: str) -> tuple[str, str]:
    """The media type and charset of a Content-Type value (charset default UTF-8)."""
    message = Message()
    message["content-type"] = content_type
    charset = str(message.get_param("charset") or "utf-8")
    return message.get_content_type(), charset


def _decode(content_type: str, body: bytes) -> Any:
    """The JSON in the body, in its declared charset. Raises ValueError (UnicodeDecodeError,
    bad JSON), LookupError (an unknown charset) or RecursionError (nested too deeply)."""
    _, charset = _media_type(content_type)
    return json.loads(body.decode(charset))


def payload_text(body: bytes, content_type: str, data: Any) -> str | None:
    """The payload as stored: the body itself when it is UTF-8 JSON, else the decoded data
    re-encoded (JSON in another charset). None when the data cannot be stored
    in SQLite (unpaired surrogates), which only a hostile sender produces."""
    _, charset = _media_type(content_type)
    text: str | None = None
    if charset.lower().replace("_", "-") in UTF8_NAMES:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    if text is None:
        text = json.dumps(data)
    # text holds no surrogate itself (it is strict UTF-8, or json.dumps' ASCII), so one in data
    # shows in text as a \uD800-\uDFFF escape. Only then is data encoded whole (~0.3 ms for a
    # pull_request payload, as long as verifying it) to tell a stray from a pair.
    if _SURROGATE_ESCAPE.search(text) is None:
        return text
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return None
    return text


def parse(envelope: Envelope, body: bytes) -> Delivery | Refusal:
    """The delivery in a body whose signature has been verified."""
    try:
        data = _decode(envelope.content_type, body)
    except (ValueError, LookupError, RecursionError):
        # All are the sender's fault: 400, not 500.
        return Refusal(400, "malformed body: expected JSON", "bad_request", "unknown")
    if not isinstance(data, dict):
        return Refusal(400, "malformed body: expected a JSON object", "bad_request", envelope.event)
    text = payload_text(body, envelope.content_type, data)
    if text is None:
        message = "malformed body: not storable (unpaired surrogates?)"
        return Refusal(400, message, "bad_request", envelope.event)
    return Delivery(envelope.event, envelope.delivery_id, data, text)


def check_delivery(
    headers: Mapping[str, str], body: bytes, secret: str, *, limit: int = MAX_BODY
) -> Delivery | Refusal:
    """Every check, in order, on a body already in memory."""
    envelope = check_headers(headers, limit=limit)
    if isinstance(envelope, Refusal):
        return envelope
    signed = SignedBody(secret, limit=limit)
    refusal = signed.feed(body) or signed.verify(envelope.signature)
    return refusal or parse(envelope, body)
