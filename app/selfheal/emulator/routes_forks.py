"""Forks: ``POST /repos/{owner}/{repo}/forks`` (into the caller's account or an organisation)
and ``DELETE /repos/{owner}/{repo}`` (admin only; PRs from a deleted fork stay open)."""

from __future__ import annotations

import re

from aiohttp import web

from . import events, forks
from .auth import NOT_INTEGRATION, actor_of, permission
from .context import emu, identity, repo_for
from .responses import ApiError, body, custom, no_content, reply, validation
from .state import User, World

NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
NOT_FORKABLE = "Forking is disabled for this repository."
OWN_ACCOUNT = "Cannot fork a repository into the account that owns it."
NOT_A_MEMBER = "You must be a member of {org} to fork into it."


def _member(world: World, org: User, user: User) -> bool:
    """The emulator has no organisation membership of its own: a member is anyone on one of
    the organisation's teams or a collaborator on one of its repositories."""
    prefix = f"{org.login.lower()}/"
    if any(k.startswith(prefix) and user.login.lower() in m for k, m in world.teams.items()):
        return True
    return any(r.owner is org and r.permission_of(user) != "none" for r in world.repos.values())


async def create_fork(request: web.Request) -> web.Response:
    parent = repo_for(request)
    e, ident = emu(request), identity(request)
    user = actor_of(ident)
    if ident.installation is not None:  # GitHub wants an App installed account-wide
        raise ApiError(403, NOT_INTEGRATION)
    data = await body(request)
    owner = user
    if data.get("organization"):
        org = e.world.users.get(str(data["organization"]).lower())
        if org is None or org.type != "Organization":
            raise validation("Repository", "organization", "invalid")
        if not _member(e.world, org, user):
            raise ApiError(403, NOT_A_MEMBER.format(org=org.login))
        owner = org
    name = data.get("name")
    if name is not None and not (isinstance(name, str) and NAME_RE.match(name)):
        raise validation("Repository", "name", "invalid")
    if not parent.forkable:
        raise ApiError(403, NOT_FORKABLE)
    if owner is parent.owner:
        raise custom("Repository", OWN_ACCOUNT)
    fork, created = forks.fork(
        e, parent, owner, name, default_branch_only=bool(data.get("default_branch_only"))
    )
    if created:
        if owner is not user:  # whoever forks into an organisation administers the fork
            fork.collaborators[user.login] = "admin"
        events.fork(e, parent, fork, user)
    return reply(e.render.full_repo(fork, permission(ident, fork)), status=202)


async def delete_repo(request: web.Request) -> web.Response:
    repo = repo_for(request, "admin")
    e = emu(request)
    async with e.push_lock(repo):
        forks.delete(e, repo)
    return no_content()


def setup(router: web.UrlDispatcher) -> None:
    router.add_post("/repos/{owner}/{repo}/forks", create_fork)
    router.add_delete("/repos/{owner}/{repo}", delete_repo)
