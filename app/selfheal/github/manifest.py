"""``selfheal setup``: register the GitHub App through GitHub's App manifest flow.

A local aiohttp page (default http://127.0.0.1:3000/) shows a form that POSTs the App
manifest to ``<github>/settings/apps/new`` (or ``/organizations/ORG/settings/apps/new``) with a
random ``state``. GitHub sends the browser back to ``/callback?code=...&state=...``; the
handler checks the state, exchanges the code (``POST /app-manifests/{code}/conversions``) and
writes ``SELFHEAL_APP_ID``, ``SELFHEAL_PRIVATE_KEY_PATH`` (the PEM, saved with mode 0600) and
``SELFHEAL_WEBHOOK_SECRET`` to ``.env`` (mode 0600). Secrets are never printed or logged.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from selfheal.github.client import GitHubClient

PERMISSIONS = {
    # write: dispatch and cancel selfheal-code.yml runs, read their artifacts; the monitor
    # reads failed runs' jobs, logs and artifacts (write includes read)
    "actions": "write",
    "checks": "write",
    "contents": "write",
    "issues": "write",
    "pull_requests": "write",
    "metadata": "read",
    "members": "read",
}
EVENTS = [
    "issues", "issue_comment", "pull_request", "check_suite", "check_run", "push",
    "installation", "installation_repositories", "workflow_run", "workflow_job",
]  # fmt: skip
DONE: web.AppKey[asyncio.Future[dict[str, str]]] = web.AppKey("done", asyncio.Future)
CONFIG: web.AppKey[dict[str, Any]] = web.AppKey("config", dict)
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>selfheal setup</title></head>
<body><h1>Register the selfheal GitHub App</h1>
<p>This creates a private GitHub App named <b>{name}</b> with the permissions selfheal needs
(checks, contents, issues and pull requests: write; actions, metadata and members: read;
no workflows).
Webhooks go to <code>{hook}</code>.</p>
<form action="{action}" method="post">
<input type="hidden" name="manifest" value="{manifest}">
<button type="submit">Create the GitHub App on GitHub</button></form></body></html>"""
DONE_PAGE = """<!doctype html><html><body><h1>Done</h1><p>The App <b>{name}</b> (id {id}) is
registered. Its id, private key path and webhook secret are in <code>{env}</code>. Install it on
your repositories from its settings page, then run <code>selfheal serve</code>.</p></body></html>"""


def manifest(name: str, url: str, webhook_url: str, redirect_url: str) -> dict[str, Any]:
    """The App manifest (see GitHub's "Registering a GitHub App from a manifest")."""
    return {
        "name": name,
        "url": url,
        "hook_attributes": {"url": webhook_url, "active": True},
        "redirect_url": redirect_url,
        "public": False,
        "default_permissions": dict(PERMISSIONS),
        "default_events": list(EVENTS),
    }


def new_app_url(github_url: str, org: str | None, state: str) -> str:
    base = github_url.rstrip("/")
    where = f"/organizations/{org}/settings/apps/new" if org else "/settings/apps/new"
    return f"{base}{where}?state={state}"


def _quote_env(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a new file readable by its owner only (0600 from the start)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def write_env(path: Path, values: Mapping[str, str]) -> None:
    """Set ``values`` in the dotenv file, keeping its other lines; the file ends up 0600."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    kept = [ln for ln in lines if ln.split("=", 1)[0].strip() not in values]
    kept += [f"{key}={_quote_env(value)}" for key, value in values.items()]
    write_private(path, "\n".join(kept) + "\n")


def save_credentials(answer: Mapping[str, Any], env_file: Path) -> dict[str, str]:
    """Store the conversion answer: the PEM next to ``env_file``, the rest in it."""
    slug = "".join(c for c in str(answer.get("slug") or "selfheal") if c.isalnum() or c in "-_")
    key_path = (env_file.parent / f"{slug or 'selfheal'}.private-key.pem").resolve()
    write_private(key_path, str(answer["pem"]))
    write_env(env_file, {
        "SELFHEAL_APP_ID": str(answer["id"]),
        "SELFHEAL_PRIVATE_KEY_PATH": str(key_path),
        "SELFHEAL_WEBHOOK_SECRET": str(answer["webhook_secret"]),
    })  # fmt: skip
    return {"id": str(answer["id"]), "name": str(answer.get("name") or slug), "key": str(key_path)}


async def index(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    body = PAGE.format(
        name=html.escape(config["manifest"]["name"]),
        hook=html.escape(config["manifest"]["hook_attributes"]["url"]),
        action=html.escape(new_app_url(config["github_url"], config["org"], config["state"])),
        manifest=html.escape(json.dumps(config["manifest"]), quote=True),
    )
    return web.Response(text=body, content_type="text/html")


async def callback(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    code, state = request.query.get("code", ""), request.query.get("state", "")
    if not secrets.compare_digest(state.encode(), config["state"].encode()):
        return web.Response(status=400, text="state mismatch: start again from the setup page")
    if not code or not code.replace("-", "").replace("_", "").isalnum():
        return web.Response(status=400, text="missing or malformed code")
    async with aiohttp.ClientSession() as session:
        client = GitHubClient(session, None, base_url=config["api_url"])
        answer = await client.call("apps.create_from_manifest", code=code)
    saved = save_credentials(answer, config["env_file"])
    done = request.app[DONE]
    if not done.done():
        done.set_result(saved)
    page = DONE_PAGE.format(name=html.escape(saved["name"]), id=html.escape(saved["id"]),
                            env=html.escape(str(config["env_file"])))  # fmt: skip
    return web.Response(text=page, content_type="text/html")


def create_setup_app(
    *,
    public_url: str,
    webhook_url: str,
    github_url: str = "https://github.com",
    api_url: str = "https://api.github.com",
    org: str | None = None,
    name: str = "selfheal",
    env_file: Path = Path(".env"),
) -> web.Application:
    """The setup page; ``public_url`` is where the browser reaches it (the redirect target).
    Call it inside a running event loop."""
    app = web.Application()
    base = public_url.rstrip("/")
    app[CONFIG] = {
        "manifest": manifest(name, base + "/", webhook_url, base + "/callback"),
        "github_url": github_url,
        "api_url": api_url,
        "org": org,
        "state": secrets.token_urlsafe(24),
        "env_file": env_file,
    }
    app[DONE] = asyncio.get_running_loop().create_future()
    app.router.add_get("/", index)
    app.router.add_get("/callback", callback)
    return app
