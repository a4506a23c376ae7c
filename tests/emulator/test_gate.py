"""The gate through the server and the emulator, beyond the e2e basics: a bad config fails
closed naming the key, gate.actor_kind scopes it, 50+ annotations arrive across updates, an
approval is bound to its SHA and a team named as owner can approve."""

from __future__ import annotations

import shutil
from pathlib import Path

from selfheal.emulator import Emulator
from tests.support.e2e import BASE_FILES, Server, completed_gate, gate_runs, open_pr, until
from tests.support.samples import tokens


async def test_bad_config_fails_closed_and_many_annotations_all_arrive(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    broken = emu.create_repo(
        "acme/broken",
        {**BASE_FILES, ".github/selfheal.yml": "version: 1\ngate:\n  fail_on: severe\n"},
    )
    noisy = emu.create_repo("acme/noisy", BASE_FILES)
    bots = emu.create_repo(
        "acme/bots", {**BASE_FILES, ".github/selfheal.yml": "gate:\n  actor_kind: bot\n"}
    )
    bob = emu.person("bob", "write")
    server = await Server.start(emu, tmp_path / "ledger.db")
    try:
        emu.install([broken, noisy, bots])
        _, human_sha = await open_pr(bob, bots, "human", {"docs/readme.md": "# hi\n"})
        _, bad_sha = await open_pr(bob, broken, "docs", {"docs/readme.md": "# hi\n"})
        _, many_sha = await open_pr(bob, noisy, "keys", {"conf/keys.txt": tokens(60)})
        failed = await until(lambda: completed_gate(broken, bad_sha), what="bad-config gate")
        assert failed.conclusion == "failure"
        assert "/gate/fail_on" in failed.output["title"] and "line 3" in failed.output["title"]
        many = await until(lambda: completed_gate(noisy, many_sha), timeout=180, what="60 keys")
        assert many.conclusion == "failure" and "60 secrets" in many.output["title"]
        skipped = await until(lambda: completed_gate(bots, human_sha), what="out of scope")
        assert skipped.conclusion == "neutral" and "actor_kind is bot" in skipped.output["title"]
        lines = sorted(a["start_line"] for a in many.annotations if a["path"] == "conf/keys.txt")
        assert lines == list(range(1, 61))  # 50 in a progress update, 10 with the completion
    finally:
        await server.stop()


async def test_an_approval_is_bound_to_the_head_sha(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    policy = "/payments/  review  @alice @acme/payments\n"
    repo = emu.create_repo("acme/pay", {**BASE_FILES, ".github/selfheal.policy": policy})
    emu.add_team("acme", "payments", {"carol": "member"})
    alice = emu.person("alice", "write")
    bob = emu.person("bob", "write")
    carol = emu.person("carol", "write")
    server = await Server.start(emu, tmp_path / "ledger.db")
    try:
        emu.install([repo])
        _, first_sha = await open_pr(bob, repo, "rates", {"payments/rates.txt": "eur 1.0\n"})
        first = await until(lambda: completed_gate(repo, first_sha), what="first gate")
        assert first.conclusion == "action_required"
        second_sha = await bob.push(repo, "rates", {"payments/rates.txt": "eur 1.1\n"})
        second = await until(lambda: completed_gate(repo, second_sha), what="gate after push")
        assert second.conclusion == "action_required"

        await alice.click_check_run_action(first, "approve")  # the old head's button
        refused = await until(lambda: server.audit("gate.approval_refused"), what="refusal")
        assert "newer commit" in refused[0].details["reason"]
        assert first.conclusion == second.conclusion == "action_required"

        await carol.click_check_run_action(second, "approve")  # an owner through @acme/payments
        await until(lambda: second.conclusion == "success", what="approval of the new head")
        (approved,) = await until(lambda: server.audit("gate.approved"), what="approval audit")
        assert approved.actor == "carol" and approved.details["sha"] == second_sha
        assert len(gate_runs(repo, second_sha)) == 1
    finally:
        await server.stop()


async def test_an_approval_counts_when_the_cache_clone_is_gone(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    """The owners come from the policy in the cache clone: a click after the clone was lost
    (a new data dir, another host) fetches it again instead of failing the click."""
    emu = github_emulator
    policy = "/payments/  review  @alice\n"
    repo = emu.create_repo("acme/pay", {**BASE_FILES, ".github/selfheal.policy": policy})
    alice = emu.person("alice", "write")
    bob = emu.person("bob", "write")
    server = await Server.start(emu, tmp_path / "ledger.db")
    try:
        emu.install([repo])
        _, sha = await open_pr(bob, repo, "rates", {"payments/rates.txt": "eur 1.0\n"})
        gate = await until(lambda: completed_gate(repo, sha), what="gate")
        assert gate.conclusion == "action_required"
        shutil.rmtree(tmp_path / "selfheal-data")
        server.worker.caches.policies.clear()  # as in a fresh process
        await alice.click_check_run_action(gate, "approve")
        (approved,) = await until(lambda: server.audit("gate.approved"), what="approval audit")
        assert approved.actor == "alice" and gate.conclusion == "success"
    finally:
        await server.stop()
