"""The docs and the code name the same commands and settings.

Every ``selfheal <command>`` that README.md or docs/ show (in inline code or in a fenced
block) is a command the CLI has, and every command the CLI has is shown somewhere. Likewise
every ``SELFHEAL_*`` setting named in the docs is read by the package or the Action, and
every one they read is documented.
"""

from __future__ import annotations

import re
from pathlib import Path

from selfheal import cli
from tests.support.paths import ROOT

DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
SETTING = re.compile(r"\bSELFHEAL_[A-Z0-9_]+\b")
INLINE_COMMAND = re.compile(r"`(?:\$ )?selfheal ([a-z][a-z-]*)")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
BLOCK_COMMAND = re.compile(r"^\s*(?:\$ )?selfheal ([a-z][a-z-]*)", re.MULTILINE)


def _commands() -> set[str]:
    return {name for names in cli.COMMAND_MODULES.values() for name in names}


def documented_commands(texts: list[str]) -> set[str]:
    found: set[str] = set()
    for text in texts:
        found.update(INLINE_COMMAND.findall(text))
        for block in FENCE.findall(text):
            found.update(BLOCK_COMMAND.findall(block))
    return found


def _code_settings() -> set[str]:
    sources = [*(ROOT / "app" / "selfheal").rglob("*.py"), ROOT / "action.yml"]
    return {name for path in sources for name in SETTING.findall(path.read_text("utf-8"))}


def _doc_texts() -> list[str]:
    return [path.read_text("utf-8") for path in DOCS]


def test_every_documented_command_exists_and_every_command_is_documented() -> None:
    shown = documented_commands(_doc_texts())
    commands = _commands()
    assert len(commands) >= 10  # the CLI's table was read
    assert shown - commands == set(), "the docs show commands the CLI does not have"
    assert commands - shown == set(), "commands that no doc shows"


def test_every_documented_setting_is_read_and_every_setting_is_documented() -> None:
    documented = {name for text in _doc_texts() for name in SETTING.findall(text)}
    read = _code_settings()
    assert "SELFHEAL_WEBHOOK_SECRET" in read  # the sources were read
    assert documented - read == set(), "the docs name settings nothing reads"
    assert read - documented == set(), "settings the docs do not name"


def test_the_command_finder_sees_inline_and_fenced_commands(tmp_path: Path) -> None:
    text = (
        "Run `selfheal scan .` or:\n\n```sh\n$ selfheal review --paths x\n  selfheal halt\n```\n"
        "selfheal itself is prose, and so is a `selfheal` alone.\n"
    )
    assert documented_commands([text]) == {"scan", "review", "halt"}
