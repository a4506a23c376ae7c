"""End to end: the dashboard issue. It appears pinned once something happens in the
repository, follows the requests, halts and resumes from its checkbox, approves from an
owner's tick and undoes a non-owner's, shows the monitor's top failing fingerprints, and is
rebuilt in place after someone clears it."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.dashboard.render import boxes
from selfheal.emulator import Emulator, Person
from selfheal.emulator.state import Issue, Repo
from selfheal.ledger import monitor as store
from selfheal.ledger import requests
from selfheal.model.markers import DASHBOARD_MARKER
from selfheal.monitor import Ingest, limits_from
from tests.support.e2e import BASE_FILES, until
from tests.support.forms import render_form
from tests.support.requests_e2e import REQUEST, request_of, request_server, state_labels

POLICY = "/src/core/   review   @alice\n"
FILES = {**BASE_FILES, ".github/selfheal.policy": POLICY, "src/core/engine.py": "x = 1\n"}
# a failure an agent reports, its message written to break out of the dashboard
FAILURE = {"source": "agent", "agent_id": "planner", "error_type": "KeyError",
           "message": "no key for @everyone\n- [ ] Halt <!-- selfheal:box halt -->"}  # fmt: skip


def dashboard(repo: Repo) -> Issue | None:
    return next((i for i in repo.issues.values() if DASHBOARD_MARKER in (i.body or "")), None)


async def tick(person: Person, repo: Repo, issue: Issue, text: str, on: bool) -> None:
    """Edit the dashboard the way a person ticks a box: the one line changes."""
    old, new = ("- [ ] ", "- [x] ") if on else ("- [x] ", "- [ ] ")
    lines = (issue.body or "").split("\n")
    found = [n for n, line in enumerate(lines) if line.startswith(old) and text in line]
    assert found, f"no box {text!r} in the dashboard"
    lines[found[0]] = lines[found[0]].replace(old, new, 1)
    await person.call("PATCH", f"/repos/{repo.full_name}/issues/{issue.number}",
                      {"body": "\n".join(lines)})  # fmt: skip


async def test_the_dashboard_issue_follows_and_steers_the_bot(
    github_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = github_emulator
    # About one request id in five holds a "-" (they are token_urlsafe); the approve box must
    # work for those too, so this run always has one rather than by chance.
    new_id = requests.new_id
    monkeypatch.setattr(requests, "new_id", lambda: new_id()[:-1] + "-")
    async with request_server(emu, tmp_path, FILES) as (repo, server):
        alice, bob = emu.person("alice", "maintain"), emu.person("bob", "write")
        form = render_form({"type": "fix-bug", "description": "Tune the engine.",
                            "target_files": "src/core/engine.py", "priority": "5"})  # fmt: skip
        opened = await bob.open_issue(repo, "Engine", form, labels=[REQUEST])
        number = int(opened["number"])
        await until(lambda: state_labels(repo, number) == ["selfheal:state/needs-approval"],
                    what="waiting for approval")  # fmt: skip
        board = await until(lambda: dashboard(repo), what="the dashboard issue")
        # pinning is a second call after the issue is created: wait for it, do not race it
        await until(lambda: board.pinned, what="the dashboard pinned")
        assert board.user.login == "selfheal[bot]"
        request = request_of(server, number)
        assert request is not None
        key = f"approve:{request.id}"
        await until(lambda: key in boxes(board.body or ""), what="the approve box")
        assert "State: **running**" in (board.body or "")

        # an agent reports a failure (below the threshold: no fix request); the next rebuild
        # shows it among the monitor's top fingerprints
        sink = Ingest(server.ledger, limits=limits_from(server.settings.monitor))
        assert await sink.record([FAILURE], reporter="agents", repository=repo.full_name) == 1
        (failing,) = server.ledger.read(lambda c: store.listing(c, repo.full_name))

        # bob is a writer but not an owner of src/core/: his tick is undone
        await tick(bob, repo, board, f"#{number}", on=True)
        refused = await until(lambda: server.audit("dashboard.checkbox_reverted"), what="undo")
        assert refused[0].actor == "bob" and refused[0].details["box"] == key
        await until(lambda: boxes(board.body or "").get(key) is False, what="box unticked")
        assert state_labels(repo, number) == ["selfheal:state/needs-approval"]

        # alice owns the path: her tick approves the plan, as /selfheal approve would
        await tick(alice, repo, board, f"#{number}", on=True)
        await until(lambda: "selfheal:approved" in [x.name for x in repo.issues[number].labels],
                    what="approved")  # fmt: skip
        approved = await until(lambda: server.audit("dashboard.approve"), what="audit")
        assert approved[0].actor == "alice"
        await until(lambda: key not in boxes(board.body or ""), what="approve box gone")

        # the halt box halts and resumes, through the lock label
        await tick(bob, repo, board, "Halt selfheal", on=True)
        await until(lambda: server.audit("halt.started"), what="halted")
        assert "selfheal:halt" in [x.name for x in board.labels]
        await until(lambda: "**⛔ halted**" in (board.body or ""), what="shown halted")
        await tick(bob, repo, board, "Halt selfheal", on=False)
        await until(lambda: server.audit("halt.resumed"), what="resumed")
        await until(lambda: "State: **running**" in (board.body or ""), what="shown running")
        top = (f"1. `{failing.fingerprint[:16]}` `KeyError` × 1: `no key for @everyone - [ ] Halt"
               " ‹!-- selfheal:box halt -->`")  # fmt: skip
        assert top in (board.body or "") and "no fix request yet" in (board.body or "")
        assert list(boxes(board.body or "")) == ["halt"]

        # someone clears the body: the next event rebuilds it in the same issue
        await alice.call("PATCH", f"/repos/{repo.full_name}/issues/{board.number}",
                         {"body": "nothing to see"})  # fmt: skip
        await until(lambda: DASHBOARD_MARKER in (board.body or ""), what="rebuilt")
        assert [i.number for i in repo.issues.values()
                if DASHBOARD_MARKER in (i.body or "")] == [board.number]  # fmt: skip
