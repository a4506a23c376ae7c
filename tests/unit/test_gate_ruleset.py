"""The gate loads only the rule folder of the changed files' language."""

from __future__ import annotations

from pathlib import Path

from selfheal.gate.ruleset import language_folder, rules_for
from selfheal.resources import rules_dir


def test_one_language_picks_its_folder() -> None:
    assert language_folder(["a/b.py", "c.pyi", "README.md", "data.json"]) == "python"
    assert language_folder(["web/app.tsx", "web/x.mjs"]) == "javascript"
    assert language_folder(["deploy.sh"]) == "shell"
    assert rules_for(["a.py"]) == rules_dir() / "python"
    for name in ("python", "javascript", "shell"):  # every folder the mapping names exists
        assert (rules_dir() / name).is_dir()


def test_mixed_unknown_or_missing_loads_everything(tmp_path: Path) -> None:
    assert language_folder(["a.py", "b.js"]) is None
    assert language_folder(["bin/deploy"]) is None  # a shebang script could be any language
    assert language_folder(["notes.txt"]) is None
    assert rules_for(["a.py"], root=tmp_path) is None  # no such folder: all rules
