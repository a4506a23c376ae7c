"""What ``pip install .`` puts into an environment: the package ``selfheal`` and its data,
and no top-level package named ``app`` (a common name in users' own projects)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.support.paths import ROOT


def test_the_wheel_holds_only_the_selfheal_package(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path),
         str(ROOT)],
        check=True, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("selfheal-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"selfheal"}
    assert "selfheal/__main__.py" in names and "selfheal/py.typed" in names
    assert any(n.startswith("selfheal/_bundled/rules/") and n.endswith(".yaml") for n in names)
    assert "selfheal/_bundled/policies/default.policy" in names
    assert any(n.startswith("selfheal/data/advisories/") for n in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "selfheal = selfheal.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
