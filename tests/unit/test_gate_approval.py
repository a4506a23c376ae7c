"""Who may approve an action_required gate: admins, or owners of every path needing it."""

from __future__ import annotations

from selfheal.model.approval import decide, required_owners, teams_in
from selfheal.model.findings import Category, Finding, Severity, Source
from selfheal.model.policy import parse_policy

POLICY = parse_policy(
    "/payments/  review  @alice @acme/payments-team\n"
    "/infra/     review  @carol ops@example.com\n"
    "/docs/      review\n",
    "test.policy",
)


def review_finding(path: str, severity: Severity = Severity.MEDIUM) -> Finding:
    return Finding(
        rule_id="selfheal.policy.review-path",
        category=Category.REVIEW_PATH,
        severity=severity,
        path=path,
        line=0,
        message="review path",
        source=Source.POLICY,
    )


def code_finding(path: str, severity: Severity) -> Finding:
    return Finding("r", Category.INJECTION, severity, path, 3, "m", Source.SEMGREP)


def test_required_owners_lists_handles_and_skips_low_findings() -> None:
    owners = required_owners(
        [
            review_finding("payments/charge.py"),
            review_finding("infra/main.tf"),
            code_finding("app/low.py", Severity.LOW),
            code_finding("app/mid.py", Severity.MEDIUM),
        ],
        POLICY,
    )
    assert owners == {
        "payments/charge.py": ["@alice", "@acme/payments-team"],
        "infra/main.tf": ["@carol"],  # an e-mail cannot be matched to a GitHub login
        "app/mid.py": [],
    }
    assert teams_in(owners) == {"acme/payments-team"}


def test_owner_user_team_member_and_admin() -> None:
    pay = {"payments/charge.py": ["@alice", "@acme/payments-team"]}
    assert decide("Alice", "write", pay).allowed  # logins are case-insensitive
    assert decide("dave", "write", pay, member_of={"acme/payments-team"}).allowed
    refused = decide("bob", "maintain", pay)
    assert not refused.allowed and "not an owner of payments/charge.py" in refused.reason
    assert decide("root", "admin", pay).allowed


def test_an_owner_must_own_every_path_and_ownerless_paths_need_an_admin() -> None:
    both = {"payments/charge.py": ["@alice"], "infra/main.tf": ["@carol"]}
    assert not decide("alice", "write", both).allowed
    assert not decide("alice", "write", {"docs/x.md": []}).allowed
    assert decide("root", "admin", {"docs/x.md": []}).allowed
    assert not decide("alice", "write", {}).allowed
