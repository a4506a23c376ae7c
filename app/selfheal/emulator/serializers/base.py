"""Shared helpers and the first layer of ``Render``: node ids, users, organisations."""

from __future__ import annotations

import base64
from typing import Any

import pygit2

from ..state import User, iso

REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")
JSON = dict[str, Any]


def node_id(kind: str, ident: int) -> str:
    return base64.b64encode(f"0{len(kind)}:{kind}{ident}".encode()).decode().rstrip("=")


def parse_node_id(value: str) -> tuple[str, int] | None:
    try:
        text = base64.b64decode(value + "=" * (-len(value) % 4)).decode()
        length, rest = text[1:].split(":", 1)
        kind = rest[: int(length)]
        return kind, int(rest[int(length) :])
    except (ValueError, UnicodeDecodeError):
        return None


class RenderBase:
    """Renders objects with URLs rooted at ``base`` (the emulator's http://127.0.0.1:PORT)."""

    def __init__(self, base: str, users: dict[str, User] | None = None) -> None:
        self.base = base.rstrip("/")
        self.users = users if users is not None else {}

    def user_by_email(self, email: str) -> User | None:
        """GitHub links commit authors to accounts by e-mail; unknown e-mails give null."""
        return next((u for u in self.users.values() if u.email and u.email == email), None)

    def user(self, u: User | None) -> JSON | None:
        if u is None:
            return None
        api = f"{self.base}/users/{u.login}"
        return {
            "login": u.login,
            "id": u.id,
            "node_id": node_id(u.type, u.id),
            "avatar_url": f"{self.base}/avatars/u/{u.id}?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": f"{self.base}/{u.login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": u.type,
            "site_admin": u.site_admin,
        }

    def organization(self, u: User) -> JSON:
        api = f"{self.base}/orgs/{u.login}"
        return {
            "login": u.login,
            "id": u.id,
            "node_id": node_id("Organization", u.id),
            "url": api,
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events",
            "hooks_url": f"{api}/hooks",
            "issues_url": f"{api}/issues",
            "members_url": f"{api}/members{{/member}}",
            "public_members_url": f"{api}/public_members{{/member}}",
            "avatar_url": f"{self.base}/avatars/u/{u.id}?v=4",
            "description": None,
        }


def signature_json(sig: pygit2.Signature) -> JSON:
    return {"name": sig.name, "email": sig.email, "date": iso(sig.time)}


def unverified() -> JSON:
    return {
        "verified": False,
        "reason": "unsigned",
        "signature": None,
        "payload": None,
        "verified_at": None,
    }
