"""The labels selfheal creates on every repository it is installed on (pure data).

Colours are six hex digits without ``#`` (as GitHub's label API takes them); descriptions are
at most 100 characters (GitHub's limit). :func:`label_set` is the full list, with the halt label
renamed when a repository configures another one.
"""

from __future__ import annotations

from dataclasses import dataclass

HALT_LABEL = "selfheal:halt"
REQUEST_LABEL = "selfheal:request"
APPROVED_LABEL = "selfheal:approved"
MONITOR_LABEL = "selfheal:source/monitor"
MAX_DESCRIPTION = 100
REQUEST_TYPES = {
    "fix-bug": "Fix a bug",
    "feature": "Add a feature",
    "refactor": "Refactor without changing behaviour",
    "security": "Fix a security problem",
    "dependency": "Update a dependency",
    "self-improvement": "Improve selfheal's own code",
}
STATES = {
    "queued": ("Waiting for a worker", "ededed"),
    "reviewing": ("The request is being reviewed against the policy", "c5def5"),
    "needs-approval": ("An owner must approve before work starts", "fbca04"),
    "coding": ("A coder is working on the change", "1d76db"),
    "pr-open": ("A pull request is open for the change", "0e8a16"),
    "blocked": ("The security gate or the policy blocked the change", "b60205"),
    "done": ("The change was merged", "5319e7"),
    "failed": ("The attempt failed; see the status comment", "d93f0b"),
    "cancelled": ("The request was cancelled", "bfd4f2"),
}


@dataclass(frozen=True)
class LabelSpec:
    name: str
    color: str
    description: str

    def as_api(self) -> dict[str, str]:
        return {"name": self.name, "color": self.color, "description": self.description}


def _priority(n: int) -> LabelSpec:
    # 1 is the most urgent: a red-to-grey ramp.
    ramp = ["b60205", "d93f0b", "e4572e", "f9a03f", "fbca04", "fef2c0", "c2e0c6", "d4c5f9",
            "e6e6e6", "f5f5f5"]  # fmt: skip
    return LabelSpec(f"selfheal:priority/{n}", ramp[n - 1], f"Priority {n} (1 = most urgent)")


def label_set(halt_label: str = HALT_LABEL) -> list[LabelSpec]:
    """Every label selfheal uses, in a stable order."""
    labels = [
        LabelSpec(REQUEST_LABEL, "1d76db", "A change request for selfheal"),
        *(LabelSpec(f"selfheal:type/{k}", "c5def5", v) for k, v in REQUEST_TYPES.items()),
        *(_priority(n) for n in range(1, 11)),
        *(LabelSpec(f"selfheal:state/{k}", c, d) for k, (d, c) in STATES.items()),
        LabelSpec(APPROVED_LABEL, "0e8a16", "An owner approved this request"),
        LabelSpec(
            halt_label,
            "b60205",
            "Lock: while an open issue has this label, selfheal starts nothing and stops work",
        ),
        LabelSpec(MONITOR_LABEL, "5319e7", "Filed by the selfheal monitor"),
    ]
    return [LabelSpec(x.name, x.color, x.description[:MAX_DESCRIPTION]) for x in labels]
