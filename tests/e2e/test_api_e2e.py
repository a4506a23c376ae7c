"""End to end through the SDK: the API files requests as the App, and they run the lifecycle.

One server and emulator per test; each test walks several steps to keep the suite lean.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from selfheal.api import tokens
from selfheal.cli import main
from selfheal.emulator import Emulator
from selfheal.emulator.state import Repo
from selfheal.ledger import monitor as monitor_store
from selfheal.ledger import requests
from selfheal.sdk import (
    AuthError,
    BaseAgent,
    Created,
    HaltedError,
    NotFoundError,
    SelfHealClient,
    ValidationError,
)
from tests.support.api_e2e import api_url, client, make_token
from tests.support.e2e import BASE_FILES, REPO, Server, until
from tests.support.paths import ROOT
from tests.support.requests_e2e import REQUEST, pr_of, state_labels

FILES = {**BASE_FILES, "requirements.txt": "requests==2.19.0\n"}
OTHER = "acme/gadgets"


async def test_a_request_through_the_sdk_becomes_a_ready_pr(
    github_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = github_emulator
    repo = emu.create_repo(REPO, FILES)
    emu.create_repo(OTHER, BASE_FILES)
    server = await Server.start(emu, tmp_path / "ledger.db")
    try:
        emu.install([repo])
        await until(lambda: REQUEST in repo.labels, what="labels created")
        value = make_token(server, "orchestrator", [REPO], ("request", "read", "report", "scan"))
        async with client(server, value) as sdk:
            created = await sdk.request_change(
                "Bump requests to a fixed version.", change_type="dependency",
                target_files=["requirements.txt"], priority=8, requester_id="myca",
            )  # fmt: skip
            assert created["change_id"].startswith("req_") and created["state"] == "received"
            number = created["issue_number"]
            issue = repo.issues[number]
            assert issue.user.login == "selfheal[bot]"
            assert {"selfheal:request", "selfheal:type/dependency", "selfheal:priority/8"} <= {
                x.name for x in issue.labels
            }
            status = await sdk.wait(created["change_id"], until={"pr_ready"}, timeout=120,
                                    interval=0.2)  # fmt: skip
            pr = pr_of(repo, number)
            assert pr is not None and status["pr_number"] == pr.number
            assert status["pr_url"] and status["pr_url"].endswith(f"/pull/{pr.number}")
            assert status["issue_url"].endswith(f"/{REPO}/issues/{number}")
            assert status["branch"] == pr.pull.head_ref
            assert status["gate"] is not None and status["gate"]["conclusion"] == "success"
            assert status["cost_usd"] == 0.0 and status["budget_usd"] == 5.0  # the rules coder
            assert status["requester"] == "api:orchestrator" and status["requester_id"] == "myca"
            actions = [e["action"] for e in status["timeline"]]
            assert actions[:2] == ["api.request_filed", "request.created"]
            assert (
                "request.state" in actions and status["timeline"][0]["actor"] == "api:orchestrator"
            )
            # the ledger moves first, then the bot sets the state label
            await until(lambda: state_labels(repo, number) == ["selfheal:state/pr-open"],
                        what="the pr-open label")  # fmt: skip

            told = await sdk.tell_agent_to_code("coding_agent", "Add input validation.",
                                                ["app/util.py"], 6)  # fmt: skip
            assert "selfheal:agent/coding_agent" in [
                x.name for x in repo.issues[told["issue_number"]].labels
            ]
            told_id = told["change_id"]
            recorded = await until(
                lambda: server.ledger.read(lambda c: requests.get(c, told_id)), what="read"
            )
            assert recorded.agent_id == "coding_agent"
            mine = await sdk.history(requester="myca")
            assert [i["change_id"] for i in mine["items"]] == [created["change_id"]]
            assert len((await sdk.history())["items"]) == 2

            url = api_url(server)
            shell = ["--url", url, "--token", value, "--format", "json"]
            assert await asyncio.to_thread(main, ["status", created["change_id"], *shell]) == 0
            assert json.loads(capsys.readouterr().out)["state"] == "pr_ready"
            assert await asyncio.to_thread(main, ["history", "--requester", "myca", *shell]) == 0
            assert len(json.loads(capsys.readouterr().out)["items"]) == 1
            assert await asyncio.to_thread(main, ["status", "req_" + "B" * 16, *shell]) == 1
            bad_cli = ["request", "x", "--priority", "11", *shell]
            assert await asyncio.to_thread(main, bad_cli) == 2
            assert "priority" in capsys.readouterr().err

            scanned = await sdk.scan(["requirements.txt", "app/"])
            assert scanned["repository"] == REPO and len(scanned["commit"]) == 40
            assert any("requests" in json.dumps(f) for f in scanned["findings"]), scanned
            assert scanned["summary"]["files_scanned"] == 2 and scanned["summary"]["complete"]
            for outside in ("../../etc/passwd", "/etc/passwd", ".git/config"):
                with pytest.raises(ValidationError) as confined:
                    await sdk.scan([outside])
                assert confined.value.field == "file_paths"

            with pytest.raises(ValidationError) as bad:
                await sdk.request_change("x", target_files=["../etc/passwd"])
            assert bad.value.field == "target_files"
            with pytest.raises(NotFoundError):
                await sdk.history(repository=OTHER)
            with pytest.raises(NotFoundError):
                await sdk.get_code_change_status("req_" + "A" * 16)
            with pytest.raises(AuthError) as refused:
                await sdk.approve(created["change_id"])
            assert refused.value.status == 403

        other = make_token(server, "gadgets", [OTHER], ("read",))
        async with client(server, other) as sdk:
            with pytest.raises(NotFoundError):
                await sdk.get_code_change_status(created["change_id"])
        expired = make_token(server, "old", [REPO], ("read",), expires_at=time.time() + 0.5)
        server.ledger.write(lambda c: tokens.revoke(c, "orchestrator"))
        time.sleep(0.6)
        for dead in (value, expired):
            async with client(server, dead) as sdk:
                with pytest.raises(AuthError) as gone:
                    await sdk.get_code_change_status(created["change_id"])
                assert gone.value.status == 401
        calls = server.audit("api.call")
        assert calls and all(e.actor.startswith("api:") for e in calls)
        assert not any(value in str(e.to_dict()) for e in calls)
    finally:
        await server.stop()


async def test_halt_resume_approve_and_report_through_the_sdk(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo = emu.create_repo(REPO, FILES)
    repo2 = emu.create_repo(OTHER, BASE_FILES)
    emu.person("alice", "write")
    emu.person("bob", "write")
    server = await Server.start(emu, tmp_path / "ledger.db")
    try:
        emu.install([repo, repo2])
        await until(lambda: REQUEST in repo.labels and REQUEST in repo2.labels, what="labels")
        ops = make_token(server, "ops", [REPO, OTHER], ("halt", "request", "read", "report"))
        async with client(server, ops, repository=REPO) as sdk:
            halted = await sdk.halt_all_code_changes("maintenance")
            assert halted == {"halted": True, "repositories": [REPO, OTHER]}
            await until(lambda: locked(repo) and locked(repo2), what="lock labels")
            said = [
                c.body for i in repo.issues.values() for c in i.comments if "maintenance" in c.body
            ]
            assert said and "`maintenance` (API token `ops`)" in said[0]
            with pytest.raises(HaltedError) as stopped:
                await until_halted(sdk)
            assert "halted" in stopped.value.message
            assert (await sdk.resume_code_changes())["halted"] is False
            created = await until_filed(sdk)

            agent = ReportingAgent(sdk)
            try:
                raise KeyError("cache miss")
            except KeyError as exc:
                assert await agent.report_bug_for_fix(exc, affected_files=["app/util.py"]) == 1
        # the monitor took the event: grouped under a fingerprint of the client's repository
        (tracked,) = server.ledger.read(lambda c: monitor_store.listing(c))
        assert tracked.repository == REPO and tracked.total == 1
        assert tracked.sample["agent_id"] == "reporting_agent"
        assert tracked.sample["error_type"] == "KeyError"
        (seen,) = server.ledger.read(lambda c: monitor_store.occurrences(c, tracked.id))
        assert seen.reporter == "ops"

        env = {**os.environ, "SELFHEAL_API_URL": api_url(server), "SELFHEAL_API_TOKEN": ops}
        example = await asyncio.create_subprocess_exec(
            sys.executable, "examples/agent.py", "--repo", REPO, cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        printed, _ = await asyncio.wait_for(example.communicate(), 60)
        assert example.returncode == 0, printed.decode()
        assert b"self-improvement requested: req_" in printed and b'"state"' in printed
        await until(lambda: own_file_targeted(server), what="the example's self-improvement")

        review = make_token(server, "reviewer", [REPO], ("request", "read"), login="bob")
        async with client(server, review) as sdk:
            asked = await sdk.request_change("Round charges.", target_files=["payments/charge.py"])
            await sdk.wait(asked["change_id"], until={"awaiting_approval"}, timeout=60,
                           interval=0.1)  # fmt: skip
        bob = make_token(server, "bob", [REPO], ("approve", "read"), login="bob")
        async with client(server, bob) as sdk:
            with pytest.raises(AuthError) as not_owner:
                await sdk.approve(asked["change_id"])
            assert not_owner.value.status == 403 and "bob" in not_owner.value.message
        alice = make_token(server, "alice", [REPO], ("approve", "read"), login="alice")
        async with client(server, alice) as sdk:
            moved = await sdk.approve(asked["change_id"])
            assert moved["state"] in {"queued", "coding", "gating", "pr_ready", "rolled_back"}
        async with client(server, ops, repository=REPO) as sdk:
            mine = await sdk.request_change("Round refunds.", target_files=["payments/charge.py"])
            await sdk.wait(mine["change_id"], until={"awaiting_approval"}, timeout=60,
                           interval=0.1)  # fmt: skip
            with pytest.raises(AuthError) as not_theirs:
                await sdk.cancel(asked["change_id"])  # filed by another token, no identity
            assert not_theirs.value.status == 403
            cancelled = await sdk.cancel(mine["change_id"])
            assert cancelled["state"] == "cancelled"
        number = int(mine["issue_number"])
        await until(lambda: state_labels(repo, number) == ["selfheal:state/cancelled"],
                    what="cancelled label")  # fmt: skip
        assert not any("@ops" in c.body for c in repo.issues[number].comments)
        assert created["change_id"].startswith("req_")
    finally:
        await server.stop()


def own_file_targeted(server: Server) -> bool:
    found = server.ledger.read(lambda c: requests.find(c, repository=REPO, limit=100))
    return ("examples/agent.py",) in [r.targets for r in found]


def locked(repo: Repo) -> bool:
    return any("selfheal:halt" in [x.name for x in i.labels] for i in repo.issues.values())


async def until_halted(sdk: SelfHealClient) -> None:
    """Request until the halt is seen (the halt state follows the label's webhook)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        await sdk.request_change("Should not be filed.")
        await asyncio.sleep(0.1)
    raise AssertionError("never refused as halted")


async def until_filed(sdk: SelfHealClient) -> Created:
    """Request until the resume is seen."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return await sdk.request_change("After the resume.")
        except HaltedError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


class ReportingAgent(BaseAgent):
    agent_id = "reporting_agent"

    def __init__(self, sdk: SelfHealClient) -> None:
        self.selfheal = sdk


async def test_a_halt_halts_every_repository_it_can_and_says_which_it_could_not(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    """A token covering a repository the App is not installed on: the halt still halts the
    others (an emergency stop must not stop at the first failure), and the answer names the
    repositories done and the one that failed, and why."""
    emu = github_emulator
    repo = emu.create_repo(REPO, FILES)
    emu.create_repo(OTHER, BASE_FILES)  # never installed
    server = await Server.start(emu, tmp_path / "ledger.db")
    try:
        emu.install([repo])
        await until(lambda: REQUEST in repo.labels, what="labels")
        ops = make_token(server, "ops", [OTHER, REPO], ("halt", "read"))
        headers = {"Authorization": f"Bearer {ops}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.post(f"{api_url(server)}/api/code/halt",
                                 json={"reason": "incident 12"}) as resp:  # fmt: skip
                assert resp.status == 409
                body = await resp.json()
            assert body["error"] == "partly_halted"
            assert body["repositories"] == [REPO]
            assert body["failed"] == [{"repository": OTHER, "error": "not_installed"}]
            await until(lambda: locked(repo), what="the installed repository halted")
            async with http.post(f"{api_url(server)}/api/code/resume", json={}) as resp:
                assert resp.status == 409
                body = await resp.json()
            assert body["error"] == "partly_resumed" and body["repositories"] == [REPO]
            await until(lambda: not locked(repo), what="resumed")
    finally:
        await server.stop()
