"""The code-quality gates run with the tests: ruff (lint and format) and mypy --strict.

They run the real tools on the real tree, so a lint or type error fails CI the same way a
broken test does.
"""

from __future__ import annotations

import subprocess
import sys

from tests.support.paths import ROOT

PY_DIRS = ["app", "tests", "bench", "scripts"]


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def _python_dirs() -> list[str]:
    return [d for d in PY_DIRS if (ROOT / d).is_dir()]


def test_ruff_lint_is_clean() -> None:
    result = _run("ruff", "check", "--no-cache", *_python_dirs())
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = _run("ruff", "format", "--check", "--no-cache", *_python_dirs())
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    """``mypy --strict`` over the package and the tests (the files pyproject.toml names)."""
    result = _run("mypy", "--no-incremental")
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_test_module_imports_another() -> None:
    """Shared helpers live in tests/support (and the emulator in app/selfheal/emulator); a
    test module or a conftest is never imported by another module."""
    import ast

    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if "fixtures" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                last = name.split(".")[-1]
                if name.startswith("tests.") and (last.startswith("test_") or last == "conftest"):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert not offenders, offenders
