"""The decision table under combinations: findings x actor kind x thresholds x path levels.

The expected decision, risk and fired rules come from a small model written here from the
table in the reviewer's rules module docstring (and docs/review.md), not from the code
under test. Every combination is checked, so a rule that loses to a weaker one (a tie on
strictness, a block turned into a request for approval) or a risk level that ignores custom
thresholds shows up as a counterexample.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from selfheal.model.findings import Category, Decision, Finding, Risk, Severity, Source
from selfheal.reviewer.rules import Thresholds, decide, evaluate, risk_for, sensitive_kind

INFO, LOW, MEDIUM, HIGH, CRITICAL = (
    Severity.INFO,
    Severity.LOW,
    Severity.MEDIUM,
    Severity.HIGH,
    Severity.CRITICAL,
)
PATH_KINDS = (Category.PROTECTED_PATH, Category.REVIEW_PATH, Category.SENSITIVE_CHANGE)


def finding(
    category: Category,
    severity: Severity,
    path: str = "src/a.py",
    line: int = 3,
    owners: Sequence[str] = (),
    message: str = "",
) -> Finding:
    return Finding(
        rule_id=f"test.{category.value}.{int(severity)}",
        category=category,
        severity=severity,
        path=path,
        line=line,
        message=message or f"{category.value} here",
        source=Source.SEMGREP,
        properties={"owners": list(owners)} if owners else {},
    )


# -- the model ------------------------------------------------------------------------------

RANK = {Decision.APPROVE: 0, Decision.NEEDS_APPROVAL: 1, Decision.BLOCK: 2}


def model(
    findings: Sequence[Finding], actor: str, thresholds: Thresholds, skipped: bool
) -> tuple[Decision, Risk, list[str]]:
    """Decision, risk and the rules that fire, straight from the documented table."""
    kinds = {f.category for f in findings}
    code = [f for f in findings if f.category not in {*PATH_KINDS, Category.SCANNER_ERROR}]
    code = [f for f in code if f.category is not Category.SKIPPED]
    secret = any(f.category is Category.SECRET for f in code)
    scored = [f.severity for f in code if f.category is not Category.SECRET]
    rows = [
        ("R1", Category.SCANNER_ERROR in kinds, Decision.BLOCK),
        ("R2", secret, Decision.BLOCK),
        ("R3", CRITICAL in scored, Decision.BLOCK),
        (
            "R4",
            Category.PROTECTED_PATH in kinds,
            Decision.NEEDS_APPROVAL if actor == "human" else Decision.BLOCK,
        ),
        ("R5", any(thresholds.block_at <= s < CRITICAL for s in scored), Decision.BLOCK),
        ("R6", Category.SENSITIVE_CHANGE in kinds, Decision.NEEDS_APPROVAL),
        ("R7", Category.REVIEW_PATH in kinds, Decision.NEEDS_APPROVAL),
        (
            "R8",
            any(thresholds.approval_at <= s < thresholds.block_at for s in scored),
            Decision.NEEDS_APPROVAL,
        ),
        ("R9", skipped, Decision.NEEDS_APPROVAL),
    ]
    fired = [(rule, decision) for rule, fires, decision in rows if fires]
    decision = Decision.APPROVE
    for _, candidate in fired:
        if RANK[candidate] > RANK[decision]:
            decision = candidate
    worst = max((f.severity for f in code), default=None)
    if secret or worst is CRITICAL:
        risk = Risk.CRITICAL
    elif decision is Decision.BLOCK or Category.PROTECTED_PATH in kinds or worst is HIGH:
        risk = Risk.HIGH
    elif decision is Decision.NEEDS_APPROVAL or worst is MEDIUM:
        risk = Risk.MEDIUM
    else:
        risk = Risk.LOW
    return decision, risk, [rule for rule, _ in fired]


# -- the combinations -----------------------------------------------------------------------

THRESHOLDS = [
    Thresholds(),  # block at high, approval at medium
    Thresholds(block_at=MEDIUM, approval_at=LOW),
    Thresholds(block_at=CRITICAL, approval_at=HIGH),
    Thresholds(block_at=HIGH, approval_at=INFO),
    Thresholds(block_at=LOW, approval_at=LOW),
    Thresholds(block_at=MEDIUM, approval_at=HIGH),  # inverted: nothing needs approval
]
CODE = [
    [],
    [finding(Category.CONFIG, INFO)],
    [finding(Category.CRYPTO, LOW)],
    [finding(Category.CRYPTO, MEDIUM)],
    [finding(Category.DANGEROUS_CODE, HIGH)],
    [finding(Category.INJECTION, CRITICAL)],
    [finding(Category.DEPENDENCY, MEDIUM), finding(Category.OTHER, HIGH, "b.py")],
    [finding(Category.SECRET, LOW)],
    [finding(Category.SECRET, HIGH), finding(Category.CRYPTO, MEDIUM, "c.py")],
]
# Non-code entries carry severities that must not count as code findings.
EXTRAS = [
    finding(Category.PROTECTED_PATH, CRITICAL, ".env", 0),
    finding(Category.REVIEW_PATH, CRITICAL, "core/x.py", 0),
    finding(Category.SENSITIVE_CHANGE, HIGH, ".github/workflows/ci.yml", 0),
    finding(Category.SCANNER_ERROR, LOW, ".", 0),
    finding(Category.SKIPPED, CRITICAL, "big.bin", 0),
]


def _subsets(items: Sequence[Finding]) -> Iterable[list[Finding]]:
    for size in range(len(items) + 1):
        for combo in itertools.combinations(items, size):
            yield list(combo)


def test_every_combination_matches_the_documented_table() -> None:
    wrong = []
    checked = 0
    for code, extras, actor, thresholds, skipped in itertools.product(
        CODE, list(_subsets(EXTRAS)), ("automation", "human"), THRESHOLDS, (False, True)
    ):
        findings = [*code, *extras]
        unscanned = [("logo.png", "binary file")] if skipped else []
        verdict = decide(findings, actor_kind=actor, thresholds=thresholds, skipped=unscanned)
        rules = [h.rule for h in evaluate(findings, actor_kind=actor, thresholds=thresholds,
                                          skipped=unscanned)]  # fmt: skip
        got = (verdict.decision, verdict.risk, rules)
        expected = model(findings, actor, thresholds, skipped)
        if got != expected:
            wrong.append((findings, actor, thresholds, skipped, got, expected))
        checked += 1
    assert checked == len(CODE) * 2 ** len(EXTRAS) * 2 * len(THRESHOLDS) * 2
    assert wrong[:3] == []


def test_the_model_agrees_with_the_written_table() -> None:
    """Spot checks of the model itself against rows stated in docs/review.md."""
    default = Thresholds()
    protected = finding(Category.PROTECTED_PATH, HIGH, ".env", 0)
    high = finding(Category.DANGEROUS_CODE, HIGH)
    assert model([protected], "human", default, False)[:2] == (Decision.NEEDS_APPROVAL, Risk.HIGH)
    assert model([protected, high], "human", default, False) == (
        Decision.BLOCK,
        Risk.HIGH,
        ["R4", "R5"],
    )
    assert model([], "automation", default, False) == (Decision.APPROVE, Risk.LOW, [])


# -- named cases the audit found unchecked ----------------------------------------------------


def test_a_human_touching_a_protected_path_with_a_high_finding_is_blocked() -> None:
    """R4 asks a person for approval, R5 blocks; the block must win although R4 comes first."""
    protected = finding(Category.PROTECTED_PATH, HIGH, ".env", 0, owners=["@org/sec"])
    high = finding(Category.DANGEROUS_CODE, HIGH)
    verdict = decide([protected, high], actor_kind="human")
    assert (verdict.decision, verdict.risk) == (Decision.BLOCK, Risk.HIGH)
    assert [h.rule for h in evaluate([protected, high], actor_kind="human")] == ["R4", "R5"]
    assert [h.decision for h in evaluate([protected, high], actor_kind="human")] == [
        Decision.NEEDS_APPROVAL,
        Decision.BLOCK,
    ]


def test_on_a_tie_the_strictest_decision_is_still_the_verdict() -> None:
    """Several rules of the same strictness: the decision is theirs, and every reason is kept
    in table order (the first rule's sentence first)."""
    review = finding(Category.REVIEW_PATH, MEDIUM, "core/x.py", 0)
    medium = finding(Category.CRYPTO, MEDIUM)
    verdict = decide([medium, review], skipped=[("a.bin", "binary file")])
    assert verdict.decision is Decision.NEEDS_APPROVAL
    assert [r.split(" ")[:3] for r in verdict.reasons] == [
        ["The", "change", "touches"],
        ["1", "finding", "at"],
        ["1", "changed", "file"],
    ]


def test_risk_follows_severity_not_the_custom_thresholds() -> None:
    lax = Thresholds(block_at=CRITICAL, approval_at=HIGH)
    high = decide([finding(Category.DANGEROUS_CODE, HIGH)], thresholds=lax)
    assert (high.decision, high.risk) == (Decision.NEEDS_APPROVAL, Risk.HIGH)
    medium = decide([finding(Category.CRYPTO, MEDIUM)], thresholds=lax)
    assert (medium.decision, medium.risk) == (Decision.APPROVE, Risk.MEDIUM)
    strict = Thresholds(block_at=MEDIUM, approval_at=LOW)
    low = decide([finding(Category.CONFIG, LOW)], thresholds=strict)
    assert (low.decision, low.risk) == (Decision.NEEDS_APPROVAL, Risk.MEDIUM)
    blocked = decide([finding(Category.CRYPTO, MEDIUM)], thresholds=strict)
    assert (blocked.decision, blocked.risk) == (Decision.BLOCK, Risk.HIGH)


def test_risk_ignores_the_severity_of_entries_that_are_not_code() -> None:
    entries = [
        finding(Category.REVIEW_PATH, CRITICAL, "core/x.py", 0),
        finding(Category.SKIPPED, CRITICAL, "big.bin", 0),
    ]
    assert risk_for(Decision.NEEDS_APPROVAL, entries) is Risk.MEDIUM
    assert risk_for(Decision.APPROVE, entries[1:]) is Risk.LOW


# -- the sentences ------------------------------------------------------------------------------


def test_every_rule_says_what_it_saw() -> None:
    errors = [
        finding(Category.SCANNER_ERROR, HIGH, ".", 0, message="semgrep crashed"),
        finding(Category.SCANNER_ERROR, HIGH, "x", 0, message="osv unreadable"),
    ]
    secrets = [finding(Category.SECRET, HIGH, "a.py", 1), finding(Category.SECRET, HIGH, "b.py")]
    critical = [finding(Category.INJECTION, CRITICAL, "c.py", 9)]
    protected = [
        finding(Category.PROTECTED_PATH, HIGH, ".env", 0, owners=["@a", "@org/b"]),
        finding(Category.PROTECTED_PATH, HIGH, "k.pem", 0, owners=["@a"]),
    ]
    high = [finding(Category.DANGEROUS_CODE, HIGH, "h.py", 2)]
    sensitive = [finding(Category.SENSITIVE_CHANGE, MEDIUM, ".github/CODEOWNERS", 0)]
    review = [finding(Category.REVIEW_PATH, MEDIUM, "core/x.py", 0)]
    medium = [finding(Category.CRYPTO, MEDIUM, "m.py", 4), finding(Category.CRYPTO, MEDIUM, "n.py")]
    everything = errors + secrets + critical + protected + high + sensitive + review + medium
    hits = evaluate(everything, skipped=[("a.bin", "binary file"), ("b.bin", "too large")])
    assert [(h.rule, h.reason) for h in hits] == [
        ("R1", "A scanner could not complete (2 errors), so the gate fails closed: "
               "semgrep crashed"),
        ("R2", "2 secrets in added lines (a.py:1, b.py:3); remove and rotate."),
        ("R3", "1 critical finding (c.py:9)."),
        ("R4", "The change touches 2 protected paths (.env, k.pem); automation may not "
               "change them (owners: @a @org/b)."),
        ("R5", "1 finding at or above high severity (h.py:2)."),
        ("R6", "The change edits 1 policy, CODEOWNERS or workflow file (.github/CODEOWNERS); "
               "a person must approve."),
        ("R7", "The change touches 1 review-level path (core/x.py); an owner must approve "
               "the pull request."),
        ("R8", "2 findings at or above medium severity (m.py:4, n.py:3)."),
        ("R9", "2 changed files could not be scanned: a.bin (binary file), b.bin (too large)."),
    ]  # fmt: skip


def test_exactly_three_places_are_listed_without_a_remainder() -> None:
    three = [finding(Category.DANGEROUS_CODE, HIGH, f"m{i}.py", 1) for i in range(3)]
    (reason,) = decide(three).reasons
    assert reason == "3 findings at or above high severity (m0.py:1, m1.py:1, m2.py:1)."
    four = [*three, finding(Category.DANGEROUS_CODE, HIGH, "m3.py", 1)]
    (reason,) = decide(four).reasons
    assert reason.endswith("(m0.py:1, m1.py:1, m2.py:1 and 1 more).")


def test_every_sensitive_location_is_named() -> None:
    assert {
        path: sensitive_kind(path)
        for path in (
            ".github/selfheal.policy",
            "CODEOWNERS",
            ".github/CODEOWNERS",
            "docs/CODEOWNERS",
            ".github/workflows/release.yml",
            ".github/selfheal.yml",
        )
    } == {
        ".github/selfheal.policy": "the selfheal policy",
        "CODEOWNERS": "CODEOWNERS",
        ".github/CODEOWNERS": "CODEOWNERS",
        "docs/CODEOWNERS": "CODEOWNERS",
        ".github/workflows/release.yml": "a GitHub Actions workflow",
        ".github/selfheal.yml": None,
    }
