"""``selfheal halt`` / ``selfheal resume`` against the emulator with a running server: the App
halts through the dashboard issue, a maintainer's token resumes, ``--all`` reuses the issue."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from selfheal.cli import main
from selfheal.emulator import Emulator
from selfheal.model.markers import DASHBOARD_MARKER
from tests.support.e2e import BASE_FILES, REPO, Server, until

HALT = "selfheal:halt"


def _dashboards(emu: Emulator) -> list[int]:
    repo = emu.repo(REPO)
    return [n for n, i in repo.issues.items() if DASHBOARD_MARKER in (i.body or "")]


async def test_halt_and_resume_commands(
    github_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = github_emulator
    repo = emu.create_repo(REPO, BASE_FILES)
    maint = emu.person("maint", "maintain")
    app = emu.app
    key = tmp_path / "app.pem"
    key.write_bytes(app.private_key_pem)
    env_file = tmp_path / "app.env"
    env_file.write_text(
        f"SELFHEAL_APP_ID={app.id}\nSELFHEAL_PRIVATE_KEY_PATH={key}\n"
        f"SELFHEAL_WEBHOOK_SECRET={app.webhook_secret}\n"
    )
    common = ["--api-url", emu.base_url, "--env-file", str(env_file)]
    server = await Server.start(emu, tmp_path / "ledger.db")
    try:
        emu.install([repo])
        argv = ["halt", "--repo", REPO, "--reason", "maintenance window", *common]
        assert await asyncio.to_thread(main, argv) == 0
        (number,) = _dashboards(emu)
        issue = repo.issues[number]
        assert [lb.name for lb in issue.labels] == [HALT]
        assert issue.comments and "maintenance window" in issue.comments[0].body
        started = await until(lambda: server.audit("halt.started"), what="halt seen by server")
        assert started[0].actor == "selfheal[bot]"

        argv = ["resume", "--repo", REPO, "--token", maint.token, *common]
        assert await asyncio.to_thread(main, argv) == 0
        assert HALT not in [lb.name for lb in issue.labels]
        resumed = await until(lambda: server.audit("halt.resumed"), what="resume seen")
        assert resumed[0].actor == "maint"

        assert await asyncio.to_thread(main, ["halt", "--all", *common]) == 0
        assert _dashboards(emu) == [number]  # the same dashboard issue, found by its marker
        assert HALT in [lb.name for lb in issue.labels]
        await until(lambda: len(server.audit("halt.started")) == 2, what="second halt")
    finally:
        await server.stop()
    out = capsys.readouterr().out
    assert f"halted {REPO}: label 'selfheal:halt' on issue #{number}" in out
    assert "1 repositories halted" in out


def test_halt_needs_a_repository_name(tmp_path: Path) -> None:
    argv = ["halt", "--repo", "not-a-repo", "--token", "x", "--env-file", str(tmp_path / "e")]
    assert main(argv) == 2


async def test_github_refusing_the_command_is_exit_1_with_its_message(
    github_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    github_emulator.create_repo(REPO, BASE_FILES)
    argv = ["resume", "--repo", REPO, "--token", "not-a-token", "--api-url",
            github_emulator.base_url, "--env-file", str(tmp_path / "none.env")]  # fmt: skip
    assert await asyncio.to_thread(main, argv) == 1
    assert "GitHub refused: Bad credentials" in capsys.readouterr().err
