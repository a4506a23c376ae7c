"""The runner's patch is untrusted input: the App parses it strictly and writes it only
through the path guard, all or nothing (selfheal.coder.patchfile)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from selfheal.coder.guard import PathGuard
from selfheal.coder.patchfile import PatchError, apply, collect, parse
from selfheal.coder.workspace import Workspace
from selfheal.model.policy import load_default_policy
from tests.support.coder import make_worktree

DEFAULTS = load_default_policy()


def doc(files: object, version: object = 1) -> bytes:
    return json.dumps({"version": version, "summary": "s", "files": files}).encode()


def b64(text: str) -> dict[str, str]:
    return {"content_b64": base64.b64encode(text.encode()).decode()}


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        doc({}, version=2),
        doc([]),
        doc({"../outside": b64("x")}),
        doc({"/etc/passwd": b64("x")}),
        doc({"a/./b": b64("x")}),
        doc({"a.py": {"content_b64": "%%%"}}),
        doc({"a.py": {"deleted": True, "content_b64": "eA=="}}),
        doc({"a.py": 5}),
    ],
)
def test_a_malformed_patch_is_refused(data: bytes) -> None:
    with pytest.raises(PatchError):
        parse(data)


def test_a_forbidden_path_refuses_the_whole_patch(tmp_path: Path) -> None:
    make_worktree(tmp_path, {"app.py": "x = 1\n"})
    workspace = Workspace(tmp_path, PathGuard(DEFAULTS, DEFAULTS))
    _, files = parse(doc({"app.py": b64("x = 2\n"), ".github/workflows/ci.yml": b64("on: push")}))
    with pytest.raises(PatchError, match="forbids"):
        apply(workspace, files)
    assert (tmp_path / "app.py").read_text() == "x = 1\n"  # nothing written
    assert not (tmp_path / ".github").exists()


def test_collect_and_apply_round_trip(tmp_path: Path) -> None:
    runner, app = tmp_path / "runner", tmp_path / "app"
    files = {"app.py": "x = 1\n", "old.py": "gone\n", ".gitignore": "*.log\n"}
    make_worktree(runner, files)
    make_worktree(app, files)
    (runner / "app.py").write_text("x = 2\n")
    (runner / "new.py").write_text("y = 1\n")
    (runner / "old.py").unlink()
    (runner / "debug.log").write_text("ignored\n")
    summary, parsed = parse(collect(runner, "did it"))
    assert summary == "did it"
    assert parsed == {"app.py": b"x = 2\n", "new.py": b"y = 1\n", "old.py": None}
    apply(Workspace(app, PathGuard(DEFAULTS, DEFAULTS)), parsed)
    assert (app / "app.py").read_text() == "x = 2\n" and (app / "new.py").exists()
    assert not (app / "old.py").exists()
