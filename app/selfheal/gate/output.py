"""What the gate's check run shows: conclusion, title, summary, annotations, actions (pure).

GitHub's limits: output title/summary/text at most 65,535 characters, at most 50 annotations
per create/update request (they are appended across updates), at most 3 actions with a label
of at most 20 and a description of at most 40 characters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from selfheal.model.findings import Category, Decision, Finding, Verdict
from selfheal.report import batches, check_run_annotations, render
from selfheal.report.markdown import escape

CONCLUSIONS = {
    Decision.APPROVE: "success",
    Decision.BLOCK: "failure",
    Decision.NEEDS_APPROVAL: "action_required",
}
WORDS = {
    Decision.APPROVE: "Passed",
    Decision.BLOCK: "Blocked",
    Decision.NEEDS_APPROVAL: "Needs approval",
}
MAX_TEXT = 65_535
MAX_TITLE = 255
APPROVE_ACTION = {
    "label": "Approve",
    "description": "Approve this head commit (owners only)",
    "identifier": "approve",
}
HALTED_TITLE = "Blocked — halted: the repository is locked"
NOUNS = {
    Category.SECRET: ("secret", "secrets"),
    Category.PROTECTED_PATH: ("protected path", "protected paths"),
    Category.REVIEW_PATH: ("review path", "review paths"),
    Category.SENSITIVE_CHANGE: ("sensitive file", "sensitive files"),
    Category.SCANNER_ERROR: ("scanner error", "scanner errors"),
    Category.DEPENDENCY: ("vulnerable dependency", "vulnerable dependencies"),
    Category.SKIPPED: ("unscanned file", "unscanned files"),
}
NOUN_ORDER = list(NOUNS)


@dataclass(frozen=True)
class CheckOutput:
    """Everything one completion sends: the conclusion, title, summary and actions, and the
    annotation ``batches`` (the last goes with the conclusion, the others in progress updates
    before it, each with the same title and summary)."""

    conclusion: str
    title: str
    summary: str
    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    actions: list[dict[str, str]] = field(default_factory=list)

    def completion(self) -> dict[str, Any]:
        """The PATCH body that completes the run (with the last annotation batch, if any)."""
        output: dict[str, Any] = {"title": self.title, "summary": self.summary}
        if self.batches:
            output["annotations"] = self.batches[-1]
        return {"status": "completed", "conclusion": self.conclusion, "output": output,
                "actions": self.actions}  # fmt: skip

    def progress_updates(self) -> list[dict[str, Any]]:
        """PATCH bodies that add every batch but the last while the run is in progress."""
        return [
            {"output": {"title": self.title, "summary": self.summary, "annotations": batch}}
            for batch in self.batches[:-1]
        ]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _counted(findings: Sequence[Finding]) -> str:
    counts = Counter(f.category for f in findings)
    parts = []
    for category in NOUN_ORDER:
        n = counts.pop(category, 0)
        if n:
            one, many = NOUNS[category]
            parts.append(f"{n} {one if n == 1 else many}")
    code = sum(counts.values())
    if code:
        parts.append(f"{code} code finding{'s' if code != 1 else ''}")
    return ", ".join(parts)


def title_for(verdict: Verdict) -> str:
    """E.g. ``Blocked — critical risk: 1 secret`` or ``Passed — low risk``."""
    title = f"{WORDS[verdict.decision]} — {verdict.risk.value} risk"
    detail = _counted(verdict.findings)
    return _clip(f"{title}: {detail}" if detail else title, MAX_TITLE)


def gate_output(verdict: Verdict, *, meta: dict[str, str] | None = None) -> CheckOutput:
    """The check-run output for a reviewer verdict."""
    summary = render(
        "markdown",
        list(verdict.findings),
        verdict=verdict,
        skipped=list(verdict.skipped),
        meta={"title": "selfheal security gate", **(meta or {})},
    )
    actions = [dict(APPROVE_ACTION)] if verdict.decision is Decision.NEEDS_APPROVAL else []
    return CheckOutput(
        conclusion=CONCLUSIONS[verdict.decision],
        title=title_for(verdict),
        summary=_clip(summary, MAX_TEXT),
        batches=batches(check_run_annotations(list(verdict.findings))),
        actions=actions,
    )


def halted_output(label: str) -> CheckOutput:
    summary = (
        f"## ⛔ halted\n\nAn open issue in this repository carries the lock label `{label}`, "
        "so selfheal's own pull requests cannot pass the gate. Remove the label from every "
        "open issue (or run `selfheal resume`) to resume; the gate then runs again."
    )
    return CheckOutput("failure", HALTED_TITLE, summary)


def error_output(reason: str) -> CheckOutput:
    """Fail closed: the gate could not finish. ``reason`` must already be masked."""
    reason = reason.replace("`", "'")  # it is shown in a code block: no way out of it
    summary = (
        "## ⛔ the security gate could not complete\n\n"
        f"The gate fails closed. Reason:\n\n```\n{_clip(reason, 4000)}\n```\n\n"
        "Fix the cause and press **Re-run**."
    )
    return CheckOutput("failure", _clip(f"Blocked — gate error: {reason}", MAX_TITLE), summary)


REFUSAL_MARK = "> ⛔ Approval refused"


def _without_refusal(summary: str) -> str:
    """The summary without the note an earlier refused click put above it."""
    return summary.partition("\n\n")[2] if summary.startswith(REFUSAL_MARK) else summary


def refused_update(title: str, summary: str, clicker: str, reason: str) -> dict[str, Any]:
    """The PATCH that tells a refused clicker why, on the run itself: a note above the
    summary (replacing an earlier refusal note); the run stays ``action_required`` with its
    Approve button."""
    summary = _without_refusal(summary)
    reason = escape(reason, 600)  # it names paths: one line, no markdown, no mentions
    note = (
        f"{REFUSAL_MARK}: @{clicker} pressed Approve, but {reason}. An owner of every path "
        "that needs approval, or a repository admin, must approve.\n\n"
    )
    return {
        "output": {"title": title, "summary": _clip(note + summary, MAX_TEXT)},
        "actions": [APPROVE_ACTION],
    }


def approved_update(title: str, summary: str, approver: str) -> dict[str, Any]:
    """The PATCH that re-completes an approved run as success (annotations stay)."""
    summary = _without_refusal(summary)
    new_title = _clip(f"Approved by @{approver} — {title}", MAX_TITLE)
    note = (
        f"> ✅ Approved by @{approver} for this head commit. A new push needs a new approval.\n\n"
    )
    return {
        "status": "completed",
        "conclusion": "success",
        "output": {"title": new_title, "summary": _clip(note + summary, MAX_TEXT)},
        "actions": [],
    }
