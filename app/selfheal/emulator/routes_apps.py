"""Apps: the authenticated app, installations, installation tokens, the manifest flow,
and GET /rate_limit."""

from __future__ import annotations

import secrets

from aiohttp import web

from .auth import issue_installation_token, require_app
from .context import emu, identity
from .responses import ApiError, body, not_found, paged_reply, reply, validation
from .state import iso


async def get_app(request: web.Request) -> web.Response:
    app = require_app(identity(request))
    data = emu(request).render.app(app)
    data["installations_count"] = sum(
        1 for i in emu(request).world.installations.values() if i.app.id == app.id
    )
    return reply(data)


async def list_installations(request: web.Request) -> web.Response:
    app = require_app(identity(request))
    e = emu(request)
    items = [e.render.installation(i) for i in e.world.installations.values() if i.app is app]
    return paged_reply(request, items)


async def get_installation(request: web.Request) -> web.Response:
    app = require_app(identity(request))
    inst = emu(request).world.installations.get(int(request.match_info["installation_id"]))
    if inst is None or inst.app is not app:
        raise not_found()
    return reply(emu(request).render.installation(inst))


async def repo_installation(request: web.Request) -> web.Response:
    app = require_app(identity(request))
    e = emu(request)
    repo = e.world.repo(request.match_info["owner"], request.match_info["repo"])
    if repo is not None:
        for inst in e.world.installations_for(repo):
            if inst.app is app:
                return reply(e.render.installation(inst))
    raise not_found()


async def create_access_token(request: web.Request) -> web.Response:
    app = require_app(identity(request))
    e = emu(request)
    inst = e.world.installations.get(int(request.match_info["installation_id"]))
    if inst is None or inst.app is not app:
        raise not_found()
    data = await body(request)
    narrowed: list[str] | None = None
    if "repositories" in data or "repository_ids" in data:
        wanted = {str(n).lower() for n in data.get("repositories", [])}
        ids = {int(i) for i in data.get("repository_ids", [])}
        narrowed = []
        for full in inst.repos:
            repo = e.repo(full)
            if repo.name.lower() in wanted or repo.id in ids:
                narrowed.append(full)
        if len(narrowed) != len(wanted) + len(ids):
            raise validation("Installation", "repositories", "invalid")
    token = issue_installation_token(e.world, inst, e.token_lifetime, narrowed)
    assert token.expires_at is not None
    out = {
        "token": token.token,
        "expires_at": iso(token.expires_at),
        "permissions": dict(data.get("permissions") or inst.permissions),
        "repository_selection": "selected",
    }
    if narrowed is not None:
        out["repositories"] = [e.render.repo(e.repo(n)) for n in narrowed]
    return reply(out, status=201)


async def installation_repositories(request: web.Request) -> web.Response:
    ident = identity(request)
    inst = ident.installation
    if inst is None:
        raise ApiError(403, "You must authenticate with an installation access token")
    e = emu(request)
    names = ident.token.repos if ident.token and ident.token.repos is not None else inst.repos
    repos = [e.render.repo(e.repo(n)) for n in names]
    return reply(
        {"total_count": len(repos), "repositories": repos, "repository_selection": "selected"}
    )


async def manifest_conversion(request: web.Request) -> web.Response:
    e = emu(request)
    fields = e.world.manifest_codes.pop(request.match_info["code"], None)
    if fields is None:
        raise not_found()
    app = e.create_app(
        str(fields.get("name", f"selfheal-{secrets.token_hex(3)}")),
        webhook_url=fields.get("webhook_url"),
        owner=str(fields.get("owner", "selfheal-dev")),
    )
    data = e.render.app(app)
    data.update(
        pem=app.private_key_pem.decode(),
        webhook_secret=app.webhook_secret,
        client_id=app.client_id,
        client_secret=app.client_secret,
    )
    return reply(data, status=201)


async def rate_limit(request: web.Request) -> web.Response:
    e = emu(request)
    ident = identity(request)
    anonymous = ident.kind == "anonymous"
    core = e.faults.bucket(ident.rate_key, "core", anonymous).as_json()
    search = e.faults.bucket(ident.rate_key, "search", anonymous).as_json()
    resources = {"core": core, "search": search, "graphql": dict(core)}
    return reply({"resources": resources, "rate": core})


def setup(router: web.UrlDispatcher) -> None:
    router.add_get("/app", get_app)
    router.add_get("/app/installations", list_installations)
    inst = "/app/installations/{installation_id:\\d+}"
    router.add_get(inst, get_installation)
    router.add_post(inst + "/access_tokens", create_access_token)
    router.add_get("/repos/{owner}/{repo}/installation", repo_installation)
    router.add_get("/installation/repositories", installation_repositories)
    router.add_post("/app-manifests/{code}/conversions", manifest_conversion)
    router.add_get("/rate_limit", rate_limit)
