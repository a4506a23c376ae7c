"""API tokens (stored hashed, shown once), their CLI, the per-token limits, and the
operator's /metrics token."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from selfheal.api import tokens
from selfheal.api.limits import Limiter
from selfheal.cli import main
from selfheal.config.settings import SettingsError
from selfheal.ledger import Ledger, audit
from selfheal.runtime.context import Wiring
from selfheal.runtime.server import create_app
from tests.support.appcore import make_settings


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger.open(tmp_path / "ledger.db")


def test_a_token_is_stored_hashed_and_found_by_its_value(ledger: Ledger) -> None:
    token, value = ledger.write(
        lambda c: tokens.create(c, "ci", scopes=["read", "request"], repositories=["a/b"],
                                github_login="alice", now=100.0)
    )  # fmt: skip
    assert tokens.TOKEN_SHAPE.fullmatch(value) and token.prefix == value[:8]
    rows = ledger.read(lambda c: [tuple(r) for r in c.execute("SELECT * FROM api_tokens")])
    assert value not in repr(rows) and tokens.digest(value) in repr(rows)
    found = ledger.read(lambda c: tokens.lookup(c, value))
    assert found is not None and found.name == "ci" and found.scopes == ("read", "request")
    assert found.covers("A/B") and not found.covers("a/c")
    assert ledger.read(lambda c: tokens.lookup(c, value[:-1] + "x")) is None
    assert ledger.read(lambda c: tokens.lookup(c, "not a token")) is None


@pytest.mark.parametrize(
    ("name", "scopes", "repos", "login", "problem"),
    [
        ("Bad Name", ["read"], ["a/b"], None, "name"),
        ("ok", [], ["a/b"], None, "scopes"),
        ("ok", ["root"], ["a/b"], None, "scopes"),
        ("ok", ["read"], [], None, "repository"),
        ("ok", ["read"], ["a/b/c"], None, "owner/name"),
        ("ok", ["read"], ["a/b"], "-x", "login"),
    ],
)
def test_a_bad_token_is_refused_with_the_reason(
    ledger: Ledger, name: str, scopes: list[str], repos: list[str], login: str | None,
    problem: str,
) -> None:  # fmt: skip
    with pytest.raises(tokens.TokenError, match=problem):
        ledger.write(lambda c: tokens.create(c, name, scopes=scopes, repositories=repos,
                                             github_login=login))  # fmt: skip


def test_revoked_and_expired_tokens_are_inactive(ledger: Ledger) -> None:
    token, _ = ledger.write(
        lambda c: tokens.create(c, "t", scopes=["read"], repositories=["a/b"], expires_at=200.0,
                                now=100.0)
    )  # fmt: skip
    assert token.active(150.0) and not token.active(200.0)
    revoked = ledger.write(lambda c: tokens.revoke(c, "t", now=120.0))
    assert not revoked.active(121.0)
    with pytest.raises(tokens.TokenError, match="already"):
        ledger.write(lambda c: tokens.revoke(c, "t"))
    with pytest.raises(tokens.TokenError, match="no token"):
        ledger.write(lambda c: tokens.revoke(c, "nope"))


def test_the_token_commands_show_the_value_once_and_audit_without_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "ledger.db")
    assert main(["token", "create", "orch", "--scope", "request", "--scope", "read",
                 "--repo", "acme/widgets", "--expires-in", "30d", "--format", "json",
                 "--db", db]) == 0  # fmt: skip
    created = json.loads(capsys.readouterr().out)
    value = created["token"]
    assert tokens.TOKEN_SHAPE.fullmatch(value)
    assert main(["token", "list", "--format", "json", "--db", db]) == 0
    listed = capsys.readouterr().out
    assert value not in listed and json.loads(listed)[0]["active"] is True
    assert main(["token", "create", "orch", "--scope", "read", "--repo", "a/b", "--db", db]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["token", "create", "x", "--scope", "read", "--repo", "a/b", "--expires-in",
                 "soon", "--db", db]) == 2  # fmt: skip
    assert main(["token", "revoke", "orch", "--db", db]) == 0
    assert main(["token", "revoke", "orch", "--db", db]) == 2
    with Ledger.open(db) as ledger:
        entries = ledger.read(lambda c: audit.entries(c, actor="operator"))
        assert [e.action for e in reversed(entries)] == ["api.token_created", "api.token_revoked"]
        assert value not in repr([e.to_dict() for e in entries])
        assert ledger.read(lambda c: tokens.lookup(c, value)) is not None  # found, but revoked


def test_the_limiter_allows_a_burst_then_the_rate_and_caps_calls_in_flight() -> None:
    limiter = Limiter(rate=2.0, burst=3, concurrency=2)
    assert limiter.acquire("a", 0.0) is None
    assert limiter.acquire("a", 0.0) is None
    assert limiter.acquire("a", 0.0) == 1  # two in flight
    limiter.release("a")
    limiter.release("a")
    assert limiter.acquire("a", 0.0) is None
    limiter.release("a")
    assert limiter.acquire("a", 0.0) == 1  # the burst of 3 is spent: wait for the rate
    assert limiter.acquire("b", 0.0) is None  # another token has its own bucket
    assert limiter.acquire("a", 0.5) is None  # 0.5 s at 2/s is one more call
    limiter.release("a")
    slow = Limiter(rate=0.1, burst=1, concurrency=5)
    assert slow.acquire("a", 0.0) is None
    assert slow.acquire("a", 0.0) == 10  # Retry-After: one call per 10 s


async def test_metrics_want_the_metrics_token_when_one_is_set(tmp_path: Path) -> None:
    metrics_token = "m" * 24
    settings = make_settings(tmp_path / "m.db", SELFHEAL_WORKERS="0",
                             SELFHEAL_METRICS_TOKEN=metrics_token)  # fmt: skip
    assert metrics_token in settings.secret_values() and metrics_token not in repr(settings)
    with Ledger.open(tmp_path / "m.db") as ledger:
        server = TestServer(create_app(settings, ledger=ledger, wiring=Wiring()),
                            host="127.0.0.1", port=0)  # fmt: skip
        await server.start_server()
        try:
            url = str(server.make_url("/metrics"))
            async with aiohttp.ClientSession() as session:
                for auth, status in ((None, 401), ("Bearer wrong", 401),
                                     (f"Bearer {metrics_token}", 200)):  # fmt: skip
                    headers = {} if auth is None else {"Authorization": auth}
                    async with session.get(url, headers=headers) as resp:
                        assert resp.status == status
        finally:
            await server.close()
    with pytest.raises(SettingsError, match="too short"):
        make_settings(tmp_path / "m.db", SELFHEAL_METRICS_TOKEN="short")
