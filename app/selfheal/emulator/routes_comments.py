"""Issue comments (list, create, get, edit, delete; authors edit their own, write access edits
any) and reactions on issues and comments."""

from __future__ import annotations

import time

from aiohttp import web

from . import events
from .auth import NEEDS_PUSH, actor_of
from .context import emu, identity, issue_for, repo_for
from .issue_ops import can
from .responses import (
    ApiError,
    body,
    iso_to_ts,
    no_content,
    not_found,
    paged_reply,
    reply,
    validation,
)
from .serializers import REACTIONS
from .state import Comment, Reaction, Repo


async def list_comments(request: web.Request) -> web.Response:
    repo = repo_for(request)
    issue = issue_for(repo, request.match_info["issue_number"])
    items = issue.comments
    if request.query.get("since"):
        since = iso_to_ts(request.query["since"], "Issue", "since")
        items = [c for c in items if c.updated_at >= since]
    r = emu(request).render
    return paged_reply(request, [r.comment(repo, c) for c in items])


async def create_comment(request: web.Request) -> web.Response:
    repo = repo_for(request)
    ident, e = identity(request), emu(request)
    issue = issue_for(repo, request.match_info["issue_number"])
    data = await body(request)
    if not isinstance(data.get("body"), str):
        raise validation("IssueComment", "body", "missing_field")
    if issue.locked and not can(ident, repo, "write"):
        raise ApiError(403, "Unable to create comment because issue is locked.")
    now = time.time()
    comment = Comment(
        id=e.world.next_id(),
        issue_number=issue.number,
        user=actor_of(ident),
        body=data["body"],
        created_at=now,
        updated_at=now,
        via_app=ident.installation.app if ident.installation else None,
    )
    issue.comments.append(comment)
    repo.comments[comment.id] = comment
    issue.updated_at = now
    events.comment_event(e, repo, issue, comment, "created", comment.user)
    return reply(e.render.comment(repo, comment), status=201)


def _comment(request: web.Request, repo: Repo, edit: bool) -> Comment:
    comment = repo.comments.get(int(request.match_info["comment_id"]))
    if comment is None:
        raise not_found()
    ident = identity(request)
    if edit and not (
        (ident.user and ident.user.login == comment.user.login) or can(ident, repo, "write")
    ):
        raise ApiError(403, NEEDS_PUSH)
    return comment


async def get_comment(request: web.Request) -> web.Response:
    repo = repo_for(request)
    return reply(emu(request).render.comment(repo, _comment(request, repo, False)))


async def update_comment(request: web.Request) -> web.Response:
    repo = repo_for(request)
    comment = _comment(request, repo, True)
    data = await body(request)
    if not isinstance(data.get("body"), str):
        raise validation("IssueComment", "body", "missing_field")
    old, comment.body, comment.updated_at = comment.body, data["body"], time.time()
    e = emu(request)
    events.comment_event(
        e,
        repo,
        repo.issues[comment.issue_number],
        comment,
        "edited",
        actor_of(identity(request)),
        changes={"body": {"from": old}},
    )
    return reply(e.render.comment(repo, comment))


async def delete_comment(request: web.Request) -> web.Response:
    repo = repo_for(request)
    comment = _comment(request, repo, True)
    issue = repo.issues[comment.issue_number]
    issue.comments.remove(comment)
    del repo.comments[comment.id]
    events.comment_event(emu(request), repo, issue, comment, "deleted", actor_of(identity(request)))
    return no_content()


# -- reactions, events, timeline ------------------------------------------------------------
async def _react(request: web.Request, target: list[Reaction]) -> web.Response:
    data = await body(request)
    content = data.get("content")
    if content not in REACTIONS:
        raise validation("Reaction", "content", "invalid")
    user = actor_of(identity(request))
    r = emu(request).render
    for existing in target:
        if existing.user.login == user.login and existing.content == content:
            return reply(r.reaction(existing))
    reaction = Reaction(
        id=emu(request).world.next_id(), user=user, content=content, created_at=time.time()
    )
    target.append(reaction)
    return reply(r.reaction(reaction), status=201)


async def issue_reactions(request: web.Request) -> web.Response:
    repo = repo_for(request)
    issue = issue_for(repo, request.match_info["issue_number"])
    if request.method == "POST":
        return await _react(request, issue.reactions)
    return paged_reply(request, [emu(request).render.reaction(x) for x in issue.reactions])


async def comment_reactions(request: web.Request) -> web.Response:
    repo = repo_for(request)
    comment = _comment(request, repo, False)
    if request.method == "POST":
        return await _react(request, comment.reactions)
    return paged_reply(request, [emu(request).render.reaction(x) for x in comment.reactions])


def setup(router: web.UrlDispatcher) -> None:
    p = "/repos/{owner}/{repo}"
    n = p + "/issues/{issue_number:\\d+}"
    c = p + "/issues/comments/{comment_id:\\d+}"
    router.add_get(n + "/comments", list_comments)
    router.add_post(n + "/comments", create_comment)
    router.add_get(c, get_comment)
    router.add_patch(c, update_comment)
    router.add_delete(c, delete_comment)
    router.add_get(c + "/reactions", comment_reactions)
    router.add_post(c + "/reactions", comment_reactions)
    router.add_get(n + "/reactions", issue_reactions)
    router.add_post(n + "/reactions", issue_reactions)
