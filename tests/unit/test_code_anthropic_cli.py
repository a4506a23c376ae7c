"""``selfheal code --backend anthropic --model M --budget USD`` against the fake Messages
API, found through ANTHROPIC_BASE_URL with the key from ANTHROPIC_API_KEY."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfheal import cli
from tests.support.coder import make_worktree
from tests.support.fake_anthropic import API_KEY, FakeAnthropic, Turn, fake_anthropic, finish

FILES = {"app/util.py": "def add(a, b):\n    return a - b\n"}


def code(fake: FakeAnthropic, monkeypatch: pytest.MonkeyPatch, root: Path, *extra: str) -> int:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    argv = ["code", "--repo", str(root), "--backend", "anthropic", "--task", "Fix add.",
            "--target", "app/util.py", *extra]  # fmt: skip
    return cli.main(argv)


def test_the_anthropic_backend_runs_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_worktree(tmp_path, FILES)
    edit = Turn(tools=[("replace", {"path": "app/util.py", "old": "a - b", "new": "a + b"})])
    with fake_anthropic(edit, finish("fixed add")) as fake:
        status = code(fake, monkeypatch, tmp_path, "--model", "claude-haiku-4-5",
                          "--format", "json")  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 0, err
    data = json.loads(out)
    assert data["backend"] == "anthropic" and data["files_changed"] == ["app/util.py"]
    assert data["summary"] == "fixed add" and data["cost_usd"] > 0
    assert fake.requests[0]["model"] == "claude-haiku-4-5"
    assert API_KEY not in out + err


def test_a_run_out_of_budget_exits_3_and_says_budget_exceeded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_worktree(tmp_path, FILES)
    turns = [Turn(tools=[("list_files", {})], input_tokens=5000, output_tokens=500)] * 10
    with fake_anthropic(*turns) as fake:
        status = code(fake, monkeypatch, tmp_path, "--model", "claude-sonnet-4-5",
                          "--budget", "0.2")  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 3, out + err
    assert "budget exceeded" in err
    assert 0 < len(fake.requests) < 10


def test_a_model_without_a_price_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_worktree(tmp_path, FILES)
    with fake_anthropic(finish("x")) as fake:
        status = code(fake, monkeypatch, tmp_path, "--model", "gpt-unknown")
    _, err = capsys.readouterr()
    assert status == 2 and "no price" in err and fake.requests == []
