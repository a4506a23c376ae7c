"""The bundled semgrep rules as the rule tests read them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from selfheal.resources import rules_dir
from selfheal.scanner.semgrep import rule_files

RULES = rules_dir()
RULE_FILES = rule_files(RULES)  # exactly what a scan loads
# The keys that give a rule an autofix; semgrep --test checks it against <name>.fixed.<ext>.
FIX_KEYS = ("fix", "fix-regex")

# rules/ holds 21 rule files. A loop over the rule files proves nothing if it finds none, so
# every loop checks that at least this many are there.
MIN_RULE_FILES = 20


def assert_rule_files_present(files: Sequence[Path] = RULE_FILES) -> None:
    assert len(files) >= MIN_RULE_FILES, f"only {len(files)} rule files found under {RULES}"


def load_rules(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict) and isinstance(data.get("rules"), list), path
    rules: list[dict[str, Any]] = data["rules"]
    return rules


def all_rules() -> Iterator[tuple[Path, dict[str, Any]]]:
    assert_rule_files_present()
    for path in RULE_FILES:
        for rule in load_rules(path):
            yield path, rule


def has_fix(rule: dict[str, Any]) -> bool:
    return any(key in rule for key in FIX_KEYS)


def fixed_test_files(rule_file: Path) -> list[Path]:
    """The fix tests of a rule file: <name>.fixed.<ext> next to <name>.yaml, which semgrep
    compares with the test file <name>.<ext> after applying every fix in <name>.yaml."""
    return sorted(rule_file.parent.glob(f"{rule_file.stem}.fixed.*"))
