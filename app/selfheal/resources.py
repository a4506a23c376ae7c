"""Locate the data that ships with selfheal (semgrep rules, default policies, advisories).

In a wheel the top-level ``rules/`` and ``policies/`` folders are installed under
``selfheal/_bundled/``; in a source checkout (or an editable install) they sit at the top of
the repository, next to the ``app/`` source root.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
BUNDLED_DIR = PACKAGE_DIR / "_bundled"
SOURCE_ROOT = PACKAGE_DIR.parent.parent  # the repository: app/selfheal -> .


def data_dir(name: str) -> Path:
    """Return the folder ``name`` (``rules`` or ``policies``) wherever it was installed."""
    for candidate in (BUNDLED_DIR / name, SOURCE_ROOT / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"selfheal data folder {name!r} is missing from this installation")


def rules_dir() -> Path:
    return data_dir("rules")


def policies_dir() -> Path:
    return data_dir("policies")


def package_data(name: str) -> Path:
    """A file shipped inside the package itself (``selfheal/data/<name>``)."""
    return PACKAGE_DIR / "data" / name
