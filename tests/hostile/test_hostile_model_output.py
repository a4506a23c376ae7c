"""Hostile model output: tool calls with wrong types, huge or malformed arguments, unknown
tools and paths that escape, each answered with a bounded tool error and no change on disk;
and usage figures the meter refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from selfheal.coder.guard import PathGuard
from selfheal.coder.tools import MAX_REPLY_CHARS, MAX_WRITE_BYTES, ToolBox
from selfheal.coder.workspace import Workspace
from selfheal.model.policy import load_default_policy
from selfheal.model.prices import PriceError, Usage
from tests.support.coder import make_worktree

FILES = {"a.py": "x = 1\nx = 1\n", "big.txt": "line\n" * 50_000, ".env": "K=hunter2-value\n"}


@pytest.fixture
def box(tmp_path: Path) -> ToolBox:
    make_worktree(tmp_path, FILES)
    defaults = load_default_policy()
    return ToolBox(Workspace(tmp_path, PathGuard(defaults, defaults)))


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("read_file", {"path": 5}),
        ("read_file", {"path": "a.py", "start_line": -3}),
        ("read_file", {"path": "a.py", "start_line": True}),
        ("read_file", {"path": "a.py", "start_line": 999}),
        ("read_file", {"path": "/etc/passwd"}),
        ("read_file", {"path": "a.py\x00.txt"}),
        ("read_file", {"path": ".git/config"}),
        ("read_file", {"path": ".ENV"}),
        ("create_file", {"path": "a.py", "content": "overwrite"}),
        ("create_file", {"path": "new.txt", "content": "x" * (MAX_WRITE_BYTES + 1)}),
        ("create_file", {"path": "new.txt", "content": ["not", "a", "string"]}),
        ("create_file", {"path": ".git/hooks/pre-commit", "content": "#!/bin/sh\n"}),
        ("create_file", {"path": ".GitHub/Workflows/x.yml", "content": "on: push\n"}),
        ("replace", {"path": "a.py", "old": "x = 1", "new": "y"}),  # twice: not unique
        ("replace", {"path": "a.py", "old": "", "new": "y"}),
        ("replace", {"path": "missing.py", "old": "a", "new": "b"}),
        ("insert", {"path": "a.py", "line": 99, "text": "z"}),
        ("delete_file", {"path": "."}),
        ("delete_file", {"path": "../a.py"}),
        ("search", {"text": ""}),
        ("finish", {"summary": "   "}),
        ("shell", {"command": "env"}),
    ],
)
def test_bad_tool_calls_are_tool_errors_and_change_nothing(
    box: ToolBox, tmp_path: Path, name: str, args: dict[str, Any]
) -> None:
    before = {p: (tmp_path / p).read_bytes() for p in FILES}
    reply = box.call(name, args)
    assert reply.is_error and reply.finished is None, reply
    assert len(reply.text) <= MAX_REPLY_CHARS + 100
    assert {p: (tmp_path / p).read_bytes() for p in FILES} == before
    assert not (tmp_path / "new.txt").exists()
    assert "hunter2" not in reply.text


def test_a_tool_input_that_is_not_an_object_is_an_error(box: ToolBox) -> None:
    assert box.call("read_file", ["a.py"]).is_error
    assert box.call("read_file", "a.py").is_error


def test_big_replies_are_cut(box: ToolBox) -> None:
    reply = box.call("read_file", {"path": "big.txt", "start_line": 1, "end_line": 50_000})
    assert not reply.is_error
    assert reply.text.count("\n") <= 401 and "not shown" in reply.text
    found = box.call("search", {"text": "line"})
    assert found.text.count("\n") <= 101 and "more matches" in found.text


@pytest.mark.parametrize(
    "fields",
    [{"input_tokens": -1}, {"output_tokens": 1.5}, {"cache_read": True}, {"cache_write_1h": "9"}],
)
def test_usage_that_cannot_be_billed_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(PriceError):
        Usage(**fields)
