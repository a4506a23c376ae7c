"""``selfheal code``: exit codes 0/1/2/3, the JSON report, and ``--commit`` (pygit2, only the
changed files, on the current branch), on real work trees with real semgrep."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pygit2
import pytest

from selfheal import cli
from tests.support.coder import FIXED_CODE, VULNERABLE_CODE, committed_files, make_worktree

FILES = {
    "app/conf.py": VULNERABLE_CODE,
    "requirements.txt": "requests==2.19.0\n",
    "notes.txt": "a\n",
}


def code(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(["code", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def report(out: str) -> dict[str, Any]:
    data = json.loads(out)
    assert isinstance(data, dict)
    return data


def test_changed_then_nothing_to_do_with_commit_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "repo"
    repo = make_worktree(root, FILES)
    first_commit = repo.head.target
    (root / "notes.txt").write_text("a local edit the coder must not commit\n")
    status, out, err = code(
        capsys, "--repo", str(root), "--task", "Fix the unsafe YAML\nand more", "--target",
        "app", "--target", "requirements.txt", "--format", "json", "--commit",
    )  # fmt: skip
    assert status == 0, err
    data = report(out)
    assert set(data) == {
        "version", "task", "backend", "outcome", "summary", "reason", "limit", "files_changed",
        "cost_usd", "cost_metered", "notes", "violations", "scrubbed", "findings", "commit",
    }  # fmt: skip
    assert data["version"] == 1 and data["backend"] == "rules" and data["outcome"] == "changed"
    assert data["task"]["type"] == "security"
    assert data["task"]["targets"] == ["app", "requirements.txt"]
    assert data["task"]["id"].startswith("cli-")
    assert data["files_changed"] == ["app/conf.py", "requirements.txt"]
    assert (data["cost_usd"], data["cost_metered"], data["limit"]) == (0.0, True, None)
    findings = data["findings"]
    assert findings["before"]["total"] == 6 and findings["after"]["total"] == 1
    assert set(findings["before"]["by_severity"]) == {"critical", "high", "medium", "low", "info"}
    assert {f["rule_id"] for f in findings["fixed"]} == {
        "python-yaml-unsafe-load", "python-tls-verification-disabled",
        "python-shell-true-with-list", "dependency-vulnerable",
    }  # fmt: skip
    assert findings["introduced"] == [] and findings["errors"] == []

    # The commit: on main, on top of the first one, with only the coder's files.
    head = repo.revparse_single("HEAD").peel(pygit2.Commit)
    assert data["commit"] == str(head.id) and head.parents[0].id == first_commit
    assert repo.head.shorthand == "main"
    assert head.message.startswith("selfheal: Fix the unsafe YAML and more\n")
    assert f"Selfheal-Task: {data['task']['id']} (security)" in head.message
    files = committed_files(repo)
    assert files["app/conf.py"] == FIXED_CODE.encode()
    assert files["requirements.txt"] == b"requests==2.31.0\n"
    assert files["notes.txt"] == b"a\n"  # the local edit stayed local
    status_now = repo.status()
    assert "app/conf.py" not in status_now and "requirements.txt" not in status_now
    assert "notes.txt" in status_now

    status, out, err = code(capsys, "--repo", str(root), "--task", "again", "--target", "app")
    assert status == 1, err
    assert out.startswith("selfheal code: nothing_to_do (rules coder)")


def test_text_summary_names_files_cost_and_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "repo"
    repo = make_worktree(root, FILES)
    head = repo.head.target
    status, out, _ = code(capsys, "--repo", str(root), "--task", "bump", "--type", "dependency")
    assert status == 0
    assert out.splitlines()[:5] == [
        "selfheal code: changed (rules coder)",
        "  bumped 1 dependency declaration in 1 file (requests 2.19.0 -> 2.31.0)",
        "Files changed (1):",
        "  requirements.txt",
        "Cost: 0.00 USD (metered)",
    ]
    assert "Findings: 6 before, 4 after (2 fixed, 0 new)" in out
    assert repo.head.target == head  # no --commit, no commit


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--type", "feature"], "needs a model-backed coder"),
        (["--target", "billing/pay.py"], "protected by the policy"),
        (["--target", ".github/workflows/ci.yml"], "GitHub Actions workflow"),
        (["--target", "../outside.py"], "not a relative path inside the work tree"),
        (["--budget", "-1"], "budget_usd must be a finite number"),
        (["--time-limit", "nan"], "wall_clock_seconds must be a finite number"),
    ],
)
def test_bad_input_and_refused_tasks_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    root = tmp_path / "repo"
    make_worktree(root, {**FILES, ".github/selfheal.policy": "/billing/ protected\n"})
    status, _, err = code(capsys, "--repo", str(root), "--task", "do it", *args)
    assert status == 2
    assert message in err
    assert (root / "app/conf.py").read_text() == VULNERABLE_CODE


def test_bad_work_trees_and_policies_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "repo"
    make_worktree(root, FILES)
    status, _, err = code(capsys, "--repo", str(root / "app"), "--task", "x")
    assert status == 2 and "give the top of the work tree" in err
    status, _, err = code(capsys, "--repo", str(tmp_path / "missing"), "--task", "x")
    assert status == 2 and "not a folder" in err
    status, _, err = code(capsys, "--repo", str(root), "--task", "   ")
    assert status == 2 and "say what to do" in err
    plain = tmp_path / "plain"
    plain.mkdir()
    status, _, err = code(capsys, "--repo", str(plain), "--task", "x", "--commit")
    assert status == 2 and "--commit needs a git work tree" in err
    (root / ".github").mkdir()
    (root / ".github/selfheal.policy").write_text("/src/ nonsense\n")
    status, _, err = code(capsys, "--repo", str(root), "--task", "x")
    assert status == 2 and "bad policy" in err and "unknown level" in err


def test_a_limit_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "repo"
    repo = make_worktree(root, FILES)
    head = repo.head.target
    status, out, _ = code(
        capsys, "--repo", str(root), "--task", "x", "--time-limit", "0", "--commit",
        "--format", "json", "--target", "app",
    )  # fmt: skip
    assert status == 3
    data = report(out)
    assert (data["outcome"], data["limit"], data["commit"]) == ("limit_reached", "time", None)
    assert "wall-clock limit of 0 s" in data["reason"]
    assert repo.head.target == head and (root / "app/conf.py").read_text() == VULNERABLE_CODE


AGENT = str(Path(__file__).resolve().parents[1] / "fixtures/coder/fake_agent.py")


def test_the_command_backend_takes_its_options_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    root = tmp_path / "repo"
    make_worktree(root, {"notes.txt": "a\n", ".env": "TOKEN=x\n"})
    tool = [sys.executable, AGENT, "--write", "notes.txt=b\\n", "--cost", "0.1"]
    options = json.dumps({"command": tool, "cost_field": "total_cost_usd"})
    argv = ["--repo", str(root), "--backend", "command", "--task", "edit", "--format", "json"]
    status, _, err = code(capsys, *argv, "--agent-options", options)
    assert status == 2 and "disposable copy" in err  # it would see .env
    status, out, _ = code(capsys, *argv, "--agent-options", options, "--disposable")
    assert status == 0, out
    assert (root / "notes.txt").read_text() == "b\n" and not (root / ".env").exists()
    for bad in ("{", "[]", '{"command": []}', "{}"):
        status, _, err = code(capsys, *argv, "--agent-options", bad)
        assert (status == 2 and "--agent-options" in err) or "--backend command" in err
