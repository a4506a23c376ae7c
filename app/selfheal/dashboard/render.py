"""The dashboard issue's body, and reading its checkboxes back (pure).

The body is rebuilt from selfheal's own state every time; nothing a person writes into it is
kept. Two kinds of checkbox carry a hidden key at the end of their line: the halt box
(``halt``) and one approve box per request waiting for an owner (``approve:<request id>``).
:func:`toggled` compares the body before and after a person's edit and returns the boxes
they changed; the edge checks each against their permission, acts, and rebuilds the body.
Issue titles are never copied in (``#N`` is enough for GitHub to show them), so nothing from
an issue is rendered as markdown here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from selfheal.model.markdown import inline_code
from selfheal.model.markers import DASHBOARD_MARKER

BOX = re.compile(r"^- \[([ xX])\] .*<!-- selfheal:box ([a-z]+(?::[A-Za-z0-9_-]+)?) -->\s*$")
HALT_KEY = "halt"
APPROVE_PREFIX = "approve:"
STATE_ORDER = (
    "received", "reviewing", "awaiting_approval", "queued", "coding", "gating", "pr_ready",
    "blocked", "rolled_back", "failed", "budget_exceeded", "halted", "merged", "cancelled",
)  # fmt: skip
MAX_PER_STATE = 20


@dataclass(frozen=True)
class RequestLine:
    id: str
    issue: int
    state: str
    cost_usd: float
    pr: int | None = None
    targets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Facts:
    repository: str
    halted: bool
    halt_label: str
    halting_issues: tuple[int, ...] = ()
    requests: Sequence[RequestLine] = ()
    bot_prs: Sequence[int] = ()
    month: str = ""  # "2026-12"
    month_spend_usd: float = 0.0
    monthly_cap_usd: float | None = None
    problems: Sequence[str] = ()
    sections: Mapping[str, str] = field(default_factory=dict)  # extra: title -> markdown


def _box(checked: bool, text: str, key: str) -> str:
    return f"- [{'x' if checked else ' '}] {text} <!-- selfheal:box {key} -->"


def _halt(f: Facts) -> list[str]:
    if f.halted:
        where = ", ".join(f"#{n}" for n in f.halting_issues) or "an issue"
        state = f"**⛔ halted**: the lock label {inline_code(f.halt_label)} is on {where}."
    else:
        state = "**running**"
    box = _box(f.halted, "Halt selfheal in this repository (writers; untick to resume)", HALT_KEY)
    return [f"State: {state}", "", box]


def _approvals(f: Facts) -> list[str]:
    waiting = [r for r in f.requests if r.state == "awaiting_approval"]
    if not waiting:
        return ["Nothing is waiting for an owner's approval."]
    lines = []
    for r in waiting:
        targets = ", ".join(inline_code(t) for t in r.targets[:5]) or "no paths"
        lines.append(_box(False, f"Approve #{r.issue} ({inline_code(r.id)}): {targets}",
                          APPROVE_PREFIX + r.id))  # fmt: skip
    lines += ["", "Only owners of the review paths (or admins) can approve; other ticks are "
              "undone."]  # fmt: skip
    return lines


def _requests(f: Facts) -> list[str]:
    if not f.requests:
        return ["No requests yet."]
    lines: list[str] = []
    for state in STATE_ORDER:
        group = [r for r in f.requests if r.state == state]
        if not group:
            continue
        lines.append(f"**{state}** ({len(group)})")
        for r in group[:MAX_PER_STATE]:
            pr = f", PR #{r.pr}" if r.pr else ""
            lines.append(f"- #{r.issue}{pr} · ${r.cost_usd:.2f} · {inline_code(r.id)}")
        if len(group) > MAX_PER_STATE:
            lines.append(f"- … and {len(group) - MAX_PER_STATE} more")
    return lines


def _spend(f: Facts) -> list[str]:
    if f.monthly_cap_usd is None:
        return [f"${f.month_spend_usd:.2f} in {f.month} (no monthly cap set)."]
    share = f.month_spend_usd / f.monthly_cap_usd if f.monthly_cap_usd else 1.0
    return [f"${f.month_spend_usd:.2f} of ${f.monthly_cap_usd:.2f} in {f.month} ({share:.0%})."]


def render(f: Facts) -> str:
    """The whole body of the dashboard issue."""
    prs = ", ".join(f"#{n}" for n in f.bot_prs) or "none"
    problems = [f"- ⚠️ {p}" for p in f.problems] or ["No problems found."]
    parts: list[list[str]] = [
        [DASHBOARD_MARKER, f"# selfheal dashboard for {f.repository}"],
        ["## Halt", *_halt(f)],
        ["## Waiting for approval", *_approvals(f)],
        ["## Requests", *_requests(f)],
        ["## The bot's open pull requests", prs],
        ["## Spend", *_spend(f)],
    ]
    parts += [[f"## {title}", text] for title, text in f.sections.items()]
    parts += [
        ["## Configuration", *problems],
        ["<sub>selfheal rebuilds this issue on every change; edits other than the checkboxes "
         "are overwritten.</sub>"],
    ]  # fmt: skip
    return "\n\n".join("\n".join(part) for part in parts) + "\n"


def boxes(body: str) -> dict[str, bool]:
    """The keyed checkboxes in ``body`` and whether each is ticked."""
    found: dict[str, bool] = {}
    for line in body.splitlines():
        match = BOX.match(line.strip())
        if match:
            found[match.group(2)] = match.group(1) != " "
    return found


def toggled(before: str, after: str) -> list[tuple[str, bool]]:
    """The boxes whose tick changed from ``before`` to ``after`` (key, now ticked)."""
    old, new = boxes(before), boxes(after)
    return [(key, ticked) for key, ticked in new.items() if key in old and old[key] != ticked]
