"""Notifications, the pure part: targets, signatures and the two body formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfheal.config.settings import SettingsError, parse_settings
from selfheal.model.notifications import (
    EVENTS,
    Notification,
    Target,
    TargetError,
    body_for,
    choose,
    json_body,
    parse_target,
    parse_targets,
    sign,
    slack_body,
    verify,
)
from tests.support.appcore import base_env


def test_the_signature_is_hmac_sha256_of_the_body() -> None:
    # a published HMAC-SHA256 known answer (key "key")
    body = b"The quick brown fox jumps over the lazy dog"
    expected = "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    assert sign(body, "key") == expected
    assert verify(body, "key", expected)
    assert not verify(body + b" ", "key", expected)
    assert not verify(body, "other", expected)


@pytest.mark.parametrize(
    ("raw", "slack"),
    [
        ("https://hooks.example.com/in/abc", False),
        ("http://127.0.0.1:8080/hook", False),
        ("http://localhost/hook", False),
        ("http://[::1]:9/x", False),
        ("slack:https://hooks.slack.example/services/T/B/x", True),
    ],
)
def test_https_and_loopback_http_targets_are_accepted(raw: str, slack: bool) -> None:
    target = parse_target(raw)
    assert target.slack is slack and raw.endswith(target.url)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("http://hooks.example.com/x", "must use https"),
        ("http://10.0.0.5/x", "must use https"),
        ("ftp://example.com/x", "must use https"),
        ("https://user:pw@example.com/x", "user name or password"),
        ("https:///nohost", "has no host"),
        ("slack:", "empty"),
        ("https://example.com/" + "a" * 2000, "longer than 2000"),
    ],
)
def test_other_targets_are_refused(raw: str, why: str) -> None:
    with pytest.raises(TargetError, match=why):
        parse_target(raw)


def test_targets_hide_their_path_when_shown() -> None:
    (target,) = parse_targets(" https://hooks.example.com/services/SECRET-TOKEN , ")
    assert "SECRET" not in target.shown and target.shown == "https://hooks.example.com/..."


def test_bodies_are_json_events_or_slack_text() -> None:
    note = Notification("request.blocked", "acme/widgets", "blocked <!channel> & co",
                        "https://github.example/acme/widgets/issues/3", {"issue": 3})  # fmt: skip
    data = json.loads(json_body(note, "ntf_1", 12.5))
    assert data == {"event": "request.blocked", "delivery": "ntf_1",
                    "repository": "acme/widgets", "summary": "blocked <!channel> & co",
                    "url": "https://github.example/acme/widgets/issues/3",
                    "details": {"issue": 3}, "at": 12.5}  # fmt: skip
    text = json.loads(slack_body(note))["text"]
    assert "&lt;!channel&gt; &amp; co" in text and "<!channel>" not in text
    assert text.endswith("<https://github.example/acme/widgets/issues/3|open>")
    assert body_for(Target("https://x.example/", slack=True), note, "n", 1.0) == slack_body(note)
    with pytest.raises(ValueError, match="unknown notification event"):
        Notification("request.whatever", "a/b", "x")


def test_a_repository_only_chooses_among_the_events() -> None:
    assert all(choose(None, event) for event in EVENTS)
    assert choose(("halt.started",), "halt.started")
    assert not choose(("halt.started",), "request.blocked")
    assert not choose((), "halt.started")


def test_settings_need_a_secret_with_the_urls_and_mask_both() -> None:
    env = base_env(Path("x.db"))
    assert parse_settings(env).notify_targets == ()
    with pytest.raises(SettingsError, match="SELFHEAL_NOTIFY_SECRET must be too"):
        parse_settings({**env, "SELFHEAL_NOTIFY_URLS": "https://hooks.example.com/a"})
    with pytest.raises(SettingsError, match=r"SELFHEAL_NOTIFY_URLS: .*https"):
        parse_settings({**env, "SELFHEAL_NOTIFY_URLS": "http://example.com/a",
                        "SELFHEAL_NOTIFY_SECRET": "s" * 20})  # fmt: skip
    settings = parse_settings({**env, "SELFHEAL_NOTIFY_URLS": "https://hooks.example.com/tok",
                               "SELFHEAL_NOTIFY_SECRET": "n" * 20})  # fmt: skip
    assert "n" * 20 in settings.secret_values()
    assert "https://hooks.example.com/tok" in settings.secret_values()
    assert "n" * 20 not in repr(settings)
