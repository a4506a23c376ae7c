"""Issues: create, get, update, list with filters, and the events/timeline that say who did
what. Pull requests are issues too (shared numbering)."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from . import events
from .auth import NEEDS_PUSH, actor_of
from .context import emu, identity, issue_for, repo_for
from .issue_ops import (
    STATE_REASONS,
    add_labels,
    can,
    label_names,
    repo_label,
    set_labels,
    set_state,
)
from .responses import ApiError, body, iso_to_ts, paged_reply, reply, validation
from .state import Issue, User, World


def _assignees(world: World, data: dict[str, Any]) -> list[User]:
    """The users named by ``assignees`` (a list), else by ``assignee`` (one login)."""
    logins = data.get("assignees") or ([data["assignee"]] if data.get("assignee") else [])
    return [world.user(str(x)) for x in logins]


async def create_issue(request: web.Request) -> web.Response:
    repo = repo_for(request)
    ident, e = identity(request), emu(request)
    data = await body(request)
    title = data.get("title")
    if not isinstance(title, str | int) or not str(title).strip():
        raise validation("Issue", "title", "missing_field")
    actor, now = actor_of(ident), time.time()
    issue = Issue(
        id=e.world.next_id(),
        number=e.world.next_issue_number(repo),
        title=str(title),
        body=data.get("body"),
        user=actor,
        created_at=now,
        updated_at=now,
    )
    repo.issues[issue.number] = issue
    if can(ident, repo, "triage"):
        issue.assignees = _assignees(e.world, data)
        wanted = label_names(data)
        issue.labels = [repo_label(repo, n, e.world.next_id()) for n in wanted]
        events.issue_event(e, repo, issue, "opened", actor)
        # GitHub then reports each label set at creation as labeled (sender = the creator)
        issue.labels = []
        add_labels(request, repo, issue, wanted)
    else:
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
    actor = actor_of(ident)
    is_author = actor.login == issue.user.login
    triage, write = can(ident, repo, "triage"), can(ident, repo, "write")
    if not (is_author or triage):
        raise ApiError(403, NEEDS_PUSH)
    changes = _edit_text(issue, data, may_edit=is_author or write)
    if changes:
        issue.updated_at = time.time()
        events.issue_event(e, repo, issue, "edited", actor, changes=changes)
    if "state" in data:
        _validate_state(data)
        set_state(request, repo, issue, data["state"], data.get("state_reason"))
    if triage and "labels" in data:
        set_labels(request, repo, issue, label_names(data))
    if triage and ("assignees" in data or "assignee" in data):
        issue.assignees = _assignees(e.world, data)
    return reply(e.render.issue(repo, issue))


def _edit_text(issue: Issue, data: dict[str, Any], *, may_edit: bool) -> dict[str, Any]:
    """Set the title and body the request changes; return the webhook's ``changes``.

    Changing them takes the author or write access (``may_edit``); resending the same
    text is not a change.
    """
    changes: dict[str, Any] = {}
    for key in ("title", "body"):
        if key in data and data[key] != getattr(issue, key):
            if not may_edit:
                raise ApiError(403, NEEDS_PUSH)
            changes[key] = {"from": getattr(issue, key) or ""}  # GitHub sends "" for no body
            setattr(issue, key, data[key])
    return changes


def _validate_state(data: dict[str, Any]) -> None:
    """A state change names "open" or "closed", and a known state reason or none."""
    if data["state"] not in ("open", "closed"):
        raise validation("Issue", "state", "invalid")
    if data.get("state_reason") not in STATE_REASONS:
        raise validation("Issue", "state_reason", "invalid")


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
        since = iso_to_ts(q["since"], "Issue", "since")
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
    router.add_get(p + "/issues", list_issues)
    router.add_post(p + "/issues", create_issue)
    router.add_get(n, get_issue)
    router.add_patch(n, update_issue)
    router.add_get(n + "/events", issue_events)
    router.add_get(n + "/timeline", timeline)
