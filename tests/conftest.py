"""Shared pytest configuration.

semgrep must never reach for the network: the environment is set here, before any test runs.
Tests are grouped by kind, one folder each; the folders whose tests start servers, run
semgrep over whole trees or replay GitHub's published examples are marked ``slow`` here, by
folder, so ``pytest -m "not slow"`` runs the quick ones. Helpers live in ``tests/support``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("SEMGREP_ENABLE_VERSION_CHECK", "0")
os.environ.setdefault("SEMGREP_SEND_METRICS", "off")

pytest_plugins: list[str] = ["tests.support.emulator_plugin", "tests.support.sarif"]

TESTS = Path(__file__).resolve().parent
SLOW_FOLDERS = frozenset({"e2e", "contract", "emulator", "browser"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(str(item.path)).resolve().relative_to(TESTS).parts[0]
        if folder in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)
