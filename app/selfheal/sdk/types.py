"""Typed results: what the API answers, as TypedDicts (the fields of its OpenAPI schemas)."""

from __future__ import annotations

from typing import Any, TypedDict


class Created(TypedDict):
    change_id: str
    repository: str
    issue_number: int
    issue_url: str
    state: str
    agent_id: str | None
    status_url: str


class Gate(TypedDict, total=False):
    status: str
    conclusion: str | None
    risk: str | None


class TimelineEntry(TypedDict):
    at: str
    actor: str
    action: str
    details: dict[str, Any]


class Summary(TypedDict):
    change_id: str
    repository: str
    issue_number: int
    issue_url: str
    state: str
    change_type: str
    priority: int
    agent_id: str | None
    requester: str
    requester_id: str | None
    cost_usd: float
    budget_usd: float
    created_at: float


class Status(Summary):
    pr_number: int | None
    pr_url: str | None
    branch: str | None
    gate: Gate | None
    targets: list[str]
    updated_at: float
    timeline: list[TimelineEntry]


class History(TypedDict):
    items: list[Summary]
    next_offset: int | None


class Halted(TypedDict):
    halted: bool
    repositories: list[str]


class Moved(TypedDict):
    change_id: str
    state: str
    message: str


class Recorded(TypedDict):
    recorded: int


# the states after which a request changes no more
FINAL_STATES = frozenset(
    {"pr_ready", "merged", "blocked", "rolled_back", "failed", "cancelled", "halted",
     "budget_exceeded"}
)  # fmt: skip
