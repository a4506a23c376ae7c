"""In-memory model of the emulated GitHub: users, apps, installations, repos, issues, PRs, checks.

Git content (refs, commits, trees) is NOT modelled here: it lives in real bare repositories on
disk and is read through pygit2 (see ``gitdata.py``), so the API and ``git fetch`` always agree.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PERMISSION_ORDER = ("none", "read", "triage", "write", "maintain", "admin")
DEFAULT_APP_PERMISSIONS = {
    "checks": "write",
    "contents": "write",
    "issues": "write",
    "metadata": "read",
    "pull_requests": "write",
    "actions": "read",
}
DEFAULT_APP_EVENTS = [
    "check_run",
    "check_suite",
    "issue_comment",
    "issues",
    "pull_request",
    "push",
    "workflow_job",
    "workflow_run",
]


def iso(ts: float) -> str:
    """Render a POSIX timestamp the way GitHub does: ISO 8601, second precision, ``Z``."""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


GOOD_CONCLUSIONS = {"success", "neutral", "skipped"}


def permission_at_least(have: str, need: str) -> bool:
    return PERMISSION_ORDER.index(have) >= PERMISSION_ORDER.index(need)


@dataclass
class User:
    login: str
    id: int
    type: str = "User"  # User | Organization | Bot
    name: str | None = None
    email: str | None = None
    site_admin: bool = False

    @property
    def noreply_email(self) -> str:
        return f"{self.id}+{self.login}@users.noreply.github.invalid"

    def author(self) -> dict[str, str]:
        """Name and e-mail on the commits GitHub makes for the user (merges, git data)."""
        return {"name": self.name or self.login, "email": self.email or self.noreply_email}


@dataclass
class App:
    id: int
    slug: str
    name: str
    owner: User
    bot: User
    public_key_pem: bytes
    private_key_pem: bytes
    webhook_secret: str
    client_id: str
    client_secret: str
    webhook_url: str | None = None
    hook_id: int = 0
    permissions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_APP_PERMISSIONS))
    events: list[str] = field(default_factory=lambda: list(DEFAULT_APP_EVENTS))
    created_at: float = field(default_factory=time.time)


@dataclass
class Installation:
    id: int
    app: App
    account: User
    repos: list[str]  # full names
    created_at: float = field(default_factory=time.time)
    permissions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_APP_PERMISSIONS))


@dataclass
class Token:
    token: str
    expires_at: float | None
    user: User  # the acting user (a person, or the app's bot user)
    installation: Installation | None = None
    repos: list[str] | None = None  # narrowed repository list for installation tokens


@dataclass
class Label:
    id: int
    name: str
    color: str
    description: str | None = None
    default: bool = False


@dataclass
class Reaction:
    id: int
    user: User
    content: str
    created_at: float


@dataclass
class Comment:
    id: int
    issue_number: int
    user: User
    body: str
    created_at: float
    updated_at: float
    via_app: App | None = None
    reactions: list[Reaction] = field(default_factory=list)


@dataclass
class IssueEvent:
    id: int
    event: str  # labeled | unlabeled | closed | reopened | ...
    actor: User
    created_at: float
    label: Label | None = None
    commit_id: str | None = None
    via_app: App | None = None


@dataclass
class Review:
    id: int
    user: User
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED
    body: str | None
    commit_id: str
    submitted_at: float


@dataclass
class PullRequest:
    head_ref: str
    base_ref: str
    head_sha: str  # last known head sha (refreshed from git whenever the PR is read)
    base_sha: str
    draft: bool = False
    merged: bool = False
    merged_at: float | None = None
    merged_by: User | None = None
    merge_commit_sha: str | None = None
    maintainer_can_modify: bool = False
    reviews: list[Review] = field(default_factory=list)
    # GitHub computes mergeability in the background: this many reads of the PR answer
    # ``mergeable: null`` (state "unknown") after it is opened or its head moves.
    mergeable_pending: int = 0
    # The fork that holds the head branch; None when the head branch is in the base repository.
    head_repo: Repo | None = field(default=None, repr=False, compare=False)


@dataclass
class Issue:
    id: int
    number: int
    title: str
    body: str | None
    user: User
    created_at: float
    updated_at: float
    state: str = "open"
    state_reason: str | None = None
    closed_at: float | None = None
    closed_by: User | None = None
    labels: list[Label] = field(default_factory=list)
    assignees: list[User] = field(default_factory=list)
    locked: bool = False
    comments: list[Comment] = field(default_factory=list)
    events: list[IssueEvent] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    pull: PullRequest | None = None
    pr_id: int = 0  # the pull request object's own id (PRs have two ids on GitHub)
    pinned: bool = False  # pinIssue (GraphQL); GitHub pins at most three issues a repository


@dataclass
class CheckSuite:
    id: int
    app: App
    head_sha: str
    head_branch: str | None
    before: str | None
    created_at: float
    updated_at: float
    rerequested: bool = False


@dataclass
class CheckRun:
    id: int
    suite: CheckSuite
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    started_at: float
    completed_at: float | None
    external_id: str
    details_url: str | None
    output: dict[str, Any]
    annotations: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Repo:
    id: int
    owner: User
    name: str
    path: Path  # the bare repository on disk
    default_branch: str = "main"
    private: bool = True
    description: str | None = None
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    pushed_at: float = field(default_factory=time.time)
    collaborators: dict[str, str] = field(default_factory=dict)  # login -> permission
    labels: dict[str, Label] = field(default_factory=dict)  # lower-case name -> label
    issues: dict[int, Issue] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    check_runs: dict[int, CheckRun] = field(default_factory=dict)
    check_suites: dict[int, CheckSuite] = field(default_factory=dict)
    required_checks: dict[str, list[str]] = field(default_factory=dict)  # branch -> names
    workflow_runs: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> run JSON
    workflow_jobs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # run id -> jobs
    # a workflow job's check-run annotations (on GitHub a job id is its check run's id)
    job_annotations: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    allow_forking: bool | None = None  # None: GitHub's default (public yes, private no)
    parent: Repo | None = field(default=None, repr=False, compare=False)  # set on forks
    forks: list[Repo] = field(default_factory=list, repr=False, compare=False)
    deleted: bool = False  # set when the repository is deleted (PRs may still point at it)

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"

    @property
    def forkable(self) -> bool:
        return self.allow_forking if self.allow_forking is not None else not self.private

    @property
    def source(self) -> Repo:
        """The root of the fork network (the repository itself when it is no fork)."""
        return self.parent.source if self.parent else self

    def permission_of(self, user: User) -> str:
        if user.login == self.owner.login:
            return "admin"
        return self.collaborators.get(user.login, "none")


@dataclass
class World:
    """Every emulated object; one per emulator."""

    users: dict[str, User] = field(default_factory=dict)
    apps: dict[int, App] = field(default_factory=dict)
    installations: dict[int, Installation] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    repos: dict[str, Repo] = field(default_factory=dict)  # lower-case full name -> repo
    manifest_codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    teams: dict[str, dict[str, str]] = field(default_factory=dict)  # "org/slug" -> login -> role
    mergeable_lag: int = 0  # reads of a new or moved PR that answer mergeable: null
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    def next_id(self) -> int:
        return next(self._ids)

    def user(self, login: str, *, type: str = "User") -> User:
        """Return the user ``login``, creating it on first use."""
        key = login.lower()
        if key not in self.users:
            self.users[key] = User(login=login, id=self.next_id(), type=type)
        return self.users[key]

    def repo(self, owner: str, name: str) -> Repo | None:
        return self.repos.get(f"{owner}/{name}".lower())

    def installations_for(self, repo: Repo) -> list[Installation]:
        return [i for i in self.installations.values() if repo.full_name in i.repos]

    def next_issue_number(self, repo: Repo) -> int:
        return max(repo.issues, default=0) + 1


def required_check_problem(repo: Repo, branch: str, head_sha: str) -> str | None:
    """Why the branch protection refuses a merge of ``head_sha``, or None."""
    for name in repo.required_checks.get(branch, []):
        runs = [r for r in repo.check_runs.values() if r.head_sha == head_sha and r.name == name]
        if not runs:
            return f'Required status check "{name}" is expected.'
        latest = max(runs, key=lambda r: (r.started_at, r.id))
        if latest.status != "completed":
            return f'Required status check "{name}" is expected.'
        if latest.conclusion not in GOOD_CONCLUSIONS:
            return f'Required status check "{name}" is failing.'
    return None
