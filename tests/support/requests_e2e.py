"""What the change-request end-to-end tests read off the emulator and the ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from selfheal import changes, registry
from selfheal.coder.interface import BackendFactory
from selfheal.emulator import Emulator
from selfheal.emulator.gitdata import open_repo, refs
from selfheal.emulator.state import Repo
from selfheal.ledger import requests
from tests.support.e2e import REPO, Server, until

BOT = "selfheal[bot]"
REQUEST = "selfheal:request"


def state_labels(repo: Repo, number: int) -> list[str]:
    """The issue's ``selfheal:state/...`` labels (the bot keeps exactly one)."""
    return [x.name for x in repo.issues[number].labels if x.name.startswith("selfheal:state/")]


def bot_comments(repo: Repo, number: int) -> list[str]:
    return [c.body for c in repo.issues[number].comments if c.user.login == BOT]


def request_of(server: Server, number: int) -> requests.Request | None:
    return server.ledger.read(lambda c: requests.find_by_issue(c, REPO, number))


def pr_of(repo: Repo, number: int) -> Any:
    """The pull request that says ``Fixes #number``, if one was opened."""
    return next((i for i in repo.issues.values() if i.pull is not None
                 and f"Fixes #{number}" in (i.body or "")), None)  # fmt: skip


@asynccontextmanager
async def request_server(
    emu: Emulator,
    tmp_path: Path,
    files: Mapping[str, str],
    *,
    backends: Mapping[str, BackendFactory] | None = None,
    env: Mapping[str, str] | None = None,
) -> AsyncIterator[tuple[Repo, Server]]:
    """The repository ``files`` on the emulator, the real server (its changes feature coding
    with ``backends`` when given, ``env`` its extra settings), the App installed and its
    labels created."""
    repo = emu.create_repo(REPO, dict(files))
    wiring = None
    if backends is not None:
        features = [make() for make in registry.FEATURES]
        features = [f for f in features if f.name != "changes"]
        features.append(changes.feature(backends=backends))
        wiring = registry.compose(features)
    server = await Server.start(emu, tmp_path / "ledger.db", wiring=wiring, **(env or {}))
    try:
        emu.install([repo])
        await until(lambda: REQUEST in repo.labels, what="labels created")
        yield repo, server
    finally:
        await server.stop()


def selfheal_branches(repo: Repo) -> list[str]:
    return [r for r in refs(open_repo(repo.path)) if r.startswith("refs/heads/selfheal/")]


def status_comments(repo: Repo, number: int) -> list[str]:
    """The bot's status comments on the issue (the bot keeps exactly one)."""
    return [body for body in bot_comments(repo, number) if "selfheal:status" in body]
