"""`selfheal review`: inputs, policy resolution, formats and exit codes."""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path

import pytest

from selfheal.cli import main
from tests.support import paths
from tests.support.hostile import run_selfheal
from tests.support.review_repo import GitRepo

FIXTURES = paths.FIXTURES / "review"


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "repo")
    base = repo.commit(
        {".github/selfheal.policy": "/core/ review @org/core\n", "core/x.py": "A = 1\n"}
    )
    repo.branch("base", base)
    repo.commit({".github/selfheal.policy": "* open\n", "core/x.py": "A = 2\n"}, "relax")
    return repo


def test_git_range_uses_the_base_policy_and_exits_1(
    repo: GitRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["review", "--repo", str(repo.path), "--base", "base", "--head", "main"]
    assert main([*argv, "--format", "json", "--actor", "human", "--no-scan"]) == 1
    out, err = capsys.readouterr()
    verdict = json.loads(out)
    assert verdict["decision"] == "needs_approval"
    paths = {(f["category"], f["path"]) for f in verdict["findings"]}
    # The head's "* open" does not apply to its own review: core/ is still review-level.
    assert ("review-path", "core/x.py") in paths
    assert ("sensitive-change", ".github/selfheal.policy") in paths
    assert "selfheal review: needs_approval (risk: high)" in err


def test_paths_input_text_format(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["review", "--repo", str(tmp_path), "--paths", ".env", "src/a.py"]) == 1
    out, err = capsys.readouterr()
    assert "Decision: block" in out
    assert ".env" in out
    assert "selfheal review: block" in err
    assert main(["review", "--repo", str(tmp_path), "--paths", "src/a.py"]) == 0


def test_diff_file_with_policy_file_and_sarif_output(tmp_path: Path) -> None:
    policy = tmp_path / "p.policy"
    policy.write_text("*.txt review @docs\n")
    out = tmp_path / "out.sarif"
    argv = ["review", "--diff", str(FIXTURES / "git_full.diff"), "--policy", str(policy)]
    code = main([*argv, "--no-scan", "--actor", "human", "--format", "sarif", "--output", str(out)])
    assert code == 1
    sarif = json.loads(out.read_text())
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    located = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert {"nonl.txt", "latin.txt", ".github/workflows/ci.yml"} <= located


def test_markdown_format(repo: GitRepo, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["review", "--repo", str(repo.path), "--base", "base", "--no-scan"]
    assert main([*argv, "--format", "markdown"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("## ⛔ selfheal security review: block (risk: high)")
    assert "core/x" in out  # (the renderer may escape the rest of the path)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--base", "nope"], "unknown git ref 'nope'"),
        (["--diff", "MISSING.diff"], "cannot read diff"),
        (["--paths", "a", "--diff", "x"], "give exactly one of"),
        (["--head", "main"], "--head needs --base"),
        (["--paths", "a", "--policy", "MISSING.policy"], "cannot read policy"),
        (["--paths", "a", "--block-at", "urgent"], "unknown severity 'urgent'"),
        (["--paths", "a", "--scanners", "semgrep,magic"], "--scanners takes"),
    ],
)
def test_usage_errors_exit_2(
    repo: GitRepo, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["review", "--repo", str(repo.path), *argv]) == 2
    assert message in capsys.readouterr().err


def test_malformed_diff_and_bad_policy_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.diff"
    bad.write_text("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n?b\n")
    assert main(["review", "--diff", str(bad), "--no-scan"]) == 2
    assert "line 5: malformed hunk" in capsys.readouterr().err
    policy = tmp_path / ".github" / "selfheal.policy"
    policy.parent.mkdir()
    policy.write_text("src/ whatever\n")
    assert main(["review", "--repo", str(tmp_path), "--paths", "src/a.py"]) == 2
    err = capsys.readouterr().err
    assert "invalid policy" in err and "selfheal.policy:1: error: unknown level" in err


def test_diff_from_stdin_with_a_leaked_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = "ghp_" + hashlib.sha256(b"stdin leak").hexdigest()[:36]
    diff = (
        "diff --git a/cfg.py b/cfg.py\n--- a/cfg.py\n+++ b/cfg.py\n@@ -10,2 +10,3 @@\n"
        " A = 1\n"
        f'+TOKEN = "{token}"\n'
        " B = 2\n"
    )
    stdin = io.TextIOWrapper(io.BytesIO(diff.encode()))
    monkeypatch.setattr(sys, "stdin", stdin)
    argv = ["review", "--diff", "-", "--format", "json", "--scanners", "secrets"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert token not in out
    verdict = json.loads(out)
    secrets = [f for f in verdict["findings"] if f["category"] == "secret"]
    assert [(f["path"], f["line"]) for f in secrets] == [("cfg.py", 11)]
    assert verdict["decision"] == "block"


def test_console_script_exit_code(tmp_path: Path) -> None:
    proc = run_selfheal("review", "--paths", "README.md", "--no-scan", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "selfheal review: approve (risk: low)" in proc.stderr
