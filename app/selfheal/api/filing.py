"""A change request filed by the App: the issue the API (and later the monitor) opens.

The issue carries the request in the App's machine block (``selfheal-request``, honoured only
because the App wrote it) with the ledger id chosen here, and the labels that make it a
request: ``selfheal:request``, its type, its priority and, when a coding agent is named,
``selfheal:agent/<id>``. :func:`compose` builds the issue and reads it back with the intake
the request job uses, so a request the intake would refuse is refused here, before anything
is filed (pure); :func:`file_issue` files it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from selfheal.changes import IntakeError, parse_request, render_machine_block
from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import split
from selfheal.model.labels import (
    AGENT_PREFIX,
    PRIORITY_PREFIX,
    REQUEST_LABEL,
    TYPE_PREFIX,
)

DEFAULT_PRIORITY = 5
TITLE_CHARS = 80
MAX_DESCRIPTION_CHARS = 20_000


@dataclass(frozen=True)
class Ask:
    """What the caller asked for, in the labels' vocabulary."""

    repository: str
    description: str
    change_type: str = "fix-bug"
    target_files: tuple[str, ...] = ()
    priority: int = DEFAULT_PRIORITY
    agent_id: str | None = None
    requester_id: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Issue:
    title: str
    body: str
    labels: tuple[str, ...]


class Refused(ValueError):
    """The intake would not read this request; ``field`` names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def change_type(raw: str) -> str:
    """The labels' spelling of a change type (the seed writes ``fix_bug``)."""
    return raw.strip().lower().replace("_", "-")


def _description(ask: Ask) -> str:
    if not ask.context:
        return ask.description
    facts = json.dumps(ask.context, indent=2, sort_keys=True, ensure_ascii=True)
    return f"{ask.description}\n\nContext given with the request (JSON):\n{facts}"


def _title(description: str) -> str:
    first = " ".join(description.split("\n", 1)[0].split())
    short = first if len(first) <= TITLE_CHARS else first[: TITLE_CHARS - 1] + "…"
    return short or "Change request"


_FIELDS = {"type": "change_type", "target_files": "target_files", "description": "description",
           "priority": "priority", "agent": "agent_id", "requester": "requester_id"}  # fmt: skip


def compose(ask: Ask, request_id: str, requester: str) -> Issue:
    """The issue for ``ask`` (raises :class:`Refused` when the intake would refuse it)."""
    description = _description(ask)
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise Refused("context", f"description and context exceed {MAX_DESCRIPTION_CHARS} chars")
    block = render_machine_block(
        ask.change_type, description, ask.target_files, ask.priority, ask.agent_id,
        requester, request_id,
    )  # fmt: skip
    who = f" for `{ask.requester_id}`" if ask.requester_id else ""
    body = f"Filed through the selfheal API{who} (request `{request_id}`).\n\n{block}\n"
    labels = [REQUEST_LABEL, TYPE_PREFIX + ask.change_type, f"{PRIORITY_PREFIX}{ask.priority}"]
    if ask.agent_id:
        labels.append(AGENT_PREFIX + ask.agent_id)
    issue = Issue(_title(ask.description), body, tuple(labels))
    try:
        parse_request(issue.title, issue.body, issue.labels, app_authored=True)
    except IntakeError as exc:
        problem = exc.problems[0]
        raise Refused(_FIELDS.get(problem.field, problem.field), problem.message) from None
    return issue


async def file_issue(gh: GitHubAPI, repository: str, issue: Issue) -> dict[str, Any]:
    """Open the issue as the App; GitHub's answer (number, html_url, ...)."""
    owner, name = split(repository)
    data = {"title": issue.title, "body": issue.body, "labels": list(issue.labels)}
    created: dict[str, Any] = await gh.call("issues.create", owner=owner, repo=name, data=data)
    return created
