"""What the contract suites share: the pruned description, Prism's handle, the scripts."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from tests.support.paths import ROOT

PRUNED = ROOT / "tests" / "contract" / "github-pruned.json"


@dataclass
class PrismServer:
    url: str
    log: Path


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
