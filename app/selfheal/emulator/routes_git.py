"""Git data: refs (get, matching, create, update with fast-forward check, delete), commits,
trees, blobs, and compare. Everything reads and writes the real bare repository."""

from __future__ import annotations

import base64
import re

import pygit2
from aiohttp import web

from . import gitdata
from .auth import actor_of
from .context import emu, identity, repo_for
from .responses import ApiError, body, no_content, not_found, paged_reply, reply, validation
from .serializers import node_id
from .state import Repo

SHA_RE = re.compile(r"^[0-9a-f]{40}$")


async def _change_ref(request: web.Request, repo: Repo, name: str, sha: str | None) -> None:
    """Move a ref, then report it like a push (waits for a git push in flight to finish)."""
    async with emu(request).push_lock(repo):
        git = gitdata.open_repo(repo.path)
        before = gitdata.refs(git)
        if sha is None:
            gitdata.delete_ref(git, name)
        else:
            gitdata.set_ref(git, name, sha)
        emu(request).refs_changed(repo, before, gitdata.refs(git), actor_of(identity(request)))


async def get_ref(request: web.Request) -> web.Response:
    repo = repo_for(request)
    name = "refs/" + request.match_info["ref"]
    sha = gitdata.refs(gitdata.open_repo(repo.path)).get(name)
    if sha is None:
        raise not_found()
    return reply(emu(request).render.ref(repo, name, sha))


async def matching_refs(request: web.Request) -> web.Response:
    repo = repo_for(request)
    prefix = "refs/" + request.match_info["ref"]
    refs = gitdata.refs(gitdata.open_repo(repo.path))
    r = emu(request).render
    return paged_reply(
        request, [r.ref(repo, n, s) for n, s in sorted(refs.items()) if n.startswith(prefix)]
    )


async def create_ref(request: web.Request) -> web.Response:
    repo = repo_for(request, "write")
    data = await body(request)
    name, sha = str(data.get("ref", "")), str(data.get("sha", ""))
    if not name.startswith("refs/") or name.count("/") < 2:
        raise ApiError(422, "Reference name must start with 'refs/' and have at least two slashes.")
    git = gitdata.open_repo(repo.path)
    if not isinstance(gitdata.lookup(git, sha) if SHA_RE.match(sha) else None, pygit2.Commit):
        raise ApiError(422, "Object does not exist")
    if name in gitdata.refs(git):
        raise ApiError(422, "Reference already exists")
    await _change_ref(request, repo, name, sha)
    return reply(emu(request).render.ref(repo, name, sha), status=201)


async def update_ref(request: web.Request) -> web.Response:
    repo = repo_for(request, "write")
    data = await body(request)
    name, sha = "refs/" + request.match_info["ref"], str(data.get("sha", ""))
    git = gitdata.open_repo(repo.path)
    current = gitdata.refs(git).get(name)
    if current is None:
        raise ApiError(422, "Reference does not exist")
    if not isinstance(gitdata.lookup(git, sha) if SHA_RE.match(sha) else None, pygit2.Commit):
        raise ApiError(422, "Object does not exist")
    if not data.get("force") and not gitdata.is_ancestor(git, current, sha):
        raise ApiError(422, "Update is not a fast forward")
    await _change_ref(request, repo, name, sha)
    return reply(emu(request).render.ref(repo, name, sha))


async def delete_ref(request: web.Request) -> web.Response:
    repo = repo_for(request, "write")
    name = "refs/" + request.match_info["ref"]
    if name not in gitdata.refs(gitdata.open_repo(repo.path)):
        raise ApiError(422, "Reference does not exist")
    await _change_ref(request, repo, name, None)
    return no_content()


async def get_commit(request: web.Request) -> web.Response:
    repo = repo_for(request)
    obj = gitdata.lookup(gitdata.open_repo(repo.path), request.match_info["commit_sha"])
    if not isinstance(obj, pygit2.Commit):
        raise not_found()
    return reply(emu(request).render.git_commit(repo, obj))


async def create_commit(request: web.Request) -> web.Response:
    repo = repo_for(request, "write")
    data = await body(request)
    git = gitdata.open_repo(repo.path)
    tree, parents = str(data.get("tree", "")), [str(p) for p in data.get("parents", [])]
    if not isinstance(gitdata.lookup(git, tree), pygit2.Tree):
        raise validation("Commit", "tree", "invalid")
    if any(not isinstance(gitdata.lookup(git, p), pygit2.Commit) for p in parents):
        raise validation("Commit", "parents", "invalid")
    if not isinstance(data.get("message"), str):
        raise validation("Commit", "message", "missing_field")
    author = data.get("author") or actor_of(identity(request)).author()
    sha = gitdata.create_commit(git, data["message"], tree, parents, author, data.get("committer"))
    commit = git[sha]
    assert isinstance(commit, pygit2.Commit)
    return reply(emu(request).render.git_commit(repo, commit), status=201)


