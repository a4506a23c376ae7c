"""What the features ask GitHub about a repository: a file's text, the default branch's
head, the repository config from it (text cached by commit SHA in the worker's cache), a
user's permission, and whether a PR is the bot's own."""

from __future__ import annotations

import base64
from typing import Any

import gidgethub

from selfheal.github.protocol import GitHubAPI
from selfheal.model.repo_config import (
    DEFAULT_PATH,
    ConfigError,
    RepoConfig,
    TextCache,
    load_repo_config,
)

WRITE_ROLES = frozenset({"admin", "maintain", "write"})
BOT_BRANCH_PREFIX = "selfheal/"


def split(full_name: str) -> tuple[str, str]:
    owner, _, name = full_name.partition("/")
    return owner, name


async def read_text(gh: GitHubAPI, full_name: str, path: str, ref: str) -> str | None:
    """A file's text at ``ref`` through the contents API; None when it does not exist."""
    owner, name = split(full_name)
    try:
        item = await gh.call("repos.get_content", owner=owner, repo=name, path=path, ref=ref)
    except gidgethub.BadRequest as exc:
        if exc.status_code == 404:
            return None
        raise
    if not isinstance(item, dict) or item.get("type") != "file":
        return None
    return base64.b64decode(str(item.get("content") or "")).decode("utf-8", "replace")


async def default_branch_sha(gh: GitHubAPI, full_name: str, branch: str | None) -> tuple[str, str]:
    owner, name = split(full_name)
    if not branch:
        branch = str((await gh.call("repos.get", owner=owner, repo=name))["default_branch"])
    info = await gh.call("repos.get_branch", owner=owner, repo=name, branch=branch)
    return branch, str(info["commit"]["sha"])


async def repo_config(
    gh: GitHubAPI,
    full_name: str,
    cache: TextCache | None = None,
    default_branch: str | None = None,
) -> RepoConfig | ConfigError:
    """``.github/selfheal.yml`` from the default branch (text cached by commit SHA in
    ``cache``, when given). A bad file is returned as its :class:`ConfigError` so the caller
    can fail closed with it."""
    _, sha = await default_branch_sha(gh, full_name, default_branch)

    async def load() -> str | None:
        return await read_text(gh, full_name, DEFAULT_PATH, sha)

    text = await load() if cache is None else await cache.fetch(full_name, sha, DEFAULT_PATH, load)
    try:
        return load_repo_config(text, DEFAULT_PATH)
    except ConfigError as exc:
        return exc


async def permission_of(gh: GitHubAPI, full_name: str, login: str) -> str:
    """The user's role on the repository (admin, maintain, write, triage, read or none)."""
    owner, name = split(full_name)
    try:
        data = await gh.call(
            "repos.get_collaborator_permission_level", owner=owner, repo=name, username=login
        )
    except gidgethub.BadRequest as exc:
        if exc.status_code == 404:
            return "none"
        raise
    return str(data.get("role_name") or data.get("permission") or "none")


async def can_write(gh: GitHubAPI, full_name: str, login: str) -> bool:
    return await permission_of(gh, full_name, login) in WRITE_ROLES


def is_bot_pr(pr: dict[str, Any], bot: str) -> bool:
    """The bot's own PR: authored by the bot or on a ``selfheal/`` branch."""
    author = str((pr.get("user") or {}).get("login") or "")
    head_ref = str((pr.get("head") or {}).get("ref") or "")
    return author.lower() == bot.lower() or head_ref.startswith(BOT_BRANCH_PREFIX)


async def team_memberships(gh: GitHubAPI, teams: set[str], login: str) -> set[str]:
    """The teams (``org/slug``) among ``teams`` that ``login`` is an active member of."""
    found: set[str] = set()
    for team in sorted(teams):
        org, _, slug = team.partition("/")
        try:
            data = await gh.call("teams.get_membership_for_user_in_org", org=org,
                                 team_slug=slug, username=login)  # fmt: skip
        except gidgethub.BadRequest:
            continue  # 404: not a member (or the team is not visible to the App)
        if data.get("state") == "active":
            found.add(team)
    return found
