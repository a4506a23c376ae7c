"""The layering in docs/architecture.md, enforced: import-linter's contracts in pyproject.toml.

Layers from the top: the entry points (cli, registry), the features, the runtime, config,
the engine (reviewer above scanner and report), the edges (github, git, ledger), the model,
and the shipped resources. Features meet only through a package's public module; the pure
core imports no I/O module; the runtime never imports a feature; the SDK imports nothing
from the server.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.paths import ROOT

LINT_IMPORTS = [sys.executable, "-c", "from importlinter.cli import lint_imports_command as c; c()"]


def _lint(source_root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports over the package found first on sys.path from ``source_root``."""
    return subprocess.run(
        [*LINT_IMPORTS, "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=source_root, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_the_import_contracts_hold() -> None:
    result = _lint(ROOT / "app")
    assert result.returncode == 0, result.stdout + result.stderr
    kept = [
        line for line in result.stdout.splitlines() if line.endswith(" KEPT") or " KEPT (" in line
    ]
    assert len(kept) == 7, result.stdout


def test_a_broken_layer_is_reported(tmp_path: Path) -> None:
    """The check can fail: in a copy of the package, a model module that imports the ledger
    breaks the contract."""
    copy = tmp_path / "app"
    shutil.copytree(ROOT / "app" / "selfheal", copy / "selfheal",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    (copy / "selfheal" / "model" / "layer_probe.py").write_text(
        "from selfheal.ledger import jobs  # noqa: F401\n"
    )
    result = _lint(copy)
    assert result.returncode != 0
    assert "selfheal.model.layer_probe" in result.stdout


def test_an_sdk_that_imports_the_server_is_reported(tmp_path: Path) -> None:
    copy = tmp_path / "app"
    shutil.copytree(ROOT / "app" / "selfheal", copy / "selfheal",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    (copy / "selfheal" / "sdk" / "probe.py").write_text(
        "from selfheal.api import tokens  # noqa: F401\n"
    )
    result = _lint(copy)
    assert result.returncode != 0
    assert "selfheal.sdk.probe" in result.stdout
