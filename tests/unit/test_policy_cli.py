"""`selfheal policy check` and `selfheal policy explain`."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.cli import main
from tests.support.hostile import run_selfheal


def _write_repo_policy(root: Path, text: str) -> Path:
    path = root / ".github" / "selfheal.policy"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_check_clean_file_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "ok.policy"
    policy.write_text("# fine\n/src/ review @org/devs\n")
    assert main(["policy", "check", str(policy)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "ok (1 rules)" in err


def test_check_reports_file_line_errors_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _write_repo_policy(tmp_path, "/src/ review\n!/src/x protected\n/lib/ strict\n")
    assert main(["policy", "check"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(".github/selfheal.policy:2: error: bad pattern '!/src/x'")
    assert lines[1].startswith(".github/selfheal.policy:3: error: unknown level 'strict'")


def test_check_without_repo_file_lints_the_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["policy", "check"]) == 0
    err = capsys.readouterr().err
    assert "checking the shipped defaults" in err
    assert "policies/default.policy: ok" in err


def test_check_unreadable_file_exits_2_and_bad_utf8_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["policy", "check", str(tmp_path / "missing.policy")]) == 2
    assert "cannot read policy file" in capsys.readouterr().err
    bad = tmp_path / "bad.policy"
    bad.write_bytes(b"a open\n\xff protected\n")
    assert main(["policy", "check", str(bad)]) == 1
    assert capsys.readouterr().out.strip() == f"{bad}:2: error: invalid UTF-8"


def test_explain_shows_line_level_owners_and_floor_notes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _write_repo_policy(tmp_path, "/src/ review @org/devs\n.github/ open\n")
    code = main(["policy", "explain", "src/a.py", "README.md", ".github/workflows/ci.yml"])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "src/a.py: review by .github/selfheal.policy:1 `/src/` owners: @org/devs"
    assert lines[1] == "README.md: no rule matched: open"
    assert lines[2].startswith(".github/workflows/ci.yml: protected by policies/default.policy:")
    assert lines[2].endswith("`/.github/workflows/` owners: (no owners)")
    assert "cannot lower the default protected level" in lines[3]
    assert lines[4] == "  note: edits always need a person's approval (a GitHub Actions workflow)"
    assert len(lines) == 5


def test_explain_with_policy_file_and_no_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "p.policy"
    policy.write_text("*.py protected alice@example.com\n")
    argv = ["policy", "explain", "--policy", str(policy), "--no-defaults", "a.py", ".env"]
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"a.py: protected by {policy}:1 `*.py` owners: alice@example.com",
        ".env: no rule matched: open",
    ]


def test_explain_bad_policy_is_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "p.policy"
    policy.write_text("src/ review\nsrc/ maybe\n")
    assert main(["policy", "explain", "--policy", str(policy), "x"]) == 2
    assert f"{policy}:2: error: unknown level 'maybe'" in capsys.readouterr().err


def test_console_script_runs_policy_check(tmp_path: Path) -> None:
    policy = tmp_path / "x.policy"
    policy.write_text("a.txt nope\n")
    proc = run_selfheal("policy", "check", str(policy))
    assert proc.returncode == 1
    assert proc.stdout.startswith(f"{policy}:1: error: unknown level 'nope'")


def test_check_finds_the_policy_at_the_repository_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pygit2

    pygit2.init_repository(str(tmp_path / "repo"))
    policy = _write_repo_policy(tmp_path / "repo", "/src/ review\n/lib/ maybe\n")
    (tmp_path / "repo" / "src" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "repo" / "src" / "deep")
    assert main(["policy", "check"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{policy.resolve()}:2: error: unknown level 'maybe'")


def test_check_warns_about_lines_that_cannot_lower_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "p.policy"
    policy.write_text("/src/ review\n.env.production open\n")
    assert main(["policy", "check", str(policy)]) == 0  # warnings do not fail the check
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{policy}:2: warning: open cannot lower the default protected")
