"""End to end: failures reported to the monitor become one request issue, the bot fixes it,
the fix is measured, and a recurrence reopens it (emulator, real server, real ledger)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from selfheal import changes, registry
from selfheal.coder.interface import BackendOptions, CoderResult, CodeTask, Outcome, RunControl
from selfheal.coder.workspace import Workspace
from selfheal.emulator import Emulator, Person
from selfheal.emulator.state import Repo
from selfheal.ledger import jobs, requests
from selfheal.ledger import monitor as store
from selfheal.monitor import Ingest, limits_from
from selfheal.monitor.web import running_from
from tests.support.e2e import BASE_FILES, REPO, Server, leaked_token, until
from tests.support.notify_receiver import SECRET, Receiver, receiving
from tests.support.requests_e2e import BOT, pr_of, state_labels

MONITOR = "selfheal:source/monitor"
BUGGY = "def ratio(a, b):\n    return a / b\n"
FIXED = "def ratio(a, b):\n    return a / b if b else 0.0\n"
FILES = {**BASE_FILES, "app/stats.py": BUGGY}
# a window of about 2.6 s, so "the window passed with no recurrence" fits in a test
WINDOW_DAYS = "0.00003"


class ScriptedFixer:
    """A scripted coder, registered through the coder interface like any backend: it makes
    the one fix the failure needs in the request's target file."""

    name = "rules"
    needs_model_key = False
    own_process = False

    def refusal(self, task: CodeTask) -> str | None:
        return None if task.target_paths == ("app/stats.py",) else "not the scripted task"

    def run(self, workspace: Workspace, task: CodeTask, control: RunControl) -> CoderResult:
        workspace.write_text("app/stats.py", FIXED)
        return CoderResult(Outcome.CHANGED, "guarded the division", ("app/stats.py",))


def scripted(options: BackendOptions) -> ScriptedFixer:
    return ScriptedFixer()


def report(n: int, **extra: Any) -> dict[str, Any]:
    """The same bug seen from different machines, runs and moments."""
    trace = (
        "Traceback (most recent call last):\n"
        f'  File "/srv/host{n}/widgets/app/jobs.py", line {10 + n}, in nightly\n'
        "    ratio(done, total)\n"
        f'  File "/srv/host{n}/widgets/app/stats.py", line {2 + n}, in ratio\n'
        "    return a / b\n"
        "ZeroDivisionError: division by zero\n"
    )
    return {"source": "agent", "agent_id": "reporter-7", "error_type": "ZeroDivisionError",
            "message": "division by zero", "stack_trace": trace,
            "affected_files": ["app/stats.py"], "timestamp": f"2026-02-0{n}T1{n}:00:00Z",
            **extra}  # fmt: skip


def monitor_issues(repo: Repo) -> list[Any]:
    return [i for i in repo.issues.values()
            if i.pull is None and MONITOR in [x.name for x in i.labels]]  # fmt: skip


async def stats(server: Server) -> dict[str, Any]:
    """GET /api/monitor/stats from the running server."""
    url = server.url.removesuffix("/webhook") + "/api/monitor/stats"
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response,
    ):
        assert response.status == 200
        data: dict[str, Any] = await response.json()
    return data


