"""The monitor without the App: ``selfheal report junit --github-issues`` with a plain token
keeps each failing test's runs in a hidden marker of one plain ``selfheal:source/monitor``
issue, never a request (the emulator plays GitHub)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from selfheal import cli
from selfheal.emulator import Emulator
from selfheal.monitor import issue as render
from selfheal.monitor.standalone import runs_in

JUNIT = """<testsuite name="t">
<testcase classname="tests.test_a" name="test_one" file="tests/test_a.py">
<failure message="assert {n} == 2" type="AssertionError">boom</failure></testcase>
<testcase classname="tests.test_a" name="test_two" file="tests/test_a.py">
<error message="KeyError: 'k{n}'" type="KeyError">trace</error></testcase>
</testsuite>"""


async def test_runs_are_counted_in_the_issue_itself(
    github_emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = github_emulator
    repo = emu.create_repo("acme/widgets", {"README.md": "# w\n"})
    ci = emu.person("ci-bot", "write")
    monkeypatch.setenv("GITHUB_TOKEN", ci.token)
    monkeypatch.setenv("GITHUB_API_URL", emu.base_url)
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/widgets")
    report = tmp_path / "junit.xml"
    argv = ["report", "junit", "--github-issues", "--issue-author", "ci-bot", str(report)]
    for n, run in enumerate(["100.1", "101.1", "101.1", "102.2"]):  # 101.1 reported twice
        report.write_text(JUNIT.format(n=n))
        monkeypatch.setenv("GITHUB_RUN_ID", run.split(".")[0])
        monkeypatch.setenv("GITHUB_RUN_ATTEMPT", run.split(".")[1])
        assert await asyncio.to_thread(cli.main, argv) == 0

    issues = [i for i in repo.issues.values() if i.pull is None]
    assert len(issues) == 2  # one per failing test
    for found in issues:
        names = {x.name for x in found.labels}
        assert names == {"selfheal:source/monitor"}  # never a request by itself
        assert render.marked_fingerprint(found.body) is not None
        assert [r for r, _ in runs_in(found.body)] == ["100.1", "101.1", "102.2"]
        assert "**Occurrences:** 3 distinct runs" in (found.body or "")
    # Someone else's issue with a copied marker is not adopted.
    first = issues[0]
    mallory = emu.person("mallory", "triage")
    copy = await mallory.open_issue(repo, "copy", first.body or "",
                                    labels=["selfheal:source/monitor"])  # fmt: skip
    report.write_text(JUNIT.format(n=9))
    monkeypatch.setenv("GITHUB_RUN_ID", "103")
    assert await asyncio.to_thread(cli.main, argv) == 0
    assert len([i for i in repo.issues.values() if i.pull is None]) == 3
    assert [r for r, _ in runs_in(first.body)][-1] == "103.2"  # the attempt set before
    assert repo.issues[int(copy["number"])].body == copy["body"]  # left alone
