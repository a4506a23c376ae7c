"""Contract suite 3 (self-check): GitHub's published webhook examples, kept as fixtures for
the handlers, validate against the webhook schemas with the same code that checks the
emulator's deliveries; and a broken payload is caught."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.contract import load_script
from tests.support.paths import ROOT
from tests.support.webhook_schema import definition_for, problems

FIXTURES = ROOT / "tests/fixtures/webhooks"


def _fixtures() -> list[Path]:
    return sorted(FIXTURES.glob("*.json"))


def _event_of(path: Path) -> str:
    return path.name.split(".")[0]


def test_the_fixtures_are_the_published_examples() -> None:
    script = load_script("copy_webhook_examples")
    index = json.loads(script.INDEX.read_text(encoding="utf-8"))
    chosen = script.select(index, lambda event, payload: not problems(event, payload))
    assert sorted(chosen) == [p.name for p in _fixtures()]
    for name, payload in chosen.items():
        assert (FIXTURES / name).read_text(encoding="utf-8") == script.render(payload), name


@pytest.mark.parametrize("path", _fixtures(), ids=lambda p: p.stem)
def test_published_example_validates(path: Path) -> None:
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert problems(_event_of(path), payload) == []


def test_action_specific_definitions_are_used() -> None:
    assert definition_for("issues", "labeled") == "issues$labeled"
    assert definition_for("push", None) == "push$event"
    with pytest.raises(KeyError):
        definition_for("issues", "exploded")


def _mutations(payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    missing_sender = copy.deepcopy(payload)
    del missing_sender["sender"]
    wrong_type = copy.deepcopy(payload)
    wrong_type["issue"]["number"] = "seven"
    extra_key = copy.deepcopy(payload)
    extra_key["surprise"] = True
    wrong_action = copy.deepcopy(payload)
    wrong_action["label"] = {"name": 5}
    return [
        ("sender", missing_sender),
        ("number", wrong_type),
        ("surprise", extra_key),
        ("label", wrong_action),
    ]


@pytest.mark.parametrize("index", range(4))
def test_a_broken_payload_is_reported(index: int) -> None:
    payload = json.loads((FIXTURES / "issues.labeled.json").read_text(encoding="utf-8"))
    field, broken = _mutations(payload)[index]
    found = problems("issues", broken)
    assert found, f"mutating {field} went unnoticed"
    assert any(field in p for p in found), found
