"""The decision table in app/review/rules.py, row by row."""

from __future__ import annotations

import pytest

from selfheal.model.findings import Category, Decision, Finding, Risk, Severity, Source
from selfheal.model.policy import PolicyError
from selfheal.reviewer.rules import (
    Thresholds,
    decide,
    evaluate,
    policy_error_verdict,
    sensitive_kind,
)


def _f(category: Category, severity: Severity, path: str = "src/a.py", line: int = 3) -> Finding:
    owners = {"owners": ["@org/sec"]} if category is Category.PROTECTED_PATH else {}
    return Finding(
        rule_id=f"test.{category.value}",
        category=category,
        severity=severity,
        path=path,
        line=line,
        message=f"{category.value} here",
        source=Source.POLICY if category in (Category.PROTECTED_PATH,) else Source.SEMGREP,
        properties=owners,
    )


ERROR = _f(Category.SCANNER_ERROR, Severity.HIGH, ".", 0)
SECRET = _f(Category.SECRET, Severity.HIGH)
CRITICAL = _f(Category.INJECTION, Severity.CRITICAL)
PROTECTED = _f(Category.PROTECTED_PATH, Severity.HIGH, ".env", 0)
HIGH = _f(Category.DANGEROUS_CODE, Severity.HIGH)
SENSITIVE = _f(Category.SENSITIVE_CHANGE, Severity.MEDIUM, ".github/workflows/x.yml", 0)
REVIEW = _f(Category.REVIEW_PATH, Severity.MEDIUM, "core/x.py", 0)
MEDIUM = _f(Category.CRYPTO, Severity.MEDIUM)
LOW = _f(Category.CONFIG, Severity.LOW)

# (findings, actor, decision, risk, rules that fire)
TABLE = [
    ([], "automation", Decision.APPROVE, Risk.LOW, []),
    ([LOW], "automation", Decision.APPROVE, Risk.LOW, []),
    ([ERROR], "automation", Decision.BLOCK, Risk.HIGH, ["R1"]),
    ([ERROR], "human", Decision.BLOCK, Risk.HIGH, ["R1"]),
    ([SECRET], "human", Decision.BLOCK, Risk.CRITICAL, ["R2"]),
    ([CRITICAL], "human", Decision.BLOCK, Risk.CRITICAL, ["R3"]),
    ([PROTECTED], "automation", Decision.BLOCK, Risk.HIGH, ["R4"]),
    ([PROTECTED], "human", Decision.NEEDS_APPROVAL, Risk.HIGH, ["R4"]),
    ([HIGH], "human", Decision.BLOCK, Risk.HIGH, ["R5"]),
    ([SENSITIVE], "automation", Decision.NEEDS_APPROVAL, Risk.MEDIUM, ["R6"]),
    ([REVIEW], "automation", Decision.NEEDS_APPROVAL, Risk.MEDIUM, ["R7"]),
    ([MEDIUM], "automation", Decision.NEEDS_APPROVAL, Risk.MEDIUM, ["R8"]),
    ([PROTECTED, SENSITIVE], "human", Decision.NEEDS_APPROVAL, Risk.HIGH, ["R4", "R6"]),
    ([SECRET, REVIEW, LOW], "automation", Decision.BLOCK, Risk.CRITICAL, ["R2", "R7"]),
]


@pytest.mark.parametrize(("findings", "actor", "decision", "risk", "rules"), TABLE)
def test_decision_table(
    findings: list[Finding], actor: str, decision: Decision, risk: Risk, rules: list[str]
) -> None:
    verdict = decide(findings, actor_kind=actor)
    assert (verdict.decision, verdict.risk) == (decision, risk)
    assert [hit.rule for hit in evaluate(findings, actor_kind=actor)] == rules
    assert len(verdict.reasons) == max(1, len(rules))
    assert verdict.findings == tuple(
        sorted(findings, key=lambda f: (-int(f.severity), f.path, f.line, f.rule_id))
    )


def test_reasons_are_sentences_naming_places_and_owners() -> None:
    verdict = decide([PROTECTED, SECRET])
    assert verdict.reasons == (
        "1 secret in added lines (src/a.py:3); remove and rotate.",
        "The change touches 1 protected path (.env); automation may not change them "
        "(owners: @org/sec).",
    )
    human = decide([PROTECTED], actor_kind="human")
    assert human.reasons == (
        "The change touches 1 protected path (.env); an owner must approve (owners: @org/sec).",
    )
    assert decide([]).reasons == (
        "No protected paths, secrets, sensitive files or findings at or above medium severity.",
    )


def test_many_places_are_summarised() -> None:
    findings = [_f(Category.DANGEROUS_CODE, Severity.HIGH, f"m{i}.py", i + 1) for i in range(5)]
    (reason,) = decide(findings).reasons
    assert reason == "5 findings at or above high severity (m0.py:1, m1.py:2, m2.py:3 and 2 more)."


def test_thresholds_move_findings_between_rows() -> None:
    strict = Thresholds(block_at=Severity.MEDIUM, approval_at=Severity.LOW)
    assert decide([MEDIUM], thresholds=strict).decision is Decision.BLOCK
    assert decide([LOW], thresholds=strict).decision is Decision.NEEDS_APPROVAL
    lax = Thresholds(block_at=Severity.CRITICAL, approval_at=Severity.HIGH)
    assert decide([HIGH], thresholds=lax).decision is Decision.NEEDS_APPROVAL
    assert decide([MEDIUM], thresholds=lax).decision is Decision.APPROVE
    # Secrets and critical findings block whatever the thresholds say.
    assert decide([SECRET], thresholds=lax).decision is Decision.BLOCK


def test_unscanned_files_need_approval() -> None:
    verdict = decide([], skipped=[("logo.png", "binary file")])
    assert verdict.decision is Decision.NEEDS_APPROVAL
    assert verdict.reasons == ("1 changed file could not be scanned: logo.png (binary file).",)
    assert verdict.skipped == (("logo.png", "binary file"),)


def test_policy_error_blocks_with_the_parse_error() -> None:
    verdict = policy_error_verdict(PolicyError("unknown level 'x'", ".github/selfheal.policy", 4))
    assert (verdict.decision, verdict.risk) == (Decision.BLOCK, Risk.HIGH)
    assert ".github/selfheal.policy:4: error: unknown level 'x'" in verdict.reasons[0]


def test_unknown_actor_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown actor kind"):
        decide([], actor_kind="robot")


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (".github/workflows/ci.yml", "a GitHub Actions workflow"),
        ("./.github/workflows/deep/x.yaml", "a GitHub Actions workflow"),
        ("CODEOWNERS", "CODEOWNERS"),
        ("docs/CODEOWNERS", "CODEOWNERS"),
        (".github/selfheal.policy", "the selfheal policy"),
        ("src/CODEOWNERS", None),  # GitHub reads only the three locations
        ("workflows/ci.yml", None),
    ],
)
def test_sensitive_files(path: str, kind: str | None) -> None:
    assert sensitive_kind(path) == kind
