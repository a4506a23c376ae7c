"""Run the real `selfheal` CLI in a subprocess (the hostile tests and the CLI tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pygit2

from tests.support.paths import ROOT


def run_selfheal(
    *args: str,
    cwd: Path | None = None,
    clean_env: bool = False,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m app ARGS`` from this checkout; ``clean_env`` drops the caller's
    ``SELFHEAL_*`` settings, ``env`` adds variables."""
    environ = {k: v for k, v in os.environ.items() if not (clean_env and k.startswith("SELFHEAL_"))}
    environ.update(env or {})
    environ.update(SEMGREP_ENABLE_VERSION_CHECK="0", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "selfheal", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=environ,
        check=False,
    )


def init_repo(root: Path) -> Path:
    """A real git repository at ``root`` with one commit (a README)."""
    repo = pygit2.init_repository(str(root))
    (root / "README.md").write_text("demo\n")
    repo.index.add("README.md")
    repo.index.write()
    sig = pygit2.Signature("t", "t@example.com")
    repo.create_commit("HEAD", sig, sig, "init", repo.index.write_tree(), [])
    return root
