"""Helpers shared by the app-core tests: a real RSA key, settings and signed deliveries."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from gidgethub.sansio import Event

from selfheal.config.settings import Settings, parse_settings
from selfheal.ledger import Ledger
from selfheal.runtime.context import JobContext, Wiring
from selfheal.runtime.server import create_app

SECRET = "test-webhook-secret-0123456789"


@functools.cache
def rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def base_env(db: Path, **extra: str) -> dict[str, str]:
    env = {
        "SELFHEAL_APP_ID": "4242",
        "SELFHEAL_PRIVATE_KEY": rsa_pem(),
        "SELFHEAL_WEBHOOK_SECRET": SECRET,
        "SELFHEAL_DB": str(db),
        "SELFHEAL_POLL_INTERVAL": "0.05",
        "SELFHEAL_JOB_BACKOFF_SECONDS": "0",
    }
    env.update(extra)
    return env


def make_settings(db: Path, **extra: str) -> Settings:
    return parse_settings(base_env(db, **extra))


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def pull_request_payload(number: int = 1, repo: str = "octo/demo") -> dict[str, Any]:
    return {
        "action": "opened",
        "number": number,
        "pull_request": {"number": number, "head": {"sha": "a" * 40}, "base": {"sha": "b" * 40}},
        "repository": {"id": 1001, "full_name": repo, "default_branch": "main"},
        "installation": {"id": 77},
        "sender": {"login": "octocat"},
    }


def delivery(
    payload: Mapping[str, Any] | None = None,
    *,
    event: str = "pull_request",
    delivery_id: str | None = None,
    secret: str = SECRET,
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload if payload is not None else pull_request_payload()).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body, secret),
    }
    return body, headers


class Recorder:
    """A dispatch hook that records what the worker handed it."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, int | None]] = []

    async def __call__(self, event: Event, ctx: JobContext) -> None:
        self.events.append((event.event, event.delivery_id, ctx.installation_id))

    @property
    def delivery_ids(self) -> list[str]:
        return [delivery_id for _, delivery_id, _ in self.events]


@contextlib.asynccontextmanager
async def running_server(db_path: Path) -> AsyncIterator[tuple[TestServer, Ledger, Recorder]]:
    """The real application on a loopback port with one worker, a recording dispatch hook and
    a stand-in GitHub client factory (these tests never reach GitHub)."""
    ledger = Ledger.open(db_path)
    recorder = Recorder()
    settings = make_settings(db_path, SELFHEAL_WORKERS="1")

    async def factory(installation_id: int | None) -> Any:
        return {"installation": installation_id}

    app = create_app(
        settings, ledger=ledger, github_factory=factory, wiring=Wiring(dispatchers=(recorder,))
    )
    srv = TestServer(app, host="127.0.0.1", port=0)
    await srv.start_server()
    try:
        yield srv, ledger, recorder
    finally:
        await srv.close()
        ledger.close()


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)
