"""Issues: create/get/update/list, labels (issue and repository), comments, reactions, and the
events/timeline that say who did what. Pull requests are issues too (shared numbering)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from aiohttp import web

from . import events
from .auth import Identity, permission
from .context import emu, identity, issue_for, repo_for
from .responses import ApiError, body, no_content, not_found, paged_reply, reply, validation
from .serializers import REACTIONS
from .state import Comment, Issue, IssueEvent, Label, Reaction, Repo, User, permission_at_least

DEFAULT_LABEL_COLOR = "ededed"
STATE_REASONS = {"completed", "not_planned", "reopened", None}


def _actor(ident: Identity) -> User:
    if ident.user is None:
        raise ApiError(401, "Requires authentication")
    return ident.user


def _can(ident: Identity, repo: Repo, need: str) -> bool:
    return permission_at_least(permission(ident, repo), need)


def _record(ident: Identity, issue: Issue, event: str, label: Label | None = None) -> None:
    issue.events.append(
        IssueEvent(
            id=len(issue.events) + 1 + issue.id * 1000,
            event=event,
            actor=_actor(ident),
            created_at=time.time(),
            label=label,
            via_app=ident.installation.app if ident.installation else None,
        )
    )


def repo_label(repo: Repo, name: str, world_id: int) -> Label:
    """The repository label ``name``, created with the default colour when missing."""
    label = repo.labels.get(name.lower())
    if label is None:
        label = Label(id=world_id, name=name, color=DEFAULT_LABEL_COLOR)
        repo.labels[name.lower()] = label
    return label


def add_labels(request: web.Request, repo: Repo, issue: Issue, names: list[str]) -> None:
    ident, e = identity(request), emu(request)
    for name in names:
        if any(lb.name.lower() == name.lower() for lb in issue.labels):
            continue
        label = repo_label(repo, name, e.world.next_id())
        issue.labels.append(label)
        issue.updated_at = time.time()
        _record(ident, issue, "labeled", label)
        events.issue_event(
            e, repo, issue, "labeled", _actor(ident), label=e.render.label(repo, label)
        )


def remove_label(request: web.Request, repo: Repo, issue: Issue, name: str) -> bool:
    ident, e = identity(request), emu(request)
    for label in list(issue.labels):
        if label.name.lower() == name.lower():
            issue.labels.remove(label)
            issue.updated_at = time.time()
            _record(ident, issue, "unlabeled", label)
            events.issue_event(
                e, repo, issue, "unlabeled", _actor(ident), label=e.render.label(repo, label)
            )
            return True
    return False


def _label_names(data: Any) -> list[str]:
    raw = data.get("labels", []) if isinstance(data, dict) else data
    if not isinstance(raw, list):
        raise validation("Label", "labels", "invalid")
    return [str(x["name"]) if isinstance(x, dict) else str(x) for x in raw]


def set_state(
    request: web.Request, repo: Repo, issue: Issue, state: str, reason: str | None
) -> None:
    ident, e = identity(request), emu(request)
    if state == issue.state:
        return
    now = time.time()
    issue.state, issue.updated_at = state, now
    if state == "closed":
        issue.closed_at, issue.closed_by = now, _actor(ident)
        issue.state_reason = reason or "completed"
        _record(ident, issue, "closed")
        events.issue_event(e, repo, issue, "closed", _actor(ident))
    else:
        issue.closed_at = issue.closed_by = None
        issue.state_reason = "reopened"
        _record(ident, issue, "reopened")
        events.issue_event(e, repo, issue, "reopened", _actor(ident))


async def create_issue(request: web.Request) -> web.Response:
    repo = repo_for(request)
    ident, e = identity(request), emu(request)
    data = await body(request)
    title = data.get("title")
    if not isinstance(title, str | int) or not str(title).strip():
        raise validation("Issue", "title", "missing_field")
    actor, now = _actor(ident), time.time()
    issue = Issue(
        id=e.world.next_id(),
        number=e.world.next_issue_number(repo),
        title=str(title),
        body=data.get("body"),
        user=actor,
        created_at=now,
        updated_at=now,
    )
    triage = _can(ident, repo, "triage")
    if triage:
        issue.labels = [repo_label(repo, n, e.world.next_id()) for n in _label_names(data)]
        logins = data.get("assignees") or ([data["assignee"]] if data.get("assignee") else [])
        issue.assignees = [e.world.user(str(x)) for x in logins]
    repo.issues[issue.number] = issue
    events.issue_event(e, repo, issue, "opened", actor)
    return reply(e.render.issue(repo, issue), status=201)


async def get_issue(request: web.Request) -> web.Response:
    repo = repo_for(request)
    issue = issue_for(repo, request.match_info["issue_number"])
    return reply(emu(request).render.issue(repo, issue))


async def update_issue(request: web.Request) -> web.Response:
    repo = repo_for(request)
    ident, e = identity(request), emu(request)
    issue = issue_for(repo, request.match_info["issue_number"])
    data = await body(request)
    actor = _actor(ident)
    is_author = actor.login == issue.user.login
    triage, write = _can(ident, repo, "triage"), _can(ident, repo, "write")
    if not (is_author or triage):
        raise ApiError(403, "Must have push access to repository")
    changes: dict[str, Any] = {}
    for key in ("title", "body"):
        if key in data and data[key] != getattr(issue, key):
            if not (is_author or write):
                raise ApiError(403, "Must have push access to repository")
            changes[key] = {"from": getattr(issue, key) or ""}  # GitHub sends "" for no body
            setattr(issue, key, data[key])
    if changes:
        issue.updated_at = time.time()
        events.issue_event(e, repo, issue, "edited", actor, changes=changes)
    if "state" in data:
        if data["state"] not in ("open", "closed"):
            raise validation("Issue", "state", "invalid")
        if data.get("state_reason") not in STATE_REASONS:
            raise validation("Issue", "state_reason", "invalid")
        set_state(request, repo, issue, data["state"], data.get("state_reason"))
    if triage and "labels" in data:
        wanted = _label_names(data)
        for label in list(issue.labels):
            if label.name.lower() not in {w.lower() for w in wanted}:
                remove_label(request, repo, issue, label.name)
        add_labels(request, repo, issue, wanted)
    if triage and ("assignees" in data or "assignee" in data):
        logins = data.get("assignees") or ([data["assignee"]] if data.get("assignee") else [])
        issue.assignees = [e.world.user(str(x)) for x in logins]
    return reply(e.render.issue(repo, issue))


def _iso_to_ts(value: str) -> float:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise validation("Issue", "since", "invalid") from exc


async def list_issues(request: web.Request) -> web.Response:
    repo = repo_for(request)
    q = request.query
    state = q.get("state", "open")
    items = [i for i in repo.issues.values() if state == "all" or i.state == state]
    if q.get("labels"):
        wanted = {x.strip().lower() for x in q["labels"].split(",") if x.strip()}
        items = [i for i in items if wanted <= {lb.name.lower() for lb in i.labels}]
    if q.get("creator"):
        items = [i for i in items if i.user.login.lower() == q["creator"].lower()]
    if q.get("assignee") and q["assignee"] not in ("*", "none"):
        items = [
            i for i in items if q["assignee"].lower() in {a.login.lower() for a in i.assignees}
        ]
    if q.get("since"):
        since = _iso_to_ts(q["since"])
        items = [i for i in items if i.updated_at >= since]
    sort = q.get("sort", "created")
    key = {
        "created": lambda i: (i.created_at, i.number),
        "updated": lambda i: (i.updated_at, i.number),
        "comments": lambda i: (len(i.comments), i.number),
    }.get(sort)
    if key is None:
        raise validation("Issue", "sort", "invalid")
    items.sort(key=key, reverse=q.get("direction", "desc") != "asc")
    r = emu(request).render
    return paged_reply(request, [r.issue(repo, i) for i in items])


# -- labels on an issue ---------------------------------------------------------------------
async def list_issue_labels(request: web.Request) -> web.Response:
    repo = repo_for(request)
    issue = issue_for(repo, request.match_info["issue_number"])
    return paged_reply(request, [emu(request).render.label(repo, lb) for lb in issue.labels])


async def add_issue_labels(request: web.Request) -> web.Response:
    repo = repo_for(request, "triage")
    issue = issue_for(repo, request.match_info["issue_number"])
    add_labels(request, repo, issue, _label_names(await _json_any(request)))
    return reply([emu(request).render.label(repo, lb) for lb in issue.labels])


async def set_issue_labels(request: web.Request) -> web.Response:
    repo = repo_for(request, "triage")
    issue = issue_for(repo, request.match_info["issue_number"])
    wanted = _label_names(await _json_any(request))
    for label in list(issue.labels):
        if label.name.lower() not in {w.lower() for w in wanted}:
            remove_label(request, repo, issue, label.name)
    add_labels(request, repo, issue, wanted)
    return reply([emu(request).render.label(repo, lb) for lb in issue.labels])


async def remove_issue_label(request: web.Request) -> web.Response:
    repo = repo_for(request, "triage")
    issue = issue_for(repo, request.match_info["issue_number"])
    if not remove_label(request, repo, issue, request.match_info["name"]):
        raise ApiError(404, "Label does not exist")
    return reply([emu(request).render.label(repo, lb) for lb in issue.labels])


async def clear_issue_labels(request: web.Request) -> web.Response:
    repo = repo_for(request, "triage")
    issue = issue_for(repo, request.match_info["issue_number"])
    for label in list(issue.labels):
        remove_label(request, repo, issue, label.name)
    return no_content()


async def _json_any(request: web.Request) -> Any:
    import json

    raw = await request.read()
    try:
        return json.loads(raw or b"[]")
    except ValueError as exc:
        raise ApiError(400, "Problems parsing JSON") from exc


# -- repository labels ----------------------------------------------------------------------
async def list_labels(request: web.Request) -> web.Response:
    repo = repo_for(request)
    r = emu(request).render
    return paged_reply(request, [r.label(repo, lb) for lb in repo.labels.values()])


async def get_label(request: web.Request) -> web.Response:
    repo = repo_for(request)
    label = repo.labels.get(request.match_info["name"].lower())
    if label is None:
        raise not_found()
    return reply(emu(request).render.label(repo, label))


async def create_label(request: web.Request) -> web.Response:
    repo = repo_for(request, "write")
    data = await body(request)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise validation("Label", "name", "missing_field")
    if name.lower() in repo.labels:
        raise validation("Label", "name", "already_exists")
    color = str(data.get("color", DEFAULT_LABEL_COLOR)).lstrip("#")
    label = Label(
        id=emu(request).world.next_id(), name=name, color=color, description=data.get("description")
    )
    repo.labels[name.lower()] = label
    return reply(emu(request).render.label(repo, label), status=201)


async def update_label(request: web.Request) -> web.Response:
    repo = repo_for(request, "write")
    label = repo.labels.get(request.match_info["name"].lower())
    if label is None:
        raise not_found()
    data = await body(request)
    new_name = data.get("new_name") or data.get("name")
    if new_name and new_name.lower() != label.name.lower():
        if new_name.lower() in repo.labels:
            raise validation("Label", "name", "already_exists")
        del repo.labels[label.name.lower()]
        repo.labels[new_name.lower()] = label
    if new_name:
        label.name = new_name
    if "color" in data:
        label.color = str(data["color"]).lstrip("#")
    if "description" in data:
        label.description = data["description"]
    return reply(emu(request).render.label(repo, label))


async def delete_label(request: web.Request) -> web.Response:
    repo = repo_for(request, "write")
    label = repo.labels.pop(request.match_info["name"].lower(), None)
    if label is None:
        raise not_found()
    for issue in repo.issues.values():
        issue.labels = [lb for lb in issue.labels if lb is not label]
    return no_content()


# -- comments -------------------------------------------------------------------------------
async def list_comments(request: web.Request) -> web.Response:
    repo = repo_for(request)
    issue = issue_for(repo, request.match_info["issue_number"])
    items = issue.comments
    if request.query.get("since"):
        since = _iso_to_ts(request.query["since"])
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
    if issue.locked and not _can(ident, repo, "write"):
        raise ApiError(403, "Unable to create comment because issue is locked.")
    now = time.time()
    comment = Comment(
        id=e.world.next_id(),
        issue_number=issue.number,
        user=_actor(ident),
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
    try:
        comment = repo.comments.get(int(request.match_info["comment_id"]))
    except ValueError:
        comment = None
    if comment is None:
        raise not_found()
    ident = identity(request)
    if edit and not (
        (ident.user and ident.user.login == comment.user.login) or _can(ident, repo, "write")
    ):
        raise ApiError(403, "Must have push access to repository")
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
        _actor(identity(request)),
        changes={"body": {"from": old}},
    )
    return reply(e.render.comment(repo, comment))


async def delete_comment(request: web.Request) -> web.Response:
    repo = repo_for(request)
    comment = _comment(request, repo, True)
    issue = repo.issues[comment.issue_number]
    issue.comments.remove(comment)
    del repo.comments[comment.id]
    events.comment_event(emu(request), repo, issue, comment, "deleted", _actor(identity(request)))
    return no_content()


# -- reactions, events, timeline ------------------------------------------------------------
async def _react(request: web.Request, target: list[Reaction]) -> web.Response:
    data = await body(request)
    content = data.get("content")
    if content not in REACTIONS:
        raise validation("Reaction", "content", "invalid")
    user = _actor(identity(request))
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


async def issue_events(request: web.Request) -> web.Response:
    repo = repo_for(request)
    issue = issue_for(repo, request.match_info["issue_number"])
    r = emu(request).render
    items = []
    for ev in issue.events:
        data = r.issue_event(repo, issue, ev)
        data["issue"] = r.issue(repo, issue)
        items.append(data)
    return paged_reply(request, items)


async def timeline(request: web.Request) -> web.Response:
    repo = repo_for(request)
    issue = issue_for(repo, request.match_info["issue_number"])
    r = emu(request).render
    rows: list[tuple[float, int, dict[str, Any]]] = [
        (ev.created_at, ev.id, r.issue_event(repo, issue, ev)) for ev in issue.events
    ]
    rows += [(c.created_at, c.id, r.timeline_comment(repo, c)) for c in issue.comments]
    rows.sort(key=lambda x: (x[0], x[1]))
    return paged_reply(request, [row[2] for row in rows])


def setup(router: web.UrlDispatcher) -> None:
    p = "/repos/{owner}/{repo}"
    n = p + "/issues/{issue_number:\\d+}"
    c = p + "/issues/comments/{comment_id:\\d+}"
    router.add_get(p + "/issues", list_issues)
    router.add_post(p + "/issues", create_issue)
    router.add_get(c, get_comment)
    router.add_patch(c, update_comment)
    router.add_delete(c, delete_comment)
    router.add_get(c + "/reactions", comment_reactions)
    router.add_post(c + "/reactions", comment_reactions)
    router.add_get(n, get_issue)
    router.add_patch(n, update_issue)
    router.add_get(n + "/labels", list_issue_labels)
    router.add_post(n + "/labels", add_issue_labels)
    router.add_put(n + "/labels", set_issue_labels)
    router.add_delete(n + "/labels", clear_issue_labels)
    router.add_delete(n + "/labels/{name}", remove_issue_label)
    router.add_get(n + "/comments", list_comments)
    router.add_post(n + "/comments", create_comment)
    router.add_get(n + "/reactions", issue_reactions)
    router.add_post(n + "/reactions", issue_reactions)
    router.add_get(n + "/events", issue_events)
    router.add_get(n + "/timeline", timeline)
    router.add_get(p + "/labels", list_labels)
    router.add_post(p + "/labels", create_label)
    router.add_get(p + "/labels/{name}", get_label)
    router.add_patch(p + "/labels/{name}", update_label)
    router.add_delete(p + "/labels/{name}", delete_label)
