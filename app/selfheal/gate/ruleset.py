"""Pick the semgrep rule folder for a change (pure): semgrep's start-up grows with the rules it
loads, and the bundled rules are split by language (rules/python, rules/javascript,
rules/shell, each rule declaring only that folder's languages). When every changed file that
semgrep would scan belongs to one language, only that folder is loaded; anything else (mixed
languages, extensionless scripts) loads every rule."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from selfheal.resources import rules_dir

FOLDERS = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".jsx": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".ts": "javascript", ".tsx": "javascript", ".mts": "javascript", ".cts": "javascript",
    ".sh": "shell", ".bash": "shell",
}  # fmt: skip


def language_folder(paths: Iterable[str]) -> str | None:
    """The one rule folder the paths need, or None when that is not a single folder."""
    folders = set()
    for path in paths:
        suffix = PurePosixPath(path).suffix.lower()
        if not suffix:
            return None  # maybe a script with a shebang: any language
        if suffix in FOLDERS:
            folders.add(FOLDERS[suffix])
    return folders.pop() if len(folders) == 1 else None


def rules_for(paths: Iterable[str], root: Path | None = None) -> Path | None:
    """The rule folder to pass as ``ScanOptions.rules`` (None = all bundled rules)."""
    folder = language_folder(paths)
    if folder is None:
        return None
    candidate = (root or rules_dir()) / folder
    return candidate if candidate.is_dir() else None
