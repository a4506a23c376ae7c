"""Typed access from a request to the emulator and the caller's identity."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from .auth import Identity, require
from .responses import not_found
from .state import Issue, Repo

if TYPE_CHECKING:
    from .emulator import Emulator

EMULATOR_KEY: web.AppKey[Emulator] = web.AppKey("github_emulator")
IDENTITY_KEY: web.RequestKey[Identity] = web.RequestKey("identity", Identity)


def emu(request: web.Request) -> Emulator:
    return request.app[EMULATOR_KEY]


def identity(request: web.Request) -> Identity:
    return request.get(IDENTITY_KEY) or Identity("anonymous")


def repo_for(request: web.Request, need: str = "read") -> Repo:
    """The repository named in the path, checked for the caller's ``need`` permission."""
    repo = emu(request).world.repo(request.match_info["owner"], request.match_info["repo"])
    if repo is None:
        raise not_found()
    require(identity(request), repo, need)
    return repo


def issue_for(repo: Repo, number: str, *, pulls: bool | None = None) -> Issue:
    """Issue ``number`` (a path segment the route matched with ``\\d+``); pulls=True requires
    a PR, False a plain issue, None either."""
    issue = repo.issues.get(int(number))
    if issue is None or (pulls is True and issue.pull is None):
        raise not_found()
    if pulls is False and issue.pull is not None:
        raise not_found()
    return issue
