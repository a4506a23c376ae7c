"""The gate's check-run output: conclusions, titles, batches of 50, the Approve action."""

from __future__ import annotations

from selfheal.gate.output import (
    APPROVE_ACTION,
    approved_update,
    error_output,
    gate_output,
    halted_output,
    refused_update,
    title_for,
)
from selfheal.model.findings import Category, Decision, Finding, Risk, Severity, Source, Verdict


def finding(n: int, category: Category = Category.SECRET) -> Finding:
    return Finding(
        rule_id="selfheal.secret.github-token",
        category=category,
        severity=Severity.CRITICAL if category is Category.SECRET else Severity.MEDIUM,
        path=f"app/f{n % 7}.py",
        line=n + 1,
        message=f"finding {n}",
        source=Source.SECRETS,
    )


def verdict(decision: Decision, risk: Risk, findings: list[Finding]) -> Verdict:
    return Verdict(decision, risk, ("because",), tuple(findings))


def test_conclusions_and_titles() -> None:
    blocked = gate_output(verdict(Decision.BLOCK, Risk.CRITICAL, [finding(1)]))
    assert (blocked.conclusion, blocked.title) == ("failure", "Blocked — critical risk: 1 secret")
    assert blocked.actions == []
    review = [finding(2, Category.REVIEW_PATH), finding(3, Category.INJECTION)]
    needs = gate_output(verdict(Decision.NEEDS_APPROVAL, Risk.MEDIUM, review))
    assert needs.conclusion == "action_required"
    assert needs.title == "Needs approval — medium risk: 1 review path, 1 code finding"
    assert needs.actions == [APPROVE_ACTION]
    passed = gate_output(verdict(Decision.APPROVE, Risk.LOW, []))
    assert (passed.conclusion, passed.title, passed.batches) == ("success", "Passed — low risk", [])
    assert passed.completion()["output"] == {"title": passed.title, "summary": passed.summary}


def test_the_approve_action_fits_github_limits() -> None:
    assert len(APPROVE_ACTION["label"]) <= 20
    assert len(APPROVE_ACTION["description"]) <= 40
    assert len(APPROVE_ACTION["identifier"]) <= 20


def test_annotations_go_in_batches_of_50_with_the_last_one_completing() -> None:
    out = gate_output(verdict(Decision.BLOCK, Risk.CRITICAL, [finding(n) for n in range(120)]))
    assert [len(b) for b in out.batches] == [50, 50, 20]
    updates = out.progress_updates()
    assert [len(u["output"]["annotations"]) for u in updates] == [50, 50]
    assert all(u["output"]["title"] == out.title and "status" not in u for u in updates)
    done = out.completion()
    assert done["status"] == "completed" and done["conclusion"] == "failure"
    assert len(done["output"]["annotations"]) == 20
    sent = [a for u in updates for a in u["output"]["annotations"]] + done["output"]["annotations"]
    assert sorted(a["start_line"] for a in sent) == list(range(1, 121))


def test_long_texts_are_clipped_to_github_limits() -> None:
    many = [finding(n, Category.INJECTION) for n in range(3000)]
    out = gate_output(verdict(Decision.BLOCK, Risk.HIGH, many))
    assert len(out.summary) <= 65_535 and len(out.title) <= 255
    fenced = error_output("bad ```\n# injected heading")
    assert fenced.summary.count("```") == 2
    err = error_output("x" * 10_000)
    assert err.conclusion == "failure" and len(err.title) <= 255 and len(err.summary) < 5000
    assert title_for(verdict(Decision.APPROVE, Risk.LOW, [])) == "Passed — low risk"


def test_halted_and_approved_outputs() -> None:
    halted = halted_output("ops:stop")
    assert halted.conclusion == "failure" and "halted" in halted.title
    assert "`ops:stop`" in halted.summary
    update = approved_update("Needs approval — medium risk", "summary", "alice")
    assert update["conclusion"] == "success" and update["actions"] == []
    assert update["output"]["title"] == "Approved by @alice — Needs approval — medium risk"
    assert update["output"]["summary"].endswith("summary")


def test_a_refusal_note_replaces_the_last_one_and_goes_on_approval() -> None:
    first = refused_update("Needs approval", "the summary", "bob", "@bob is not an owner of x")
    assert first["actions"] == [APPROVE_ACTION] and "conclusion" not in first
    noted = first["output"]["summary"]
    assert noted.startswith("> ⛔ Approval refused: @bob pressed Approve, but &#64;bob is not")
    assert noted.endswith("\n\nthe summary")
    second = refused_update("Needs approval", noted, "eve", "@eve is not an owner of x")
    assert second["output"]["summary"].count("Approval refused") == 1
    assert "@eve pressed" in second["output"]["summary"]
    approved = approved_update("Needs approval", second["output"]["summary"], "alice")
    assert "Approval refused" not in approved["output"]["summary"]
    assert approved["output"]["summary"].endswith("\n\nthe summary")


def test_a_refusal_note_cannot_carry_markup_from_a_path() -> None:
    hostile = "@bob is not an owner of a\n\n[x](http://evil)`<img>`|@team"
    note = refused_update("t", "the summary", "bob", hostile)["output"]["summary"]
    first, _, rest = note.partition("\n\n")
    assert rest == "the summary"  # the path's blank line did not end the note early
    assert "[x](" not in first and "<img>" not in first and "@team" not in first
    again = refused_update("t", note, "eve", "x")["output"]["summary"]
    assert again.endswith("\n\nthe summary") and again.count("Approval refused") == 1
