"""The decision rules of the SecurityCodeReviewer: findings in, decision and risk out.

This is the ONE place where the gate's decision is made. Every rule that fires adds one
sentence to ``Verdict.reasons``; the decision is the strictest one any rule gives
(``block`` > ``needs_approval`` > ``approve``). "Code finding" means a finding from a scanner
(semgrep, secrets, dependencies), i.e. not a path, sensitive-change, scanner-error or skipped
entry. Thresholds default to ``block_at=high`` and ``approval_at=medium``.

====  ===========================================================  ==============  ==============
rule  fires when                                                   automation      human
====  ===========================================================  ==============  ==============
P0    the policy cannot be parsed (:func:`policy_error_verdict`)   block           block
R1    a scanner failed (``scanner-error`` finding): fail closed    block           block
R2    a secret in an added line                                    block           block
R3    a critical code finding                                      block           block
R4    a ``protected`` path is added, changed, renamed or deleted   block           needs_approval
R5    a code finding at or above ``block_at`` (default high)       block           block
R6    a policy, CODEOWNERS or workflow file changes                needs_approval  needs_approval
R7    a ``review`` path changes                                    needs_approval  needs_approval
R8    a code finding at or above ``approval_at`` (default medium)  needs_approval  needs_approval
R9    changed content could not be scanned (binary, too large)     needs_approval  needs_approval
--    none of the above (low/info findings are reported only)      approve         approve
====  ===========================================================  ==============  ==============

Risk: ``critical`` if there is a secret or a critical code finding; else ``high`` if the
decision is block, a protected path is touched or a code finding is high; else ``medium``
if the decision is needs_approval or a code finding is medium; else ``low``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from selfheal.model.codeowners import compile_pattern, normalize_path
from selfheal.model.findings import (
    Category,
    Decision,
    Finding,
    Risk,
    Severity,
    Verdict,
    sort_findings,
)
from selfheal.model.policy import REPO_POLICY_PATH

ACTOR_KINDS = ("automation", "human")
# Rule R6: edits to these always need a person, whatever any policy says.
SENSITIVE_PATTERNS = {
    f"/{REPO_POLICY_PATH}": "the selfheal policy",
    "/CODEOWNERS": "CODEOWNERS",
    "/.github/CODEOWNERS": "CODEOWNERS",
    "/docs/CODEOWNERS": "CODEOWNERS",
    "/.github/workflows/": "a GitHub Actions workflow",
}
SENSITIVE = [(compile_pattern(p), what) for p, what in SENSITIVE_PATTERNS.items()]
NON_CODE = frozenset(
    {
        Category.PROTECTED_PATH,
        Category.REVIEW_PATH,
        Category.SENSITIVE_CHANGE,
        Category.SCANNER_ERROR,
        Category.SKIPPED,
    }
)
STRICTNESS = {Decision.APPROVE: 0, Decision.NEEDS_APPROVAL: 1, Decision.BLOCK: 2}
MAX_EXAMPLES = 3
APPROVE_REASON = (
    "No protected paths, secrets, sensitive files or findings at or above {level} severity."
)


@dataclass(frozen=True, slots=True)
class Thresholds:
    block_at: Severity = Severity.HIGH
    approval_at: Severity = Severity.MEDIUM


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule: str
    decision: Decision
    reason: str


# -- helpers ---------------------------------------------------------------------------------


def _some(items: Sequence[str]) -> str:
    """The first MAX_EXAMPLES items, and how many more there are."""
    more = len(items) - MAX_EXAMPLES
    return ", ".join(items[:MAX_EXAMPLES]) + (f" and {more} more" if more > 0 else "")


def _where(findings: Sequence[Finding]) -> str:
    return _some(list(dict.fromkeys(f"{f.path}:{f.line}" if f.line else f.path for f in findings)))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _owners(findings: Sequence[Finding]) -> str:
    owners = dict.fromkeys(owner for f in findings for owner in f.properties.get("owners", ()))
    return f" (owners: {' '.join(owners)})" if owners else ""


def is_code_finding(finding: Finding) -> bool:
    return finding.category not in NON_CODE


def _hits(
    findings: Sequence[Finding],
    skipped: Sequence[tuple[str, str]],
    actor_kind: str,
    thresholds: Thresholds,
) -> list[RuleHit]:
    code = [f for f in findings if is_code_finding(f)]
    secrets = [f for f in code if f.category is Category.SECRET]
    scored = [f for f in code if f.category is not Category.SECRET]
    critical = [f for f in scored if f.severity >= Severity.CRITICAL]
    high = [f for f in scored if thresholds.block_at <= f.severity < Severity.CRITICAL]
    medium = [f for f in scored if thresholds.approval_at <= f.severity < thresholds.block_at]

    def of(category: Category) -> list[Finding]:
        return [f for f in findings if f.category is category]

    errors, protected = of(Category.SCANNER_ERROR), of(Category.PROTECTED_PATH)
    sensitive, review = of(Category.SENSITIVE_CHANGE), of(Category.REVIEW_PATH)
    human = actor_kind == "human"
    block, ask = Decision.BLOCK, Decision.NEEDS_APPROVAL
    table: list[tuple[str, list[Finding], Decision, Callable[[list[Finding]], str]]] = [
        ("R1", errors, block, lambda fs: (
            f"A scanner could not complete ({_count(len(fs), 'error')}), so the gate fails "
            f"closed: {fs[0].message}")),
        ("R2", secrets, block, lambda fs: (
            f"{_count(len(fs), 'secret')} in added lines ({_where(fs)}); remove and rotate.")),
        ("R3", critical, block, lambda fs: (
            f"{_count(len(fs), 'critical finding')} ({_where(fs)}).")),
        ("R4", protected, ask if human else block, lambda fs: (
            f"The change touches {_count(len(fs), 'protected path')} ({_where(fs)}); "
            + (f"an owner must approve{_owners(fs)}." if human
               else f"automation may not change them{_owners(fs)}."))),
        ("R5", high, block, lambda fs: (
            f"{_count(len(fs), 'finding')} at or above {thresholds.block_at.label} "
            f"severity ({_where(fs)}).")),
        ("R6", sensitive, ask, lambda fs: (
            f"The change edits {_count(len(fs), 'policy, CODEOWNERS or workflow file')} "
            f"({_where(fs)}); a person must approve.")),
        ("R7", review, ask, lambda fs: (
            f"The change touches {_count(len(fs), 'review-level path')} ({_where(fs)}); "
            f"an owner must approve the pull request{_owners(fs)}.")),
        ("R8", medium, ask, lambda fs: (
            f"{_count(len(fs), 'finding')} at or above {thresholds.approval_at.label} "
            f"severity ({_where(fs)}).")),
    ]  # fmt: skip
    hits = [RuleHit(rule, d, say(fs)) for rule, fs, d, say in table if fs]
    if skipped:
        files = _some([f"{path} ({why})" for path, why in skipped])
        hits.append(
            RuleHit(
                "R9", ask, f"{_count(len(skipped), 'changed file')} could not be scanned: {files}."
            )
        )
    return hits


# -- public functions ------------------------------------------------------------------------


def sensitive_kind(path: str) -> str | None:
    """What a sensitive file is (rule R6), or None for an ordinary path."""
    normal = normalize_path(path)
    return next((what for pattern, what in SENSITIVE if pattern.match(normal)), None)


def sensitive_kind_below(directory: str) -> str | None:
    """What sensitive file (rule R6) can sit below ``directory``, whether or not one does
    (see :meth:`PathPattern.reaches_below`); None when none can."""
    normal = normalize_path(directory)
    parts = normal.split("/") if normal else []
    return next((what for pattern, what in SENSITIVE if pattern.reaches_below(parts)), None)


def risk_for(decision: Decision, findings: Iterable[Finding]) -> Risk:
    """The risk level described in the module docstring."""
    items = list(findings)
    code = [f for f in items if is_code_finding(f)]
    if any(f.category is Category.SECRET or f.severity >= Severity.CRITICAL for f in code):
        return Risk.CRITICAL
    protected = any(f.category is Category.PROTECTED_PATH for f in items)
    if decision is Decision.BLOCK or protected or any(f.severity >= Severity.HIGH for f in code):
        return Risk.HIGH
    if decision is Decision.NEEDS_APPROVAL or any(f.severity >= Severity.MEDIUM for f in code):
        return Risk.MEDIUM
    return Risk.LOW


def evaluate(
    findings: Iterable[Finding],
    *,
    actor_kind: str = "automation",
    skipped: Sequence[tuple[str, str]] = (),
    thresholds: Thresholds | None = None,
) -> list[RuleHit]:
    """The rules that fire, in table order."""
    if actor_kind not in ACTOR_KINDS:
        raise ValueError(f"unknown actor kind {actor_kind!r} (expected automation or human)")
    return _hits(list(findings), skipped, actor_kind, thresholds or Thresholds())


def decide(
    findings: Iterable[Finding],
    *,
    actor_kind: str = "automation",
    skipped: Sequence[tuple[str, str]] = (),
    thresholds: Thresholds | None = None,
) -> Verdict:
    """Apply the table to the findings of one change."""
    items = sort_findings(findings)
    limits = thresholds or Thresholds()
    hits = evaluate(items, actor_kind=actor_kind, skipped=skipped, thresholds=limits)
    decision = max((h.decision for h in hits), key=STRICTNESS.__getitem__, default=None)
    if decision is None:
        decision = Decision.APPROVE
        reasons: tuple[str, ...] = (APPROVE_REASON.format(level=limits.approval_at.label),)
    else:
        reasons = tuple(h.reason for h in hits)
    return Verdict(decision, risk_for(decision, items), reasons, tuple(items), tuple(skipped))


def policy_error_verdict(error: Exception) -> Verdict:
    """P0: a policy that cannot be parsed blocks the change, with the parse error as reason."""
    return Verdict(
        Decision.BLOCK,
        Risk.HIGH,
        (f"The security policy cannot be used, so the gate fails closed: {error}",),
        (),
    )
