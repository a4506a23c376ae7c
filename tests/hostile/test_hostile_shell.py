"""Untrusted file names never become options or shell syntax: semgrep gets an argv list with
``--`` before the targets, so a file named ``--config=evil.yaml`` is scanned, not loaded."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.hostile import run_selfheal

EVIL_RULE = """rules:
- id: evil-rule-loaded-from-the-tree
  pattern: $X
  message: a file in the scanned tree was loaded as semgrep configuration
  languages: [python]
  severity: ERROR
"""
VULNERABLE = 'import os\nos.system("ls " + input())\n'
NAMES = ["-x.py", "--help.py", "$(touch pwned).py", "a b.py", "nl\nname.py", "`id`.py"]


def test_hostile_file_names_are_scanned_as_files(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "--config=evil.yaml").write_text(EVIL_RULE)
    for name in NAMES:
        (tree / name).write_text(VULNERABLE)
    done = run_selfheal("scan", str(tree), "--no-progress", "--format", "json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["errors"] == [] and report["summary"]["complete"]
    rules = {f["rule_id"] for f in report["findings"]}
    assert "evil-rule-loaded-from-the-tree" not in rules
    flagged = {f["path"] for f in report["findings"] if f["rule_id"] == "python-shell-non-constant"}
    assert flagged == set(NAMES)
    assert not (tmp_path / "pwned").exists() and not (tree / "pwned").exists()


def test_a_path_after_double_dash_is_scanned_even_if_it_looks_like_an_option(
    tmp_path: Path,
) -> None:
    """The Action passes its `path` input after `--`: a name like `--output=FILE` is a file to
    scan, never the option that would write FILE."""
    (tmp_path / "--output=stolen.py").write_text(VULNERABLE)
    done = run_selfheal(
        "scan", "--no-progress", "--format=json", "--", "--output=stolen.py", cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert {f["path"] for f in report["findings"]} == {"--output=stolen.py"}
    assert not (tmp_path / "stolen.py").exists()