async def get_tree(request: web.Request) -> web.Response:
    repo = repo_for(request)
    git = gitdata.open_repo(repo.path)
    obj = gitdata.lookup(git, request.match_info["tree_sha"]) or gitdata.resolve(
        git, request.match_info["tree_sha"]
    )
    if isinstance(obj, pygit2.Commit):
        obj = obj.tree
    if not isinstance(obj, pygit2.Tree):
        raise not_found()
    recursive = request.query.get("recursive", "") not in ("", "0", "false")
    return reply(emu(request).render.tree(repo, git, obj, recursive))


async def create_tree(request: web.Request) -> web.Response:
    repo = repo_for(request, "write")
    data = await body(request)
    entries = data.get("tree")
    if not isinstance(entries, list):
        raise validation("Tree", "tree", "missing_field")
    git = gitdata.open_repo(repo.path)
    base = data.get("base_tree")
    if base is not None and not isinstance(gitdata.lookup(git, str(base)), pygit2.Tree):
        raise validation("Tree", "base_tree", "invalid")
    try:
        sha = gitdata.create_tree(git, base, entries)
    except (KeyError, ValueError, pygit2.GitError) as exc:
        raise validation("Tree", "tree", "invalid", message=str(exc)) from exc
    tree = git[sha]
    assert isinstance(tree, pygit2.Tree)
    return reply(emu(request).render.tree(repo, git, tree, False), status=201)


async def get_blob(request: web.Request) -> web.Response:
    repo = repo_for(request)
    obj = gitdata.lookup(gitdata.open_repo(repo.path), request.match_info["file_sha"])
    if not isinstance(obj, pygit2.Blob):
        raise not_found()
    r = emu(request).render
    return reply(
        {
            "sha": str(obj.id),
            "node_id": node_id("Repository", repo.id) + str(obj.id)[:8],
            "size": obj.size,
            "url": f"{r.base}/repos/{repo.full_name}/git/blobs/{obj.id}",
            "content": base64.encodebytes(obj.data).decode(),
            "encoding": "base64",
        }
    )


async def create_blob(request: web.Request) -> web.Response:
    repo = repo_for(request, "write")
    data = await body(request)
    content = data.get("content")
    if not isinstance(content, str):
        raise validation("Blob", "content", "missing_field")
    raw = base64.b64decode(content) if data.get("encoding") == "base64" else content.encode()
    oid = gitdata.open_repo(repo.path).create_blob(raw)
    url = f"{emu(request).render.base}/repos/{repo.full_name}/git/blobs/{oid}"
    return reply({"sha": str(oid), "url": url}, status=201)


async def compare(request: web.Request) -> web.Response:
    repo = repo_for(request)
    basehead = request.match_info["basehead"]
    if "..." not in basehead:
        raise not_found()
    base_ref, head_ref = basehead.split("...", 1)
    git = gitdata.open_repo(repo.path)
    base, head = gitdata.resolve(git, base_ref), gitdata.resolve(git, head_ref)
    if base is None or head is None:
        raise ApiError(404, f"No common ancestor between {base_ref} and {head_ref}.")
    b, h = str(base.id), str(head.id)
    mb = gitdata.merge_base(git, b, h)
    if mb is None:
        raise ApiError(404, f"No common ancestor between {base_ref} and {head_ref}.")
    ahead, behind = git.ahead_behind(head.id, base.id)
    status = (
        "identical"
        if b == h
        else "ahead"
        if behind == 0
        else "behind"
        if ahead == 0
        else "diverged"
    )
    r = emu(request).render
    commits = gitdata.commits_between(git, mb, h)
    mbc = git[mb]
    assert isinstance(mbc, pygit2.Commit)
    html = f"{r.base}/{repo.full_name}/compare/{basehead}"
    return reply(
        {
            "url": f"{r.base}/repos/{repo.full_name}/compare/{basehead}",
            "html_url": html,
            "permalink_url": f"{r.base}/{repo.full_name}/compare/{b[:7]}...{h[:7]}",
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "base_commit": r.commit(repo, base),
            "merge_base_commit": r.commit(repo, mbc),
            "status": status,
            "ahead_by": ahead,
            "behind_by": behind,
            "total_commits": len(commits),
            "commits": [r.commit(repo, c) for c in commits],
            "files": [r.file_change(repo, h, f) for f in gitdata.diff_files(git, mb, h)],
        }
    )


def setup(router: web.UrlDispatcher) -> None:
    p = "/repos/{owner}/{repo}"
    router.add_get(p + "/git/ref/{ref:.+}", get_ref)
    router.add_get(p + "/git/matching-refs/{ref:.*}", matching_refs)
    router.add_post(p + "/git/refs", create_ref)
    router.add_patch(p + "/git/refs/{ref:.+}", update_ref)
    router.add_delete(p + "/git/refs/{ref:.+}", delete_ref)
    router.add_get(p + "/git/commits/{commit_sha}", get_commit)
    router.add_post(p + "/git/commits", create_commit)
    router.add_get(p + "/git/trees/{tree_sha}", get_tree)
    router.add_post(p + "/git/trees", create_tree)
    router.add_get(p + "/git/blobs/{file_sha}", get_blob)
    router.add_post(p + "/git/blobs", create_blob)
    router.add_get(p + "/compare/{basehead:.+}", compare)