async def stats_until(server: Server, key: str, value: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while (await stats(server))[key] != value:
        assert time.monotonic() < deadline, f"{key} never became {value}"
        await asyncio.sleep(0.1)


async def test_repeated_failures_file_one_request_that_is_fixed_measured_and_reopened(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo = emu.create_repo(REPO, FILES)
    alice = emu.person("alice", "maintain")
    features = [make() for make in registry.FEATURES if make is not changes.feature]
    features = [f for f in features if f.name != "changes"]
    features.append(changes.feature(backends={"rules": scripted}))
    async with receiving(Receiver()) as hook:
        server = await Server.start(
            emu, tmp_path / "ledger.db", wiring=registry.compose(features),
            SELFHEAL_MONITOR_WINDOW_DAYS=WINDOW_DAYS, SELFHEAL_NOTIFY_URLS=hook.url,
            SELFHEAL_NOTIFY_SECRET=SECRET,
        )  # fmt: skip
        await _files_fixes_and_reopens(emu, repo, alice, server, hook)


async def _files_fixes_and_reopens(
    emu: Emulator, repo: Repo, alice: Person, server: Server, hook: Receiver
) -> None:
    sink = Ingest(server.ledger, limits=limits_from(server.settings.monitor),
                  notify=server.worker.notify)  # fmt: skip
    try:
        emu.install([repo])
        await until(lambda: MONITOR in repo.labels, what="labels created")

        # Three reports with different hosts, line numbers and times: exactly one issue.
        for n in (1, 2, 3):
            assert await sink.record([report(n)], reporter="agents", repository=REPO) == 1
        (filed,) = await until(lambda: monitor_issues(repo), what="the monitor's issue")
        number, body = filed.number, filed.body or ""
        assert filed.user.login == BOT
        assert {x.name for x in filed.labels} >= {"selfheal:request", "selfheal:type/fix-bug",
                                                   MONITOR}  # fmt: skip
        assert "<!-- selfheal:monitor fingerprint=v1:" in body
        assert "**Occurrences:** 3 distinct runs" in body
        assert "`app/stats.py`" in body and "ZeroDivisionError" in body
        # the operator hears of it (counts, never the failure's text) ...
        (note,) = await until(
            lambda: [e for e in hook.events() if e["event"] == "monitor.issue_filed"],
            what="notified",
        )
        assert note["details"]["issue"] == number and "ZeroDivision" not in json.dumps(note)
        # ... and the dashboard issue shows the monitor's counts
        await until(lambda: any("| distinct failures |" in (i.body or "")
                                for i in repo.issues.values() if i.user.login == BOT),
                    what="the dashboard's monitor section")  # fmt: skip

        # A fourth edits the table: no new issue, no comment from the monitor.
        await sink.record([report(4)], reporter="agents", repository=REPO)
        await until(lambda: "**Occurrences:** 4 distinct runs" in (repo.issues[number].body or ""),
                    what="the table updated")  # fmt: skip
        assert len(monitor_issues(repo)) == 1

        # The bot works the request: a draft PR, the gate, ready; a maintainer merges it.
        pr = await until(lambda: pr_of(repo, number), what="the fix PR", timeout=120)
        await until(lambda: state_labels(repo, number) == ["selfheal:state/pr-open"],
                    what="pr_ready", timeout=120)  # fmt: skip
        request = server.ledger.read(lambda c: requests.find_by_issue(c, REPO, number))
        assert request is not None and request.requester == "selfheal-monitor"
        assert request.targets == ("app/stats.py",) and request.change_type == "fix-bug"
        comments = repo.issues[number].comments
        assert not [c for c in comments if "<!-- selfheal:monitor" in c.body]
        assert [c.body.split("\n")[0] for c in comments] == ["<!-- selfheal:status -->"]
        assert (await stats(server))["pending_fixes"] == 1
        before_fix = await alice.fetch(repo, "refs/heads/main")
        # the bot sets the state label first, then marks the draft ready
        await until(lambda: not pr.pull.draft, what="marked ready")
        await alice.merge(repo, pr.number)
        await until(lambda: repo.issues[number].state == "closed", what="Fixes #N closed it")
        await until(lambda: state_labels(repo, number) == ["selfheal:state/done"], what="merged")

        # The window passes with no recurrence: the fix counts as successful.
        await stats_until(server, "fixes_successful", 1)
        now = await stats(server)
        assert now["unique_errors"] == 1 and now["issues_detected"] == 4
        assert now["fixes_triggered"] == 1 and now["pending_fixes"] == 0 and now["is_running"]

        # It recurs on a commit without the fix (an old deployment): a note, still closed.
        await sink.record([report(6, commit=before_fix)], reporter="agents", repository=REPO)
        note = "does not contain the fix"
        await until(lambda: any(note in c.body for c in repo.issues[number].comments),
                    what="the note")  # fmt: skip
        assert repo.issues[number].state == "closed"

        # It recurs on a commit that contains the fix: the issue is reopened.
        main = await alice.fetch(repo, "refs/heads/main")
        await sink.record([report(5, commit=main)], reporter="agents", repository=REPO)
        await until(lambda: repo.issues[number].state == "open", what="reopened")
        assert (await stats(server))["fixes_successful"] == 0
        assert len(monitor_issues(repo)) == 1

        # A crash is filed at once, at high priority.
        crash = {"source": "agent", "agent_id": "reporter-7", "error_type": "SegmentationFault",
                 "message": "worker died", "severity": "crash",
                 "affected_files": ["app/util.py"]}  # fmt: skip
        await sink.record([crash], reporter="agents", repository=REPO)
        await until(lambda: len(monitor_issues(repo)) == 2, what="the crash's issue")
        (crash_issue,) = [i for i in monitor_issues(repo) if i.number != number]
        crash_request = await until(
            lambda: server.ledger.read(
                lambda c: requests.find_by_issue(c, REPO, crash_issue.number)
            ),
            what="the crash's request",
        )
        assert crash_request is not None and crash_request.priority == 9
        listed = server.ledger.read(lambda c: store.listing(c, REPO))
        assert sorted(t.issue_number or 0 for t in listed) == sorted([number, crash_issue.number])

        # A new failure in the file the merged bot change touched: a linked revert request.
        broken = {"source": "agent", "agent_id": "reporter-7", "error_type": "TypeError",
                  "message": "unsupported operand", "severity": "crash",
                  "affected_files": ["app/stats.py"]}  # fmt: skip
        await sink.record([broken], reporter="agents", repository=REPO)
        await until(lambda: len(monitor_issues(repo)) == 3, what="the revert request")
        (revert,) = [i for i in monitor_issues(repo) if i.title.startswith("[monitor] Revert")]
        assert revert.title.startswith(f"[monitor] Revert #{number}:")
        assert "selfheal:request" in {x.name for x in revert.labels}
        link = f"#{revert.number} asks to revert it"
        await until(lambda: any(link in c.body for c in repo.issues[number].comments),
                    what="linked from the change's issue")  # fmt: skip
    finally:
        await server.stop()


def failing_test(name: str, n: int) -> dict[str, Any]:
    """A test reporter's annotation for one failing test."""
    return {"path": "tests/test_stats.py", "start_line": 10 + n, "end_line": 10 + n,
            "annotation_level": "failure", "title": f"tests/test_stats.py::{name}",
            "message": f"AssertionError: assert {n} == 0",
            "raw_details": f'  File "/home/runner/work/w/w/tests/test_stats.py", line {10 + n},'
                           f" in {name}\n    assert ratio(1, 0) == 0\nAssertionError"}  # fmt: skip


def ci_occurrences(server: Server) -> dict[str, int]:
    return {t.identity: t.total for t in server.ledger.read(lambda c: store.listing(c, REPO))}


@asynccontextmanager
async def ci_world(emu: Emulator, tmp_path: Path) -> AsyncIterator[tuple[Repo, Server, str]]:
    """A repository with the App installed and its labels made: (repo, server, main's head)."""
    repo = emu.create_repo(REPO, FILES)
    alice = emu.person("alice", "maintain")
    server = await Server.start(emu, tmp_path / "ledger.db")
    try:
        emu.install([repo])
        await until(lambda: MONITOR in repo.labels, what="labels created")
        yield repo, server, await alice.fetch(repo, "refs/heads/main")
    finally:
        await server.stop()


async def test_failing_ci_runs_count_per_test_and_the_bots_branches_never(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    async with ci_world(emu, tmp_path) as (repo, server, head):
        notes = {"test": [failing_test("test_ratio", 1), failing_test("test_mean", 2)]}

        # The bot's own branch, a success and a cancelled run on main: none counts.
        emu.complete_workflow_run(repo, head_sha=head, head_branch="selfheal/3-fix",
                                  conclusion="failure", annotations=notes)  # fmt: skip
        emu.complete_workflow_run(repo, head_sha=head, head_branch="main", conclusion="success")
        emu.complete_workflow_run(repo, head_sha=head, head_branch="main",
                                  conclusion="cancelled", annotations=notes)  # fmt: skip
        await emu.drain()
        # Three failing runs on main, each with two failing tests (and a lint job with none).
        for _ in range(3):
            emu.complete_workflow_run(repo, head_sha=head, head_branch="main",
                                      conclusion="failure", jobs=("test", "lint"),
                                      annotations=notes)  # fmt: skip
        want = {"test:tests/test_stats.py::test_ratio": 3, "test:tests/test_stats.py::test_mean": 3,
                "test:CI/lint": 3}  # fmt: skip
        await until(lambda: ci_occurrences(server) == want, what="three runs, per test")
        await until(lambda: len(monitor_issues(repo)) == 3, what="one issue per failing test")
        titles = sorted(i.title for i in monitor_issues(repo))
        assert any("test_ratio" in t for t in titles) and any("test_mean" in t for t in titles)
        kinds = {j.payload.get("branch") for j in server.ledger.read(
            lambda c: jobs.find(c, kind="monitor_ci", limit=100))}  # fmt: skip
        assert kinds == {"main"}  # the bot's branch and the cancelled run queued nothing


def junit_report(run: int) -> str:
    """A test step's JUnit XML: one passing and two failing tests (the message differs per
    run, as a real failure's ids and numbers do)."""
    return (
        '<testsuite name="pytest"><testcase classname="tests.test_io" name="test_ok" '
        'file="tests/test_io.py"/>'
        '<testcase classname="tests.test_io" name="test_read" file="tests/test_io.py">'
        f'<failure message="OSError: [Errno 2] /tmp/run{run}/data.csv" type="OSError">'
        "boom</failure></testcase>"
        '<testcase classname="tests.test_io" name="test_write" file="tests/test_io.py">'
        f'<error message="timeout after {run}.5 s" type="TimeoutError">slow</error>'
        "</testcase></testsuite>"
    )


async def test_junit_artifacts_count_per_test_and_a_bare_job_by_its_log(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    async with ci_world(emu, tmp_path) as (repo, server, head):
        for n in range(3):
            # the tests are named by the uploaded report (plus a file that is not JUnit)
            files = {"reports/junit.xml": junit_report(n), "reports/coverage.xml": "<coverage/>"}
            emu.complete_workflow_run(repo, head_sha=head, head_branch="main",
                                      conclusion="failure",
                                      artifacts={"test-results": files})  # fmt: skip
            # a job that names no test: its log's tail stands for it
            log = f"2026-12-03T00:00:0{n}Z Deploying\n2026-12-03T00:00:0{n}Z error: disk full\n"
            emu.complete_workflow_run(repo, head_sha=head, head_branch="main", name="Release",
                                      conclusion="failure", jobs=("deploy",),
                                      logs={"deploy": log})  # fmt: skip
        want = {"test:tests/test_io.py::test_read": 3, "test:tests/test_io.py::test_write": 3,
                "test:Release/deploy": 3}  # fmt: skip
        await until(lambda: ci_occurrences(server) == want, what="per test, and the bare job")
        deploy = next(t for t in server.ledger.read(lambda c: store.listing(c, REPO))
                      if t.identity == "test:Release/deploy")  # fmt: skip
        assert "error: disk full" in deploy.sample.get("stack_trace", "")
        assert "2026-12-03" not in deploy.sample.get("stack_trace", "")  # timestamps dropped


def make_due(conn: Any) -> None:
    """The endpoint's interval passes: its next run time in the ledger comes due."""
    conn.execute("UPDATE monitor_schedule SET next_run = ? WHERE name LIKE 'probe:%/health'",
                 (time.time() - 1,))  # fmt: skip


async def test_an_endpoint_probe_that_fails_three_times_files_one_issue(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    hits: list[str] = []

    async def unhealthy(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=503)

    target = web.Application()
    target.router.add_get("/{tail:.*}", unhealthy)
    runner = web.AppRunner(target, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    config = ("monitor:\n  endpoints:\n"
              f"    - url: http://127.0.0.1:{port}/health\n      interval_seconds: 60\n"
              f"    - url: http://localhost:{port}/not-allowed\n")  # fmt: skip
    emu = github_emulator
    repo = emu.create_repo(REPO, {**FILES, ".github/selfheal.yml": config})
    server = await Server.start(emu, tmp_path / "ledger.db",
                                SELFHEAL_MONITOR_PROBE_HOSTS="127.0.0.1",
                                SELFHEAL_MONITOR_TICK_SECONDS="0.1")  # fmt: skip
    try:
        emu.install([repo])
        for n in (1, 2, 3):
            await until(lambda n=n: len(hits) == n, what=f"probe {n}")  # type: ignore[misc]
            await asyncio.sleep(0.3)  # later ticks: the slot is not due, nothing is probed
            assert len(hits) == n
            server.ledger.write(make_due)
        (filed,) = await until(lambda: monitor_issues(repo), what="the endpoint's issue")
        assert "GET /health 5xx" in (filed.body or "") and "503" in filed.title
        assert set(hits) == {"/health"}  # localhost is not on the operator's list
        (tracked,) = server.ledger.read(lambda c: store.listing(c, REPO))
        assert tracked.total >= 3 and tracked.issue_number == filed.number
        checked = server.ledger.read(lambda c: store.get_state(c, "last_check"))
        assert running_from(checked, time.time())  # the scheduler's ticks keep it fresh
    finally:
        await server.stop()
        await runner.cleanup()


async def test_a_security_finding_pushed_to_main_is_filed_once_at_once(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo = emu.create_repo(REPO, FILES)
    alice = emu.person("alice", "maintain")
    server = await Server.start(emu, tmp_path / "ledger.db", SELFHEAL_MONITOR_SCAN_HOURS="24")
    try:
        emu.install([repo])
        await until(lambda: MONITOR in repo.labels, what="labels created")
        settings = {"app/settings.py": f"API_TOKEN = '{leaked_token()}'\n"}
        first = await alice.push(repo, "main", settings, "Add the settings")
        (filed,) = await until(lambda: monitor_issues(repo), what="the finding's issue",
                               timeout=120)  # fmt: skip
        assert "selfheal:type/security" in {x.name for x in filed.labels}
        assert "`app/settings.py`" in (filed.body or "")
        assert leaked_token() not in (filed.body or "") + filed.title  # never echo a secret
        request = await until(
            lambda: server.ledger.read(lambda c: requests.find_by_issue(c, REPO, filed.number)),
            what="the security request",
        )
        assert request.change_type == "security" and request.priority == 9
        # Another push that keeps the finding: the same issue, its table updated.
        second = await alice.push(repo, "main", {"README.md": "# widgets 2\n"}, "Docs")
        assert second != first
        await until(lambda: "**Occurrences:** 2 distinct runs" in (repo.issues[filed.number].body
                    or ""), what="the table updated", timeout=120)  # fmt: skip
        assert len(monitor_issues(repo)) == 1
    finally:
        await server.stop()
