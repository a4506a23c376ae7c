"""Shared pieces of the API tests: tokens made in a server's ledger, and SDK clients."""

from __future__ import annotations

from collections.abc import Sequence

from selfheal.api import tokens
from selfheal.sdk import SelfHealClient
from tests.support.e2e import Server

ALL_SCOPES = ("request", "approve", "halt", "read", "scan", "report")


def api_url(server: Server) -> str:
    """The server's base URL (its webhook URL without ``/webhook``)."""
    return server.url.rsplit("/webhook", 1)[0]


def make_token(
    server: Server,
    name: str,
    repositories: Sequence[str],
    scopes: Sequence[str] = ALL_SCOPES,
    *,
    login: str | None = None,
    expires_at: float | None = None,
) -> str:
    """A new token's value, created in the server's ledger."""
    _, value = server.ledger.write(
        lambda c: tokens.create(c, name, scopes=scopes, repositories=repositories,
                                github_login=login, expires_at=expires_at)
    )  # fmt: skip
    return value


def client(server: Server, token: str, **options: object) -> SelfHealClient:
    return SelfHealClient(api_url(server), token, retries=1, backoff=0.05, **options)  # type: ignore[arg-type]
