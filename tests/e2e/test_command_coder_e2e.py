"""End to end with the ``command`` coder: a request coded by a scripted CLI (the stand-in for
Claude Code's print mode, tests/fixtures/coder/fake_agent.py) becomes a draft PR; a tool that
runs past its timeout is killed and the request fails with nothing pushed. The backend is
passed to the lifecycle by name, as the other request tests pass theirs."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pygit2

from selfheal import changes, registry
from selfheal.coder.command import CommandCoder, CommandConfig
from selfheal.coder.interface import BackendOptions
from selfheal.emulator import Emulator
from selfheal.emulator.gitdata import open_repo, refs
from tests.support.e2e import BASE_FILES, REPO, Server, until
from tests.support.forms import render_form
from tests.support.paths import ROOT
from tests.support.requests_e2e import REQUEST, pr_of, request_of, state_labels, status_comments

AGENT = str(ROOT / "tests/fixtures/coder/fake_agent.py")
FILES = {**BASE_FILES, ".env": "API_TOKEN=do-not-read\n"}
FIXED = "def add(a, b):\\n    return int(a) + int(b)\\n"


def _server_with(emu: Emulator, db: Path, options: dict[str, Any]) -> Any:
    def factory(_: BackendOptions) -> CommandCoder:
        environ = {"PATH": "/usr/bin:/bin", "GITHUB_TOKEN": "ghs_neverPassedToTheTool0000000000"}
        return CommandCoder(CommandConfig.from_mapping(options), environ=environ)

    features = [make() for make in registry.FEATURES if make().name != "changes"]
    features.append(changes.feature(backends={"rules": factory}))
    return Server.start(emu, db, wiring=registry.compose(features))


def _form() -> str:
    return render_form({"type": "fix-bug", "description": "Cast the inputs of add().",
                        "target_files": "app/util.py", "priority": "5"})  # fmt: skip


async def test_a_scripted_cli_turns_a_request_into_a_draft_pr(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo = emu.create_repo(REPO, FILES)
    alice = emu.person("alice", "write")
    seen = tmp_path / "seen.json"
    options = {"command": [sys.executable, AGENT, "--record", str(seen), "--cost", "0.31",
                           "--write", f"app/util.py={FIXED}"],
               "budget_flag": "--max-budget-usd", "cost_field": "total_cost_usd"}  # fmt: skip
    server = await _server_with(emu, tmp_path / "ledger.db", options)
    try:
        emu.install([repo])
        await until(lambda: REQUEST in repo.labels, what="labels created")
        opened = await alice.open_issue(repo, "Cast inputs", _form(), labels=[REQUEST])
        number = int(opened["number"])
        pr = await until(lambda: pr_of(repo, number), what="draft PR", timeout=120)
        head = open_repo(repo.path).get(pr.pull.head_sha)
        assert isinstance(head, pygit2.Commit)
        blob = head.tree["app/util.py"]
        assert isinstance(blob, pygit2.Blob)
        assert blob.data.decode() == FIXED.replace("\\n", "\n")
        assert ".env" in head.tree  # scrubbed from the tool's tree, not from the branch
        record = json.loads(seen.read_text(encoding="utf-8"))
        assert ".env" not in record["files"] and "GITHUB_TOKEN" not in record["env"]
        assert record["argv"][-2:] == ["--max-budget-usd", "5.00"]
        assert "untrusted data" in record["stdin"]
        # the cost the tool reported at its end is the request's spend, audited as one call
        request = request_of(server, number)
        assert request is not None and abs(request.cost_usd - 0.31) < 1e-9
        (charged,) = server.audit("request.spend")
        assert charged.details["cost_usd"] == 0.31 and charged.details["agent"] == "rules"
    finally:
        await server.stop()


async def test_a_tool_past_its_timeout_is_killed_and_nothing_is_pushed(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo = emu.create_repo(REPO, FILES)
    alice = emu.person("alice", "write")
    options = {"command": [sys.executable, AGENT, "--write", f"app/util.py={FIXED}",
                           "--sleep", "60"],
               "cost_field": "total_cost_usd", "timeout_seconds": 2}  # fmt: skip
    server = await _server_with(emu, tmp_path / "ledger.db", options)
    try:
        emu.install([repo])
        await until(lambda: REQUEST in repo.labels, what="labels created")
        opened = await alice.open_issue(repo, "Cast inputs", _form(), labels=[REQUEST])
        number = int(opened["number"])
        await until(lambda: state_labels(repo, number) == ["selfheal:state/failed"],
                    what="failed", timeout=60)  # fmt: skip
        request = request_of(server, number)
        assert request is not None and request.state == "failed"
        branches = [r for r in refs(open_repo(repo.path)) if r.startswith("refs/heads/selfheal/")]
        assert branches == [] and pr_of(repo, number) is None
    finally:
        await server.stop()


async def test_a_halt_kills_the_tool_within_ten_seconds_and_nothing_is_pushed(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo = emu.create_repo(REPO, FILES)
    alice = emu.person("alice", "write")
    pidfile = tmp_path / "sleeper.pid"
    options = {"command": [sys.executable, AGENT, "--write", f"app/util.py={FIXED}",
                           "--spawn-sleeper", str(pidfile), "--sleep", "120"],
               "cost_field": "total_cost_usd"}  # fmt: skip
    server = await _server_with(emu, tmp_path / "ledger.db", options)
    try:
        emu.install([repo])
        await until(lambda: REQUEST in repo.labels, what="labels created")
        opened = await alice.open_issue(repo, "Cast inputs", _form(), labels=[REQUEST])
        number = int(opened["number"])
        await until(lambda: pidfile.exists() and pidfile.read_text(), what="tool started",
                    timeout=60)  # fmt: skip
        pid = int(pidfile.read_text())
        halted_at = time.monotonic()
        await alice.open_issue(repo, "Stop", labels=["selfheal:halt"])

        def gone() -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            return False

        await until(gone, what="tool killed", timeout=10)
        assert time.monotonic() - halted_at < 10
        await until(lambda: state_labels(repo, number) == ["selfheal:state/halted"],
                    what="halted", timeout=30)  # fmt: skip
        branches = [r for r in refs(open_repo(repo.path)) if r.startswith("refs/heads/selfheal/")]
        assert branches == [] and pr_of(repo, number) is None
    finally:
        await server.stop()


async def test_an_unmetered_tool_runs_only_when_allowed_and_the_issue_says_so(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo = emu.create_repo(REPO, FILES)
    alice = emu.person("alice", "write")
    options = {"command": [sys.executable, AGENT, "--write", f"app/util.py={FIXED}"],
               "allow_unmetered": True}  # fmt: skip
    server = await _server_with(emu, tmp_path / "ledger.db", options)
    try:
        emu.install([repo])
        await until(lambda: REQUEST in repo.labels, what="labels created")
        opened = await alice.open_issue(repo, "Cast inputs", _form(), labels=[REQUEST])
        number = int(opened["number"])
        await until(lambda: pr_of(repo, number), what="draft PR", timeout=120)
        await until(lambda: any("**not metered**" in body
                                for body in status_comments(repo, number)),
                    what="the status comment says the cost was not metered")  # fmt: skip
        request = request_of(server, number)
        assert request is not None and request.cost_usd == 0.0
    finally:
        await server.stop()
