"""Microsoft's SARIF validator (``@microsoft/sarif-multitool``), for the report tests.

It ships as a .NET single-file binary whose execute bit npm leaves unset (install scripts are
off), so the fixture sets it. Its exit code is 0 even when it finds problems; the problems are
the results of the SARIF log it writes, which :func:`validate_with_multitool` returns.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import ROOT

MULTITOOL_DIR = ROOT / "node_modules" / "@microsoft" / "sarif-multitool-linux"


@pytest.fixture(scope="session")
def multitool() -> Path:
    binary = MULTITOOL_DIR / "Sarif.Multitool"
    assert binary.is_file(), "run `npm ci --ignore-scripts` first"
    mode = binary.stat().st_mode
    if not mode & stat.S_IXUSR:
        binary.chmod(mode | stat.S_IXUSR)
    return binary


def validate_with_multitool(binary: Path, sarif: Path, tmp: Path) -> list[dict[str, Any]]:
    out = tmp / "validation.sarif"
    env = {**os.environ, "DOTNET_SYSTEM_GLOBALIZATION_INVARIANT": "1"}
    subprocess.run(
        [str(binary), "validate", str(sarif), "-o", str(out), "--log", "ForceOverwrite",
         "--rule-kind", "Gh;Sarif"],
        check=True, capture_output=True, text=True, env=env, timeout=120, cwd=tmp,
    )  # fmt: skip
    results: list[dict[str, Any]] = json.loads(out.read_text())["runs"][0]["results"]
    return results
