"""Who may press "Approve" on an ``action_required`` gate (pure).

At gate time, :func:`required_owners` lists, for every path that made the change need
approval, the owners the policy names for it (``@user`` or ``@org/team``; emails are ignored
because GitHub identities cannot be matched to them). At click time :func:`decide` accepts:

- a repository admin, always;
- otherwise someone who owns EVERY listed path: named as ``@login`` or a member of a named
  ``@org/team`` (membership is resolved by the caller through the API).

A path without owners can only be approved by an admin. The approval is bound to the head SHA
of the gate run; the handler refuses a click on a run whose head is no longer the PR's head.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from selfheal.model.findings import Category, Finding, Severity
from selfheal.model.policy import Policy

NEEDS_OWNER = frozenset(
    {Category.PROTECTED_PATH, Category.REVIEW_PATH, Category.SENSITIVE_CHANGE, Category.SKIPPED}
)
ADMIN = "admin"


@dataclass(frozen=True)
class ApprovalDecision:
    allowed: bool
    reason: str


def required_owners(findings: Iterable[Finding], policy: Policy | None) -> dict[str, list[str]]:
    """path -> owners (``@user`` / ``@org/team``) for each path that needs approval."""
    out: dict[str, list[str]] = {}
    for f in findings:
        if f.category not in NEEDS_OWNER and f.severity < Severity.MEDIUM:
            continue
        if f.path in out or f.path in ("", "."):
            continue
        owners = policy.owners_of(f.path) if policy is not None else ()
        out[f.path] = [o for o in owners if o.startswith("@")]
    return out


def teams_in(owners_by_path: Mapping[str, Sequence[str]]) -> set[str]:
    """Every ``org/team`` named (without the ``@``)."""
    return {o[1:] for owners in owners_by_path.values() for o in owners if "/" in o}


def decide(
    login: str,
    permission: str,
    owners_by_path: Mapping[str, Sequence[str]],
    member_of: Iterable[str] = (),
) -> ApprovalDecision:
    """``permission`` is the clicker's role on the repository; ``member_of`` the teams
    (``org/team``) from :func:`teams_in` that they are an active member of."""
    if permission == ADMIN:
        return ApprovalDecision(True, f"@{login} is a repository admin")
    teams = {t.lower() for t in member_of}
    me = f"@{login}".lower()
    missing = []
    for path, owners in sorted(owners_by_path.items()):
        lowered = [o.lower() for o in owners]
        if me in lowered or any(o[1:] in teams for o in lowered if "/" in o):
            continue
        missing.append(path)
    if not owners_by_path:
        return ApprovalDecision(False, f"@{login} is not an admin and no path lists owners")
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        shown = ", ".join(missing[:3]) + more
        return ApprovalDecision(False, f"@{login} is not an owner of {shown}")
    return ApprovalDecision(True, f"@{login} owns every path that needs approval")
