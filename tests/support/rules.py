"""The bundled semgrep rules as the rule tests read them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from selfheal.resources import rules_dir
from selfheal.scanner.semgrep import rule_files

RULES = rules_dir()
RULE_FILES = rule_files(RULES)  # exactly what a scan loads


def load_rules(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict) and isinstance(data.get("rules"), list), path
    rules: list[dict[str, Any]] = data["rules"]
    return rules


def all_rules() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in RULE_FILES:
        for rule in load_rules(path):
            yield path, rule
