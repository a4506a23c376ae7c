"""Repositories: get, contents (file or directory at ?ref=), branches, commits, collaborator
permission."""

from __future__ import annotations

import pygit2
from aiohttp import web

from . import gitdata
from .auth import permission
from .context import emu, identity, repo_for
from .responses import ApiError, not_found, paged_reply, reply
from .serializers.repos import permission_flags

LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}


async def get_repo(request: web.Request) -> web.Response:
    repo = repo_for(request)
    return reply(emu(request).render.full_repo(repo, permission(identity(request), repo)))


async def get_contents(request: web.Request) -> web.Response:
    repo = repo_for(request)
    git = gitdata.open_repo(repo.path)
    ref = request.query.get("ref") or repo.default_branch
    commit = gitdata.resolve(git, ref)
    if commit is None:
        raise ApiError(404, f"No commit found for the ref {ref}")
    path = request.match_info.get("path", "").strip("/")
    obj = gitdata.entry_at(git, commit, path)
    if obj is None:
        raise not_found()
    render = emu(request).render
    if isinstance(obj, pygit2.Tree):
        items = []
        for entry in obj:
            child = git[entry.id]
            sub = f"{path}/{entry.name}" if path else str(entry.name)
            item = render.content(repo, sub, child, ref)
            item.pop("content", None)
            item.pop("encoding", None)
            items.append(item)
        return reply(items)
    return reply(render.content(repo, path, obj, ref))


async def get_branch(request: web.Request) -> web.Response:
    repo = repo_for(request)
    git = gitdata.open_repo(repo.path)
    name = request.match_info["branch"]
    commit = gitdata.resolve(git, f"refs/heads/{name}")
    if commit is None:
        raise ApiError(404, "Branch not found")
    r = emu(request).render
    api = f"{r.base}/repos/{repo.full_name}/branches/{name}"
    return reply(
        {
            "name": name,
            "commit": r.commit(repo, commit),
            "_links": {"self": api, "html": f"{r.base}/{repo.full_name}/tree/{name}"},
            "protected": name in repo.required_checks,
            "protection": {
                "enabled": name in repo.required_checks,
                "required_status_checks": {
                    "enforcement_level": "non_admins" if name in repo.required_checks else "off",
                    "contexts": list(repo.required_checks.get(name, [])),
                    "checks": [
                        {"context": c, "app_id": None} for c in repo.required_checks.get(name, [])
                    ],
                },
            },
            "protection_url": f"{api}/protection",
        }
    )


async def get_commit(request: web.Request) -> web.Response:
    repo = repo_for(request)
    git = gitdata.open_repo(repo.path)
    ref = request.match_info["ref"]
    commit = gitdata.resolve(git, ref)
    if commit is None:
        raise ApiError(422, f"No commit found for SHA: {ref}")
    r = emu(request).render
    files: list[dict[str, object]] = []
    if commit.parent_ids:
        changes = gitdata.diff_files(git, str(commit.parent_ids[0]), str(commit.id))
        files = [r.file_change(repo, str(commit.id), f) for f in changes]
    return reply(r.commit(repo, commit, files))


async def pulls_for_commit(request: web.Request) -> web.Response:
    """Pull requests whose head is, or whose commits include, the commit (or that merged it)."""
    repo = repo_for(request)
    git = gitdata.open_repo(repo.path)
    commit = gitdata.resolve(git, request.match_info["commit_sha"])
    if commit is None:
        raise ApiError(422, f"No commit found for SHA: {request.match_info['commit_sha']}")
    sha = str(commit.id)
    found = []
    for issue in sorted(repo.issues.values(), key=lambda i: i.number, reverse=True):
        pr = issue.pull
        if pr is None:
            continue
        if sha in (pr.head_sha, pr.merge_commit_sha) or (
            gitdata.is_ancestor(git, sha, pr.head_sha)
            and not gitdata.is_ancestor(git, sha, pr.base_sha)
        ):
            found.append(emu(request).render.simple_pull(repo, issue, git))
    return paged_reply(request, found)


async def collaborator_permission(request: web.Request) -> web.Response:
    repo = repo_for(request)
    e = emu(request)
    login = request.match_info["username"]
    user = e.world.users.get(login.lower())
    if user is None:
        raise ApiError(404, f"{login} is not a user")
    role = repo.permission_of(user)
    if role == "none" and not repo.private:
        role = "read"
    return reply(
        {
            "permission": LEGACY_PERMISSION[role],
            "role_name": role,
            "user": {
                **(e.render.user(user) or {}),
                "permissions": permission_flags(role),
                "role_name": role,
            },
        }
    )


def setup(router: web.UrlDispatcher) -> None:
    router.add_get("/repos/{owner}/{repo}", get_repo)
    router.add_get("/repos/{owner}/{repo}/contents/{path:.*}", get_contents)
    router.add_get("/repos/{owner}/{repo}/branches/{branch:.+}", get_branch)
    router.add_get("/repos/{owner}/{repo}/commits/{ref:[^/]+}", get_commit)
    router.add_get("/repos/{owner}/{repo}/commits/{commit_sha}/pulls", pulls_for_commit)
    router.add_get(
        "/repos/{owner}/{repo}/collaborators/{username}/permission", collaborator_permission
    )
