"""What the change-request end-to-end tests read off the emulator and the ledger."""

from __future__ import annotations

from typing import Any

from selfheal.ledger import requests
from tests.github_emulator.state import Repo
from tests.support.e2e import REPO, Server

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
