"""Organisations: team membership, which CODEOWNERS-style policies with @org/team owners
need. Teams are set up with ``Emulator.add_team``."""

from __future__ import annotations

from aiohttp import web

from .auth import actor_of
from .context import emu, identity
from .responses import not_found, reply


async def team_membership(request: web.Request) -> web.Response:
    actor_of(identity(request))  # 401 for anonymous and App JWT callers
    org, slug, login = (request.match_info[k] for k in ("org", "team_slug", "username"))
    e = emu(request)
    members = e.world.teams.get(f"{org}/{slug}".lower())
    if members is None or login.lower() not in members:
        raise not_found()
    return reply(
        {
            "url": f"{e.render.base}/orgs/{org}/teams/{slug}/memberships/{login}",
            "role": members[login.lower()],
            "state": "active",
        }
    )


def setup(router: web.UrlDispatcher) -> None:
    router.add_get("/orgs/{org}/teams/{team_slug}/memberships/{username}", team_membership)
