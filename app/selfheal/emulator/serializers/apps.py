"""Apps and installations."""

from __future__ import annotations

from ..state import App, Installation, iso
from .base import JSON, RenderBase, node_id


class AppsRender(RenderBase):
    def app(self, a: App, *, hook: bool = False) -> JSON:
        data: JSON = {
            "id": a.id,
            "slug": a.slug,
            "node_id": node_id("App", a.id),
            "client_id": a.client_id,
            "owner": self.user(a.owner),
            "name": a.name,
            "description": "",
            "external_url": f"{self.base}/apps/{a.slug}/home",
            "html_url": f"{self.base}/apps/{a.slug}",
            "created_at": iso(a.created_at),
            "updated_at": iso(a.created_at),
            "permissions": dict(a.permissions),
            "events": list(a.events),
            "installations_count": 0,
        }
        if hook:  # webhook payloads carry the shorter App object
            del data["client_id"], data["installations_count"]
        return data

    def installation(self, i: Installation, *, hook: bool = False) -> JSON:
        api = f"{self.base}/app/installations/{i.id}"
        data: JSON = {
            "id": i.id,
            "client_id": i.app.client_id,
            "account": self.user(i.account),
            "repository_selection": "selected",
            "access_tokens_url": f"{api}/access_tokens",
            "repositories_url": f"{self.base}/installation/repositories",
            "html_url": f"{self.base}/settings/installations/{i.id}",
            "app_id": i.app.id,
            "app_slug": i.app.slug,
            "target_id": i.account.id,
            "target_type": i.account.type,
            "permissions": dict(i.permissions),
            "events": list(i.app.events),
            "created_at": iso(i.created_at),
            "updated_at": iso(i.created_at),
            "single_file_name": None,
            "has_multiple_single_files": False,
            "single_file_paths": [],
            "suspended_by": None,
            "suspended_at": None,
        }
        if hook:
            del data["client_id"]
        return data

    def installation_lite(self, i: Installation) -> JSON:
        return {"id": i.id, "node_id": node_id("Installation", i.id)}
