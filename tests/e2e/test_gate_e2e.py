"""End to end: the security gate on pull requests, against the GitHub emulator and a real
selfheal server (webhooks over loopback, real git fetches, real semgrep)."""

from __future__ import annotations

from pathlib import Path

from selfheal.emulator import Emulator
from selfheal.ledger import audit, connect, jobs
from selfheal.runtime.server import METRICS
from tests.support.e2e import (
    BASE_FILES,
    REPO,
    Server,
    completed_gate,
    gate_runs,
    leaked_token,
    open_pr,
    until,
)


async def test_leak_fails_clean_passes_review_path_needs_an_owner(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo = emu.create_repo(REPO, BASE_FILES)
    alice = emu.person("alice", "write")  # owner of /payments/ in the policy
    bob = emu.person("bob", "write")
    server = await Server.start(emu, tmp_path / "ledger.db")
    try:
        emu.install([repo])
        leak = "DEBUG = False\nTOKEN = '" + leaked_token() + "'\n"
        _, leak_sha = await open_pr(bob, repo, "leak", {"app/settings.py": leak})
        clean = BASE_FILES["app/util.py"] + "\n\ndef sub(a, b):\n    return a - b\n"
        _, clean_sha = await open_pr(bob, repo, "clean", {"app/util.py": clean})
        pay = "def charge(amount):\n    return round(amount, 2)\n"
        _, pay_sha = await open_pr(bob, repo, "pay", {"payments/charge.py": pay})

        leaked = await until(lambda: completed_gate(repo, leak_sha), what="leak gate")
        assert leaked.conclusion == "failure"
        assert leaked.output["title"].startswith("Blocked — critical risk")
        assert "1 secret" in leaked.output["title"]
        on_file = [a for a in leaked.annotations if a["path"] == "app/settings.py"]
        assert [(a["start_line"], a["annotation_level"]) for a in on_file] == [(2, "failure")]
        assert leaked_token() not in str(leaked.output) + str(leaked.annotations)

        passed = await until(lambda: completed_gate(repo, clean_sha), what="clean gate")
        assert passed.conclusion == "success", passed.output
        assert passed.actions == []

        review = await until(lambda: completed_gate(repo, pay_sha), what="review gate")
        assert review.conclusion == "action_required", review.output
        assert [a["identifier"] for a in review.actions] == ["approve"]
        assert "review path" in review.output["title"]

        await bob.click_check_run_action(review, "approve")
        refused = await until(lambda: server.audit("gate.approval_refused"), what="refusal")
        assert refused[0].actor == "bob" and "not an owner" in refused[0].details["reason"]
        assert review.conclusion == "action_required"
        await until(lambda: review.output["summary"].startswith("> ⛔ Approval refused"),
                    what="refusal note")  # fmt: skip
        assert (
            "@bob pressed Approve, but &#64;bob is not an owner of payments/"
            in (review.output["summary"])
        )
        assert [a["identifier"] for a in review.actions] == ["approve"]  # still offered
        await bob.click_check_run_action(review, "approve")  # a second refusal: one note
        await until(lambda: len(server.audit("gate.approval_refused")) == 2, what="refusal 2")
        assert review.output["summary"].count("Approval refused") == 1

        await alice.click_check_run_action(review, "approve")
        await until(lambda: review.conclusion == "success", what="approval")
        # The audit entries and metrics follow GitHub's side of each step: wait for them.
        (approved,) = await until(lambda: server.audit("gate.approved"), what="approval audit")
        assert approved.actor == "alice" and approved.details["sha"] == pay_sha
        assert review.output["title"].startswith("Approved by @alice")
        assert "Approval refused" not in review.output["summary"]

        for sha in (leak_sha, clean_sha, pay_sha):  # check_suite + pull_request: one run each
            assert len(gate_runs(repo, sha)) == 1
        completions = await until(
            lambda: len(server.audit("gate.completed")) == 3 and server.audit("gate.completed"),
            what="completion audit",
        )
        assert sorted(e.details["sha"] for e in completions) == sorted(
            [leak_sha, clean_sha, pay_sha]
        )

        expected = [
            f'selfheal_gate_conclusions_total{{conclusion="{conclusion}"}} {count}'
            for conclusion, count in (("failure", 1), ("success", 2), ("action_required", 1))
        ]
        await until(
            lambda: all(line in server.runner.app[METRICS].render() for line in expected),
            what="gate metrics",
        )

        # Every webhook delivered again (GitHub's "Redeliver"): nothing is duplicated.
        runs_before = len(repo.check_runs)
        entries_before = len(server.audit())
        labels_before = sorted(repo.labels)
        delivered = [d for d in emu.deliveries if d.ok]
        for d in delivered:
            emu.replay(d)
        await emu.drain()
        replays = emu.deliveries[-len(delivered) :]
        assert all(r.redelivery and r.status == 200 for r in replays)
        # The checks below run before any job a redelivery queued could: that no delivery has
        # a second webhook job is what shows the intake recognised every redelivery.
        webhook_jobs = server.ledger.read(lambda c: jobs.find(c, kind="webhook", limit=10_000))
        assert len(webhook_jobs) == len({d.guid for d in emu.deliveries if d.ok})
        assert len(repo.check_runs) == runs_before
        assert len(server.audit()) == entries_before
        assert sorted(repo.labels) == labels_before
        assert all(not issue.comments for issue in repo.issues.values())
    finally:
        await server.stop()
    conn = connect(tmp_path / "ledger.db", readonly=True)
    try:
        assert audit.verify(conn).ok
    finally:
        conn.close()
