"""End to end: the lock label halts the bot, a triage user's toggles are reverted, resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.emulator import Emulator
from selfheal.emulator.state import Repo
from selfheal.ledger import effects, jobs
from tests.support.e2e import (
    BASE_FILES,
    REPO,
    Server,
    completed_gate,
    gate_runs,
    open_pr,
    until,
)
from tests.support.gate_delay import slow_down

HALT = "selfheal:halt"


def labels_of(repo: Repo, number: int) -> list[str]:
    return [label.name for label in repo.issues[number].labels]


async def test_lock_label_halts_reverts_outsiders_and_resumes(
    github_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = github_emulator
    repo = emu.create_repo(REPO, BASE_FILES)
    maint = emu.person("maint", "maintain")
    trudy = emu.person("trudy", "triage")  # may label issues, has no write permission
    server = await Server.start(emu, tmp_path / "ledger.db")
    try:
        emu.install([repo])
        await until(lambda: HALT in repo.labels, what="labels created on install")
        assert repo.labels[HALT].color == "b60205" and repo.labels[HALT].description

        # A bot PR whose gate is slow (test hook): the halt must stop it mid-run.
        delay = slow_down(monkeypatch, 60)
        fix = BASE_FILES["app/util.py"] + "\n\ndef mul(a, b):\n    return a * b\n"
        _, bot_sha = await open_pr(maint, repo, "selfheal/7-mul", {"app/util.py": fix})
        first = await until(lambda: gate_runs(repo, bot_sha), what="bot gate started")
        assert first[0].status == "in_progress"
        halt_key = f"halt:{REPO}"  # the gate consulted the halt state: it is in its slow part
        await until(lambda: server.ledger.read(lambda c: effects.get_effect(c, halt_key)))

        # A triage user adds the lock label: reverted, audited, nothing halts.
        noise = await trudy.open_issue(repo, "please stop")
        await trudy.add_labels(repo, noise["number"], HALT)
        reverted = await until(lambda: server.audit("halt.toggle_reverted"), what="revert")
        assert reverted[0].actor == "trudy"
        await until(lambda: HALT not in labels_of(repo, noise["number"]), what="label removed")
        assert not server.audit("halt.started")
        assert first[0].status == "in_progress", (first[0].conclusion, first[0].output)

        # A maintainer halts: the running gate stops, the bot PR's gate concludes "halted".
        stop = await maint.open_issue(repo, "Stop selfheal", labels=[HALT])
        await until(lambda: server.audit("halt.started"), what="halt")
        await until(lambda: first[0].status == "completed", what="running gate stopped")
        assert first[0].conclusion == "failure" and "halted" in first[0].output["title"]
        delay.seconds = 0

        def cancelled() -> bool:
            dead = server.ledger.read(lambda c: jobs.find(c, status="dead"))
            return any("repository halted" in (j.last_error or "") for j in dead)

        await until(cancelled, what="the stopped job dead-lettered as halted")
        rerun = await until(lambda: len(gate_runs(repo, bot_sha)) == 2, what="halt re-run")
        assert rerun
        await until(lambda: gate_runs(repo, bot_sha)[1].status == "completed", what="halted run")
        assert gate_runs(repo, bot_sha)[1].conclusion == "failure"
        assert "halted" in gate_runs(repo, bot_sha)[1].output["title"]

        # Nothing new starts: a new bot PR while halted gets "halted" without a review.
        _, new_sha = await open_pr(maint, repo, "selfheal/8-doc", {"docs/a.md": "# a\n"})
        new_run = await until(lambda: completed_gate(repo, new_sha), what="new bot gate")
        assert new_run.conclusion == "failure" and "halted" in new_run.output["title"]

        # The triage user removes the lock label: it is put back.
        await trudy.remove_label(repo, stop["number"], HALT)
        await until(lambda: len(server.audit("halt.toggle_reverted")) == 2, what="second revert")
        await until(lambda: HALT in labels_of(repo, stop["number"]), what="label restored")
        assert not server.audit("halt.resumed")

        # Closing an issue that carries the label is a toggle too: reopened.
        await maint.add_labels(repo, noise["number"], HALT)
        await trudy.close(repo, noise["number"])
        await until(lambda: len(server.audit("halt.toggle_reverted")) == 3, what="third revert")
        await until(lambda: repo.issues[noise["number"]].state == "open", what="reopened")
        unlabels = len(server.audit("halt.unlabeled"))
        await maint.remove_label(repo, noise["number"], HALT)
        await until(lambda: len(server.audit("halt.unlabeled")) == unlabels + 1, what="unlabel")
        assert server.audit("halt.unlabeled")[0].actor == "maint"
        assert not server.audit("halt.resumed")  # the "Stop selfheal" issue still carries it

        # The maintainer removes it: resume, and the bot PRs are gated again.
        await maint.remove_label(repo, stop["number"], HALT)
        await until(lambda: server.audit("halt.resumed"), what="resume")
        await until(lambda: len(gate_runs(repo, bot_sha)) == 3, what="resume re-run")
        final = await until(
            lambda: (
                gate_runs(repo, bot_sha)[2].status == "completed" and gate_runs(repo, bot_sha)[2]
            ),
            what="gate after resume",
        )
        assert final.conclusion == "success", final.output
    finally:
        await server.stop()


def _dead_jobs(server: Server) -> list[jobs.Job]:
    """Jobs that died of a failure. A halt cancels the repository's running jobs on purpose
    (they are dead-lettered as "cancelled: repository halted"): those do not count."""
    dead = server.ledger.read(lambda c: jobs.find(c, status="dead"))
    return [j for j in dead if "repository halted" not in (j.last_error or "")]


async def test_the_lock_label_halts_a_repository_with_no_commit(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    """The config cannot be read from an empty repository (its default branch does not
    exist): the default label still halts and resumes, and no job is retried or lost."""
    emu = github_emulator
    repo = emu.create_repo("acme/empty", {})
    maint = emu.person("maint", "maintain")
    server = await Server.start(emu, tmp_path / "ledger.db")
    try:
        emu.install([repo])
        stop = await maint.open_issue(repo, "Stop", labels=[HALT])
        started = await until(lambda: server.audit("halt.started"), what="halt on an empty repo")
        assert started[0].details["label"] == HALT
        await maint.remove_label(repo, stop["number"], HALT)
        await until(lambda: server.audit("halt.resumed"), what="resume on an empty repo")
        assert _dead_jobs(server) == []
    finally:
        await server.stop()


async def test_a_broken_config_halts_on_the_default_and_the_last_label_read(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    config = "halt_label: stop-the-bot\n"
    repo = emu.create_repo(REPO, {**BASE_FILES, ".github/selfheal.yml": config})
    maint = emu.person("maint", "maintain")
    server = await Server.start(emu, tmp_path / "ledger.db")
    try:
        emu.install([repo])
        first = await maint.open_issue(repo, "Stop", labels=["stop-the-bot"])
        await until(lambda: server.audit("halt.started"), what="halt on the configured label")
        await maint.remove_label(repo, first["number"], "stop-the-bot")
        await until(lambda: server.audit("halt.resumed"), what="resume")
        # The file breaks on the default branch: the bot can no longer read the label name.
        await maint.push(repo, "main", {".github/selfheal.yml": "halt_label: [unclosed\n"})
        await maint.add_labels(repo, first["number"], "stop-the-bot")
        await until(lambda: len(server.audit("halt.started")) == 2, what="last label read")
        await maint.remove_label(repo, first["number"], "stop-the-bot")
        await until(lambda: len(server.audit("halt.resumed")) == 2, what="resume again")
        second = await maint.open_issue(repo, "Stop too", labels=[HALT])
        started = await until(
            lambda: len(server.audit("halt.started")) == 3 and server.audit("halt.started"),
            what="the default label halts",
        )
        labels = {entry.details["label"] for entry in started}
        assert labels == {"stop-the-bot", HALT}
        assert second["number"] != first["number"] and _dead_jobs(server) == []
    finally:
        await server.stop()
