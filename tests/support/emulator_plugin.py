"""pytest plugin: the ``github_emulator`` fixture (function scope, async).

It starts an Emulator on 127.0.0.1 (ephemeral port) with one App ("selfheal"; RSA key generated
once per session and reused) and yields it; ``webhook_receiver`` adds a WebhookReceiver that
gets the App's webhooks. Register in tests/conftest.py::

    pytest_plugins = ["tests.support.emulator_plugin"]
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from selfheal.emulator import Emulator, generate_private_key
from tests.support.webhook_receiver import WebhookReceiver


@pytest.fixture(scope="session")
def github_app_private_key() -> bytes:
    """One 2048-bit RSA key (PEM) per test session, shared by every emulator's App."""
    return generate_private_key()


@pytest.fixture
async def github_emulator(tmp_path: Path, github_app_private_key: bytes) -> AsyncIterator[Emulator]:
    emulator = Emulator(tmp_path / "github", private_key_pem=github_app_private_key)
    emulator.root.mkdir(parents=True, exist_ok=True)
    await emulator.start()
    emulator.create_app("selfheal")
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest.fixture
async def webhook_receiver(github_emulator: Emulator) -> AsyncIterator[WebhookReceiver]:
    """A WebhookReceiver on 127.0.0.1 that the emulator's App sends its webhooks to."""
    receiver = WebhookReceiver(secret=github_emulator.app.webhook_secret)
    github_emulator.set_webhook_url(await receiver.start())
    try:
        yield receiver
    finally:
        await receiver.stop()
