"""The labels selfheal uses (pure data): the one list of names, colours and descriptions.

Colours are six hex digits without ``#`` (as GitHub's label API takes them); descriptions are
at most 100 characters (GitHub's limit). :func:`label_set` is the full list that is created on
every repository selfheal is installed on, with the halt label renamed when a repository
configures another one.

A request's state shows as one ``selfheal:state/...`` label. The state names of the request
lifecycle (``selfheal.changes.machine``) map onto the label names in :data:`STATE_LABELS`:
where an older label already meant the same thing its spelling stays (``awaiting_approval`` is
``needs-approval``, ``pr_ready`` is ``pr-open``, ``merged`` is ``done``).

``selfheal:agent/<id>`` labels are not created here: an agent id is the operator's, and a
person adds the label by hand; :func:`agent_of` reads one. Label names are compared the way
GitHub compares them, ignoring case. A name that differs from a prefix in any other way (a
zero-width or bidirectional control character, a space) is not one of selfheal's; a type,
priority or agent label whose value is not valid raises ValueError rather than being ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

HALT_LABEL = "selfheal:halt"
REQUEST_LABEL = "selfheal:request"
APPROVED_LABEL = "selfheal:approved"
MONITOR_LABEL = "selfheal:source/monitor"
BOT_LABEL = "selfheal:bot"
TYPE_PREFIX = "selfheal:type/"
PRIORITY_PREFIX = "selfheal:priority/"
STATE_PREFIX = "selfheal:state/"
AGENT_PREFIX = "selfheal:agent/"
MAX_DESCRIPTION = 100
MAX_NAME = 50  # GitHub's limit for a label name
MOST_URGENT = 10
LEAST_URGENT = 1
REQUEST_TYPES = {
    "fix-bug": "Fix a bug",
    "feature": "Add a feature",
    "refactor": "Refactor without changing behaviour",
    "security": "Fix a security problem",
    "dependency": "Update a dependency",
    "self-improvement": "Improve selfheal's own code",
}
# label suffix -> (description, colour), in the order of the lifecycle
STATES = {
    "received": ("selfheal has seen the request and will review it", "d4c5f9"),
    "reviewing": ("The request is being reviewed against the policy", "c5def5"),
    "blocked": ("The policy refuses a target path, or the request is invalid", "b60205"),
    "needs-approval": ("An owner must approve before work starts", "fbca04"),
    "queued": ("Waiting for a worker", "ededed"),
    "coding": ("A coder is working on the change", "1d76db"),
    "gating": ("A draft pull request is open; the security gate is checking it", "0052cc"),
    "pr-open": ("The gate passed; the pull request is ready for review", "0e8a16"),
    "rolled-back": ("The gate failed; the PR was closed and its branch deleted", "e99695"),
    "failed": ("The attempt failed; see the status comment", "d93f0b"),
    "done": ("The change was merged", "5319e7"),
    "cancelled": ("The request was cancelled", "bfd4f2"),
    "halted": ("Stopped by the halt label; resumes only by /selfheal retry", "5c5c5c"),
    "budget-exceeded": ("The request used up its budget; an owner may extend it", "f9d0c4"),
}
# lifecycle state (selfheal.changes.machine.State) -> label suffix in STATES
STATE_LABELS = {
    "received": "received",
    "reviewing": "reviewing",
    "blocked": "blocked",
    "awaiting_approval": "needs-approval",
    "queued": "queued",
    "coding": "coding",
    "gating": "gating",
    "pr_ready": "pr-open",
    "rolled_back": "rolled-back",
    "failed": "failed",
    "merged": "done",
    "cancelled": "cancelled",
    "halted": "halted",
    "budget_exceeded": "budget-exceeded",
}
# Labels an earlier version created under another name: old name -> current name. A migration
# renames the old label on installed repositories (keeping it on the issues that carry it).
# Nothing has been renamed so far: every state label kept its spelling.
RENAMED_LABELS: Mapping[str, str] = {}

AGENT_ID = re.compile(r"[A-Za-z0-9_.-]{1,40}")  # as requests.allowed_agents in the schema
_PRIORITY = re.compile(r"(?:10|[1-9])")


@dataclass(frozen=True)
class LabelSpec:
    name: str
    color: str
    description: str

    def as_api(self) -> dict[str, str]:
        return {"name": self.name, "color": self.color, "description": self.description}


def _priority(n: int) -> LabelSpec:
    # 10 is the most urgent: from pale grey through yellow and orange to red, darker each step.
    ramp = ["f5f5f5", "fef2c0", "fde9a4", "fbe38e", "fbca04", "f9a03f", "f07c32", "e4572e",
            "d93f0b", "b60205"]  # fmt: skip
    return LabelSpec(f"{PRIORITY_PREFIX}{n}", ramp[n - 1], f"Priority {n} (10 = most urgent)")


def label_set(halt_label: str = HALT_LABEL) -> list[LabelSpec]:
    """Every label selfheal creates, in a stable order."""
    labels = [
        LabelSpec(REQUEST_LABEL, "1d76db", "A change request for selfheal"),
        *(LabelSpec(f"{TYPE_PREFIX}{k}", "c5def5", v) for k, v in REQUEST_TYPES.items()),
        *(_priority(n) for n in range(LEAST_URGENT, MOST_URGENT + 1)),
        *(LabelSpec(f"{STATE_PREFIX}{k}", c, d) for k, (d, c) in STATES.items()),
        LabelSpec(
            APPROVED_LABEL,
            "0e8a16",
            "Set by selfheal after an owner approved; anyone else adding it is reverted",
        ),
        LabelSpec(
            halt_label,
            "b60205",
            "Lock: while an open issue has this label, selfheal starts nothing and stops work",
        ),
        LabelSpec(MONITOR_LABEL, "5319e7", "Filed by the selfheal monitor"),
        LabelSpec(BOT_LABEL, "7057ff", "A pull request that selfheal opened"),
    ]
    return [LabelSpec(x.name, x.color, x.description[:MAX_DESCRIPTION]) for x in labels]


def state_label(state: str) -> str:
    """The label name of a lifecycle state (``"pr_ready"`` -> ``selfheal:state/pr-open``)."""
    try:
        return STATE_PREFIX + STATE_LABELS[state]
    except KeyError:
        raise ValueError(f"unknown request state {state!r}") from None


def _suffix(name: str, prefix: str) -> str | None:
    """The part after ``prefix`` (compared ignoring case), or None."""
    if len(name) > MAX_NAME or not name.lower().startswith(prefix):
        return None
    return name[len(prefix) :]


def state_of(name: str) -> str | None:
    """The lifecycle state a ``selfheal:state/...`` label shows, or None."""
    suffix = _suffix(name, STATE_PREFIX)
    if suffix is None:
        return None
    wanted = suffix.lower()
    return next((state for state, label in STATE_LABELS.items() if label == wanted), None)


def type_of(name: str) -> str | None:
    """The request type a ``selfheal:type/<type>`` label names, or None for any other label.

    Raises ValueError for a type label with a type selfheal does not know."""
    suffix = _suffix(name, TYPE_PREFIX)
    if suffix is None:
        return None
    if suffix.lower() not in REQUEST_TYPES:
        raise ValueError(f"{name!r} names no request type ({', '.join(REQUEST_TYPES)})")
    return suffix.lower()


def priority_of(name: str) -> int | None:
    """N from ``selfheal:priority/N``, or None for any other label.

    Raises ValueError for a priority label outside 1..10."""
    suffix = _suffix(name, PRIORITY_PREFIX)
    if suffix is None:
        return None
    if not _PRIORITY.fullmatch(suffix):
        raise ValueError(f"{name!r}: a priority is a whole number from 1 to 10")
    return int(suffix)


def agent_of(name: str) -> str | None:
    """The coding agent id from ``selfheal:agent/<id>``, or None for any other label.

    Raises ValueError when the id is not a valid agent id."""
    suffix = _suffix(name, AGENT_PREFIX)
    if suffix is None:
        return None
    if not AGENT_ID.fullmatch(suffix):
        raise ValueError(f"{name!r}: an agent id is 1-40 letters, digits, '_', '.' or '-'")
    return suffix


def agent_label(agent_id: str) -> str:
    """The label name that picks ``agent_id`` (for messages; such labels are never created)."""
    if not AGENT_ID.fullmatch(agent_id) or len(AGENT_PREFIX) + len(agent_id) > MAX_NAME:
        raise ValueError(f"{agent_id!r} cannot be named in a label")
    return AGENT_PREFIX + agent_id


def current_name(name: str, renames: Mapping[str, str] = RENAMED_LABELS) -> str:
    """The name a label has now: follows ``renames`` (ignoring case) to its end."""
    by_lower = {old.lower(): new for old, new in renames.items()}
    seen: set[str] = set()
    while name.lower() in by_lower:
        if name.lower() in seen:
            raise ValueError(f"the label renames loop at {name!r}")
        seen.add(name.lower())
        name = by_lower[name.lower()]
    return name


@dataclass(frozen=True)
class LabelPlan:
    """What to do on one repository so that its labels match ``wanted``."""

    rename: tuple[tuple[str, LabelSpec], ...]  # (existing old name, the label it becomes)
    create: tuple[LabelSpec, ...]
    update: tuple[LabelSpec, ...]  # same name, another colour or description
    # old names whose new label exists as well: deleted only where no issue carries them
    leftover: tuple[str, ...] = ()


def plan_labels(
    existing: Iterable[LabelSpec],
    wanted: Iterable[LabelSpec],
    renames: Mapping[str, str] = RENAMED_LABELS,
) -> LabelPlan:
    """Compare a repository's labels with ``wanted``: an old name whose new label does not
    exist yet is renamed (the issues carrying it keep it); a missing label is created; a label
    with another colour or description is updated. Names compare ignoring case, as on GitHub.
    When both the old and the new name exist, the old one is not renamed but listed in
    ``leftover``, for the caller to delete where no issue carries it."""
    have = {spec.name.lower(): spec for spec in existing}
    rename: list[tuple[str, LabelSpec]] = []
    create: list[LabelSpec] = []
    update: list[LabelSpec] = []
    wanted = list(wanted)
    wanted_names = {spec.name.lower() for spec in wanted}
    leftover = tuple(
        have[old.lower()].name
        for old in renames
        if old.lower() in have
        and old.lower() not in wanted_names
        and current_name(old, renames).lower() in have
    )
    for spec in wanted:
        found = have.get(spec.name.lower())
        if found is None:
            old = next(
                (
                    have[o.lower()]
                    for o in renames
                    if o.lower() in have and current_name(o, renames).lower() == spec.name.lower()
                ),
                None,
            )
            if old is not None:
                rename.append((old.name, spec))
            else:
                create.append(spec)
        elif (found.color.lower(), found.description) != (spec.color, spec.description):
            update.append(spec)
    return LabelPlan(tuple(rename), tuple(create), tuple(update), leftover)
