"""Notifications, pure: the events, the targets, the signature and the two body formats.

The operator owns where notifications go (``SELFHEAL_NOTIFY_URLS``) and the signing secret
(``SELFHEAL_NOTIFY_SECRET``): a URL in a repository file would be readable by anyone with
access, and could aim the App at internal hosts. A repository may only pick which events it
wants (``notifications.events`` in ``.github/selfheal.yml``).

A target is ``https://...``, or ``http://`` to a loopback host (development only); a
``slack:`` prefix sends the Slack-compatible text form (``{"text": ...}``) instead of the
JSON event. Each body is signed: ``X-Selfheal-Signature-256: sha256=<hex>``, the HMAC-SHA256
of the exact body bytes with the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

EVENTS = (
    "request.blocked",
    "request.rolled_back",
    "request.budget_exceeded",
    "halt.started",
    "halt.resumed",
    "finding.critical",
    "monitor.issue_filed",
)
SIGNATURE_HEADER = "X-Selfheal-Signature-256"
EVENT_HEADER = "X-Selfheal-Event"
DELIVERY_HEADER = "X-Selfheal-Delivery"
SLACK_PREFIX = "slack:"
MAX_URL = 2000
MAX_TEXT = 3000  # Slack's section text limit; longer texts are cut


class TargetError(ValueError):
    """A notification URL that selfheal refuses; the message says why."""


@dataclass(frozen=True)
class Target:
    url: str
    slack: bool = False

    @property
    def shown(self) -> str:
        """The URL without its path and query (webhook URLs often carry a secret there)."""
        parts = urlsplit(self.url)
        return f"{'slack:' if self.slack else ''}{parts.scheme}://{parts.netloc}/..."


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_target(raw: str) -> Target:
    """One configured target; raises :class:`TargetError`."""
    text = raw.strip()
    slack = text.lower().startswith(SLACK_PREFIX)
    url = text[len(SLACK_PREFIX) :] if slack else text
    if not url or len(url) > MAX_URL:
        raise TargetError("a notification URL is empty or longer than 2000 characters")
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.username or parts.password:
        raise TargetError("a notification URL must not carry a user name or password")
    if not host:
        raise TargetError(f"the notification URL {url[:60]!r} has no host")
    if parts.scheme == "https" or (parts.scheme == "http" and _loopback(host)):
        return Target(url, slack)
    raise TargetError(
        f"notification URLs must use https (http only to a loopback host), got {parts.scheme!r}"
    )


def parse_targets(raw: str) -> tuple[Target, ...]:
    """``SELFHEAL_NOTIFY_URLS``: comma-separated targets."""
    return tuple(parse_target(part) for part in raw.split(",") if part.strip())


def choose(events: tuple[str, ...] | None, event: str) -> bool:
    """Whether a repository that picked ``events`` (None: all of them) wants ``event``."""
    return events is None or event in events


@dataclass(frozen=True)
class Notification:
    event: str
    repository: str
    summary: str  # one line, for people
    url: str = ""  # the issue, PR or run it is about
    details: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise ValueError(f"unknown notification event {self.event!r}")


def json_body(note: Notification, delivery: str, at: float) -> bytes:
    payload = {
        "event": note.event,
        "delivery": delivery,
        "repository": note.repository,
        "summary": note.summary,
        "url": note.url,
        "details": dict(note.details or {}),
        "at": at,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def _escape_slack(text: str) -> str:
    """Slack's three control characters; a mention cannot be forged through the text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(note: Notification) -> bytes:
    line = f"*selfheal* `{note.event}` in {note.repository}: {note.summary}"
    text = _escape_slack(line)[:MAX_TEXT]
    if note.url:
        text += f" <{note.url}|open>"
    return json.dumps({"text": text}).encode()


def body_for(target: Target, note: Notification, delivery: str, at: float) -> bytes:
    return slack_body(note) if target.slack else json_body(note, delivery, at)


def sign(body: bytes, secret: str) -> str:
    """The ``X-Selfheal-Signature-256`` value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header: str) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    return hmac.compare_digest(sign(body, secret), header)
