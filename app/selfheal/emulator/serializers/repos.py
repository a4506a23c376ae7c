"""Repositories, labels and contents."""

from __future__ import annotations

import base64

import pygit2

from ..forks import network
from ..state import PERMISSION_ORDER, Label, Repo, iso
from .apps import AppsRender
from .base import JSON, node_id

LITE_EXCLUDED = {"git_url", "ssh_url", "clone_url", "svn_url", "mirror_url"}


class ReposRender(AppsRender):
    def repo(self, r: Repo) -> JSON:
        api = f"{self.base}/repos/{r.full_name}"
        html = f"{self.base}/{r.full_name}"
        open_issues = sum(1 for i in r.issues.values() if i.state == "open")
        forks = len(r.forks)
        data: JSON = {
            "id": r.id,
            "node_id": node_id("Repository", r.id),
            "name": r.name,
            "full_name": r.full_name,
            "private": r.private,
            "owner": self.user(r.owner),
            "html_url": html,
            "description": r.description,
            "fork": r.parent is not None,
            "url": api,
            "forks_url": f"{api}/forks",
            "keys_url": f"{api}/keys{{/key_id}}",
            "collaborators_url": f"{api}/collaborators{{/collaborator}}",
            "teams_url": f"{api}/teams",
            "hooks_url": f"{api}/hooks",
            "issue_events_url": f"{api}/issues/events{{/number}}",
            "events_url": f"{api}/events",
            "assignees_url": f"{api}/assignees{{/user}}",
            "branches_url": f"{api}/branches{{/branch}}",
            "tags_url": f"{api}/tags",
            "blobs_url": f"{api}/git/blobs{{/sha}}",
            "git_tags_url": f"{api}/git/tags{{/sha}}",
            "git_refs_url": f"{api}/git/refs{{/sha}}",
            "trees_url": f"{api}/git/trees{{/sha}}",
            "statuses_url": f"{api}/statuses/{{sha}}",
            "languages_url": f"{api}/languages",
            "stargazers_url": f"{api}/stargazers",
            "contributors_url": f"{api}/contributors",
            "subscribers_url": f"{api}/subscribers",
            "subscription_url": f"{api}/subscription",
            "commits_url": f"{api}/commits{{/sha}}",
            "git_commits_url": f"{api}/git/commits{{/sha}}",
            "comments_url": f"{api}/comments{{/number}}",
            "issue_comment_url": f"{api}/issues/comments{{/number}}",
            "contents_url": f"{api}/contents/{{+path}}",
            "compare_url": f"{api}/compare/{{base}}...{{head}}",
            "merges_url": f"{api}/merges",
            "archive_url": f"{api}/{{archive_format}}{{/ref}}",
            "downloads_url": f"{api}/downloads",
            "issues_url": f"{api}/issues{{/number}}",
            "pulls_url": f"{api}/pulls{{/number}}",
            "milestones_url": f"{api}/milestones{{/number}}",
            "notifications_url": f"{api}/notifications{{?since,all,participating}}",
            "labels_url": f"{api}/labels{{/name}}",
            "releases_url": f"{api}/releases{{/id}}",
            "deployments_url": f"{api}/deployments",
            "created_at": iso(r.created_at),
            "updated_at": iso(r.updated_at),
            "pushed_at": iso(r.pushed_at),
            "git_url": f"git://{self.base.split('://', 1)[-1]}/{r.full_name}.git",
            "ssh_url": f"git@127.0.0.1:{r.full_name}.git",
            "clone_url": f"{html}.git",
            "svn_url": html,
            "homepage": None,
            "size": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": "Python",
            "has_issues": True,
            "has_projects": False,
            "has_downloads": True,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": forks,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": open_issues,
            "license": None,
            "allow_forking": r.forkable,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": [],
            "visibility": "private" if r.private else "public",
            "forks": forks,
            "open_issues": open_issues,
            "watchers": 0,
            "default_branch": r.default_branch,
            "custom_properties": {},
        }
        return data

    def full_repo(self, r: Repo, role: str) -> JSON:
        """The ``full-repository`` of GET /repos and POST /forks: the caller's permissions,
        and for a fork its ``parent`` and the network's root as ``source``."""
        data = self.repo(r)
        data["permissions"] = permission_flags(role)
        others = sum(1 for _ in network(r)) - 1  # the network without its root
        data.update(network_count=others, subscribers_count=0)
        if r.parent is not None:
            data["parent"] = self.repo(r.parent)
            data["source"] = self.repo(r.source)
        return data

    def repo_lite(self, r: Repo) -> JSON:
        """The minimal repository (workflow_run.repository): identity, owner and *_url."""
        full = self.repo(r)
        keep = {
            "id",
            "node_id",
            "name",
            "full_name",
            "private",
            "owner",
            "html_url",
            "description",
            "fork",
            "url",
        }
        return {
            k: v
            for k, v in full.items()
            if k in keep or (k.endswith("_url") and k not in LITE_EXCLUDED)
        }

    def label(self, r: Repo, lb: Label) -> JSON:
        return {
            "id": lb.id,
            "node_id": node_id("Label", lb.id),
            "url": f"{self.base}/repos/{r.full_name}/labels/{lb.name}",
            "name": lb.name,
            "color": lb.color,
            "default": lb.default,
            "description": lb.description,
        }

    def content(self, r: Repo, path: str, obj: pygit2.Object, ref: str) -> JSON:
        is_file = isinstance(obj, pygit2.Blob)
        api = f"{self.base}/repos/{r.full_name}/contents/{path}?ref={ref}"
        kind = "blob" if is_file else "tree"
        git_url = f"{self.base}/repos/{r.full_name}/git/{kind}s/{obj.id}"
        html = f"{self.base}/{r.full_name}/{kind}/{ref}/{path}"
        data: JSON = {
            "type": "file" if is_file else "dir",
            "size": obj.size if isinstance(obj, pygit2.Blob) else 0,
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": str(obj.id),
            "url": api,
            "git_url": git_url,
            "html_url": html,
            "download_url": f"{self.base}/{r.full_name}/raw/{ref}/{path}" if is_file else None,
            "_links": {"self": api, "git": git_url, "html": html},
        }
        if isinstance(obj, pygit2.Blob):
            data["encoding"] = "base64"
            data["content"] = base64.encodebytes(obj.data).decode()
        return data


def permission_flags(role: str) -> dict[str, bool]:
    at = PERMISSION_ORDER.index(role)
    return {
        "admin": at >= PERMISSION_ORDER.index("admin"),
        "maintain": at >= PERMISSION_ORDER.index("maintain"),
        "push": at >= PERMISSION_ORDER.index("write"),
        "triage": at >= PERMISSION_ORDER.index("triage"),
        "pull": at >= PERMISSION_ORDER.index("read"),
    }
