"""Issue state changes shared by the issue, label and pull request routes: each records the
timeline event (with the actor) and sends the matching webhook."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from . import events
from .auth import Identity, actor_of, permission
from .context import emu, identity
from .responses import validation
from .state import Issue, IssueEvent, Label, Repo, permission_at_least

DEFAULT_LABEL_COLOR = "ededed"
STATE_REASONS = {"completed", "not_planned", "reopened", None}


def can(ident: Identity, repo: Repo, need: str) -> bool:
    return permission_at_least(permission(ident, repo), need)


def record(ident: Identity, issue: Issue, event: str, label: Label | None = None) -> None:
    issue.events.append(
        IssueEvent(
            id=len(issue.events) + 1 + issue.id * 1000,
            event=event,
            actor=actor_of(ident),
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
        record(ident, issue, "labeled", label)
        events.issue_event(
            e, repo, issue, "labeled", actor_of(ident), label=e.render.label(repo, label)
        )


def remove_label(request: web.Request, repo: Repo, issue: Issue, name: str) -> bool:
    ident, e = identity(request), emu(request)
    for label in list(issue.labels):
        if label.name.lower() == name.lower():
            issue.labels.remove(label)
            issue.updated_at = time.time()
            record(ident, issue, "unlabeled", label)
            events.issue_event(
                e, repo, issue, "unlabeled", actor_of(ident), label=e.render.label(repo, label)
            )
            return True
    return False


def set_labels(request: web.Request, repo: Repo, issue: Issue, names: list[str]) -> None:
    """Make ``names`` the issue's labels: unlabeled for each one dropped, labeled for each
    one added."""
    wanted = {name.lower() for name in names}
    for label in list(issue.labels):
        if label.name.lower() not in wanted:
            remove_label(request, repo, issue, label.name)
    add_labels(request, repo, issue, names)


def label_names(data: Any) -> list[str]:
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
        issue.closed_at, issue.closed_by = now, actor_of(ident)
        issue.state_reason = reason or "completed"
        record(ident, issue, "closed")
        events.issue_event(e, repo, issue, "closed", actor_of(ident))
    else:
        issue.closed_at = issue.closed_by = None
        issue.state_reason = "reopened"
        record(ident, issue, "reopened")
        events.issue_event(e, repo, issue, "reopened", actor_of(ident))
