"""Packing a folder of semgrep rule files into one config (file handling only, semgrep not run).

That the packed file finds exactly what the separate files find is checked by the engine and
CLI tests, which run the real semgrep on the packed bundled rules and assert exact findings.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from app.scan.rulepack import merged_config

RULE = (
    "rules:\n  - id: {id}\n    pattern: {pattern}\n    message: m\n"
    "    languages: [python]\n    severity: ERROR\n"
)


def test_merges_rule_files_and_skips_test_files(tmp_path: Path) -> None:
    (tmp_path / "python").mkdir()
    (tmp_path / "python" / "a.yaml").write_text(RULE.format(id="rule-a", pattern="eval(...)"))
    (tmp_path / "python" / "a.py").write_text("eval(x)  # a rule test file, not a rule\n")
    (tmp_path / "python" / "w.test.yaml").write_text("on: push  # a YAML rule test target\n")
    (tmp_path / "b.yml").write_text(RULE.format(id="rule-b", pattern="exec(...)"))
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "c.yaml").write_text("not: rules\n")

    packed = merged_config(tmp_path)

    assert packed is not None and packed.parent != tmp_path
    assert oct(packed.parent.stat().st_mode & 0o777) == "0o700"  # private to this process
    rules = yaml.safe_load(packed.read_text())["rules"]
    assert [r["id"] for r in rules] == ["rule-b", "rule-a"]
    assert merged_config(tmp_path) == packed  # cached while nothing changes


def test_rebuilt_when_a_rule_file_changes(tmp_path: Path) -> None:
    rule = tmp_path / "a.yaml"
    rule.write_text(RULE.format(id="rule-a", pattern="eval(...)"))
    first = merged_config(tmp_path)
    rule.write_text(RULE.format(id="rule-a", pattern="exec(...)"))
    os.utime(rule, ns=(1, 1))
    second = merged_config(tmp_path)
    assert first != second and second is not None
    assert yaml.safe_load(second.read_text())["rules"][0]["pattern"] == "exec(...)"


def test_anything_unusual_falls_back_to_the_folder(tmp_path: Path) -> None:
    assert merged_config(tmp_path / "missing") is None
    single = tmp_path / "one.yaml"
    single.write_text(RULE.format(id="x", pattern="eval(...)"))
    assert merged_config(single) is None  # a file is used as it is
    dup = tmp_path / "dup"
    dup.mkdir()
    (dup / "a.yaml").write_text(RULE.format(id="same", pattern="eval(...)"))
    (dup / "b.yaml").write_text(RULE.format(id="same", pattern="exec(...)"))
    assert merged_config(dup) is None  # duplicate ids: let semgrep report it
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.yaml").write_text("rules: [\n")
    assert merged_config(broken) is None
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "a.yaml").write_text(RULE.format(id="x", pattern="eval(...)") + "extra: 1\n")
    assert merged_config(extra) is None
    empty = tmp_path / "empty"
    empty.mkdir()
    assert merged_config(empty) is None
