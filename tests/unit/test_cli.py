"""The command dispatcher: every command is registered by the module the map names, and running
one command imports only that module."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from selfheal import cli


def _registered_by(module_name: str) -> set[str]:
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers(dest="command")
    importlib.import_module(module_name).register(subparsers)
    return set(subparsers.choices)


@pytest.mark.parametrize("module_name", sorted(cli.COMMAND_MODULES))
def test_the_map_names_exactly_the_commands_each_module_registers(module_name: str) -> None:
    assert _registered_by(module_name) == set(cli.COMMAND_MODULES[module_name])


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for commands in cli.COMMAND_MODULES.values():
        for command in commands:
            assert command in out


def test_a_command_imports_only_its_own_module() -> None:
    probe = (
        "import sys; from selfheal import cli; cli.build_parser(['scan', '.']); "
        "print(sorted(m for m in cli.COMMAND_MODULES if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "['selfheal.cli.scan']"


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == cli.EXIT_USAGE
    assert "COMMAND" in capsys.readouterr().err
