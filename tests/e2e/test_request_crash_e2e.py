"""End to end: ``kill -9`` of the server in the middle of a request (after GitHub has the
draft PR, before the ledger knows it), then a restart: the request finishes with exactly one
branch, one PR and one status comment."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

from selfheal.emulator import Emulator
from selfheal.ledger import Ledger, requests
from tests.support.e2e import BASE_FILES, REPO, free_port, serve_process, until
from tests.support.forms import render_form
from tests.support.requests_e2e import (
    REQUEST,
    pr_of,
    selfheal_branches,
    state_labels,
    status_comments,
)

FILES = {**BASE_FILES, "requirements.txt": "requests==2.19.0\n"}


async def _serve(emu: Emulator, tmp_path: Path, port: int, stall: bool) -> subprocess.Popen[bytes]:
    extra = {"SELFHEAL_TEST_STALL_PR": "1"} if stall else {}
    return await serve_process(emu, tmp_path, port, "selfheal_request_stall", **extra)


async def test_kill_9_mid_request_then_restart_finishes_with_one_branch_pr_and_comment(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo = emu.create_repo(REPO, FILES)
    alice = emu.person("alice", "write")
    port = free_port()
    emu.set_webhook_url(f"http://127.0.0.1:{port}/webhook")
    server = await _serve(emu, tmp_path, port, stall=True)
    try:
        emu.install([repo])
        await until(lambda: REQUEST in repo.labels, what="labels created")
        body = render_form({"type": "dependency", "description": "Bump requests.",
                            "target_files": "requirements.txt", "priority": "8"})  # fmt: skip
        opened = await alice.open_issue(repo, "Bump requests", body, labels=[REQUEST])
        number = int(opened["number"])
        await until(lambda: pr_of(repo, number), what="draft PR on GitHub", timeout=120)
    finally:
        server.send_signal(signal.SIGKILL)
        await asyncio.to_thread(server.wait, 30)
    with Ledger.open(tmp_path / "ledger.db") as ledger:
        before = ledger.read(lambda c: requests.find_by_issue(c, REPO, number))
    assert before is not None and before.pr_number is None  # the ledger never heard of it

    server = await _serve(emu, tmp_path, port, stall=False)
    try:
        await until(lambda: state_labels(repo, number) == ["selfheal:state/pr-open"],
                    what="ready after the restart", timeout=120)  # fmt: skip
        await emu.drain()
    finally:
        server.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(server.wait, 30) == 0

    assert len(selfheal_branches(repo)) == 1
    prs = [i for i in repo.issues.values() if i.pull is not None]
    assert len(prs) == 1 and f"Fixes #{number}" in (prs[0].body or "")
    assert len(status_comments(repo, number)) == 1
    with Ledger.open(tmp_path / "ledger.db") as ledger:
        after = ledger.read(lambda c: requests.find_by_issue(c, REPO, number))
    assert after is not None and after.state == "pr_ready" and after.pr_number == prs[0].number
