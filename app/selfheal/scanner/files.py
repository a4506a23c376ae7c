"""Walk a tree on disk and decide, for every file, whether the scanners should see it.

The walker never follows a symbolic link (so links out of the tree and link loops are safe),
prunes vendored and gitignored directories (configurable), skips binary, oversized, special
and unreadable files with a reason, and decodes invalid UTF-8 with replacement characters so
such files are still scanned. Nothing here raises for a bad file: every problem becomes an
entry in :attr:`WalkResult.skipped`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

import pygit2

from selfheal.scanner.gitdiff import ignore_context
from selfheal.scanner.options import DEFAULT_MAX_FILE_SIZE as DEFAULT_MAX_FILE_SIZE

# Directory names that hold third-party or generated code. Pruned unless include_vendored.
# dist/ and build/ are deliberately NOT here: they are usually gitignored anyway, and when a
# project commits them they ship, so they are worth scanning.
VENDORED_DIRS = frozenset(
    {
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".eggs",
        "node_modules",
        "bower_components",
        "jspm_packages",
        "site-packages",
        "dist-packages",
        "third_party",
        "third-party",
        "vendor",
    }
)
# Version-control internals and tool caches: always pruned, even with include_vendored, and
# not listed as skipped (they are never source code, and would flood every report).
ALWAYS_PRUNED = frozenset(
    {".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
)
BINARY_SNIFF_BYTES = 8192
# Share of control characters (other than whitespace) above which a NUL-free file is binary.
BINARY_CONTROL_RATIO = 0.30

REASON_VENDORED = "vendored path"
REASON_IGNORED = "gitignored"
REASON_EXCLUDED = "excluded by pattern"
REASON_SYMLINK_OUT = "symlink pointing outside the tree"
REASON_SYMLINK_BROKEN = "dangling or looping symlink"
REASON_SYMLINK_IN = "symlink (its target is scanned at its own path)"
REASON_SPECIAL = "not a regular file"
REASON_BINARY = "binary file"


@dataclass(frozen=True, slots=True)
class WalkResult:
    """Repo-relative POSIX paths to scan, and (path, reason) for everything left out."""

    files: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FileText:
    """A file's decoded text; ``lossy`` is set when invalid UTF-8 was replaced."""

    text: str
    lossy: bool


# --- helpers ---------------------------------------------------------------------------


def matches_any(rel: str, patterns: Iterable[str]) -> bool:
    """True when ``rel`` (or its base name) matches one of the glob patterns.

    A pattern without ``/`` matches a base name anywhere (``*.min.js``); a pattern with ``/``
    matches the path from the scan root (``docs/*``, ``tests/fixtures/**``).
    """
    name = rel.rsplit("/", 1)[-1]
    for raw in patterns:
        pattern = raw.strip().removeprefix("./").strip("/")
        if not pattern:
            continue
        if "/" in pattern:
            # "**/" may also match no directory at all, as in gitignore.
            forms = {pattern, pattern.removesuffix("/**"), pattern.replace("**/", "")}
            if any(fnmatchcase(rel, form) for form in forms):
                return True
        elif fnmatchcase(name, pattern):
            return True
    return False


def is_binary(head: bytes) -> bool:
    """NUL bytes, or mostly control characters that are not valid text, mean binary."""
    if not head:
        return False
    if b"\x00" in head:
        return True
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return control / len(head) > BINARY_CONTROL_RATIO


def decode(data: bytes) -> FileText:
    """UTF-8 (with or without BOM); invalid sequences become U+FFFD and set ``lossy``."""
    try:
        return FileText(data.decode("utf-8-sig"), lossy=False)
    except UnicodeDecodeError:
        return FileText(data.decode("utf-8-sig", errors="replace"), lossy=True)


def text_of_bytes(data: bytes, max_size: int = DEFAULT_MAX_FILE_SIZE) -> FileText | str:
    """The decoded text of a file's content, or the reason it is not scanned (size, binary)."""
    if len(data) > max_size:
        return f"too large ({len(data)} bytes > {max_size})"
    if is_binary(data[:BINARY_SNIFF_BYTES]):
        return REASON_BINARY
    return decode(data)


def read_text(path: Path, max_size: int = DEFAULT_MAX_FILE_SIZE) -> FileText | str:
    """The text of a regular file, or the reason it cannot be scanned (never raises)."""
    try:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(path, flags)
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc.__class__.__name__}"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return REASON_SPECIAL
        if info.st_size > max_size:
            return f"too large ({info.st_size} bytes > {max_size})"
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(max_size + 1)
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc.__class__.__name__}"
    finally:
        os.close(fd)
    if len(data) > max_size:  # it grew after fstat: its size is unknown
        return f"too large (over {max_size} bytes)"
    return text_of_bytes(data, max_size)


def _symlink_reason(path: Path, real_root: Path) -> str:
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return REASON_SYMLINK_BROKEN
    if target != real_root and real_root not in target.parents:
        return REASON_SYMLINK_OUT
    return REASON_SYMLINK_IN


class _Filter:
    """The per-path decisions shared by the full walk and the changed-files check."""

    def __init__(
        self, root: Path, exclude: Collection[str], include_vendored: bool, use_gitignore: bool
    ) -> None:
        self.root = root
        self.real_root = root.resolve()
        self.exclude = tuple(exclude)
        self.include_vendored = include_vendored
        self.git = ignore_context(root) if use_gitignore else None

    def ignored(self, rel: str, is_dir: bool) -> bool:
        if self.git is None:
            return False
        repo, prefix, tracked = self.git
        full = prefix + rel
        if full in tracked:
            return False
        try:
            return bool(repo.path_is_ignored(full + "/" if is_dir else full))
        except pygit2.GitError:
            return False

    def dir_reason(self, rel: str, name: str) -> str | None:
        if name in ALWAYS_PRUNED or (not self.include_vendored and name in VENDORED_DIRS):
            return REASON_VENDORED
        if self.exclude and matches_any(rel, self.exclude):
            return REASON_EXCLUDED
        if self.ignored(rel, is_dir=True):
            return REASON_IGNORED
        return None

    def file_reason(self, rel: str) -> str | None:
        if self.exclude and matches_any(rel, self.exclude):
            return REASON_EXCLUDED
        if self.ignored(rel, is_dir=False):
            return REASON_IGNORED
        return None


def _entries(directory: Path) -> Iterator[os.DirEntry[str]] | str:
    try:
        with os.scandir(directory) as it:
            return iter(sorted(it, key=lambda e: e.name))
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc.__class__.__name__}"


# --- public functions ------------------------------------------------------------------


def walk_tree(
    root: Path,
    *,
    exclude: Collection[str] = (),
    include_vendored: bool = False,
    use_gitignore: bool = True,
    only: Collection[str] | None = None,
) -> WalkResult:
    """List the files under ``root`` that should be scanned, in a stable (sorted) order.

    ``only`` restricts the walk to those root-relative paths (used by ``--base``); each is
    checked against the same rules as a full walk, including every parent directory.
    """
    rules = _Filter(root, exclude, include_vendored, use_gitignore)
    if only is not None:
        return _walk_only(rules, only)
    return _TreeWalk(rules).run()


def _walk_only(rules: _Filter, only: Collection[str]) -> WalkResult:
    """Check each of the ``only`` paths on its own, in sorted order."""
    result = WalkResult()
    for rel in sorted(set(only)):
        reason = _check_one(rules, rel)
        if reason is None:
            result.files.append(rel)
        elif reason:
            result.skipped.append((rel, reason))
    return result


class _TreeWalk:
    """The full walk: depth first from the root, each directory's entries in name order."""

    def __init__(self, rules: _Filter) -> None:
        self.rules = rules
        self.result = WalkResult()

    def run(self) -> WalkResult:
        stack: list[tuple[Path, str]] = [(self.rules.root, "")]
        while stack:
            subdirs = self.directory(*stack.pop())
            stack.extend(reversed(subdirs))  # popped in name order
        self.result.files.sort()
        return self.result

    def directory(self, directory: Path, rel_dir: str) -> list[tuple[Path, str]]:
        """Sort out one directory's entries; return its subdirectories to walk."""
        entries = _entries(directory)
        if isinstance(entries, str):
            self.result.skipped.append((rel_dir or ".", entries))
            return []
        subdirs: list[tuple[Path, str]] = []
        for entry in entries:
            subdir = self.entry(entry, f"{rel_dir}{entry.name}", directory / entry.name)
            if subdir is not None:
                subdirs.append(subdir)
        return subdirs

    def entry(self, entry: os.DirEntry[str], rel: str, path: Path) -> tuple[Path, str] | None:
        """List or skip one entry; return it when it is a directory to walk."""
        try:
            if entry.is_symlink():
                self.result.skipped.append((rel, _symlink_reason(path, self.rules.real_root)))
                return None
            if entry.is_dir(follow_symlinks=False):
                return self.subdirectory(entry.name, rel, path)
            if not entry.is_file(follow_symlinks=False):
                self.result.skipped.append((rel, REASON_SPECIAL))
                return None
        except OSError as exc:
            self.result.skipped.append((rel, f"unreadable: {exc.strerror}"))
            return None
        reason = self.rules.file_reason(rel)
        if reason is None:
            self.result.files.append(rel)
        else:
            self.result.skipped.append((rel, reason))
        return None

    def subdirectory(self, name: str, rel: str, path: Path) -> tuple[Path, str] | None:
        """The directory to walk, or None when it is pruned (and listed as skipped, unless it
        is version-control internals or a cache)."""
        reason = self.rules.dir_reason(rel, name)
        if reason is None:
            return path, rel + "/"
        if name not in ALWAYS_PRUNED:  # internals and caches: not worth a line
            self.result.skipped.append((rel + "/", reason))
        return None


def _check_one(rules: _Filter, rel: str) -> str | None:
    """Why ``rel`` is not scanned, None to scan it, or "" when it no longer exists."""
    parts = rel.split("/")
    path = rules.root
    for i, part in enumerate(parts):
        path = path / part
        sub = "/".join(parts[: i + 1])
        if path.is_symlink():
            return _symlink_reason(path, rules.real_root)
        if not path.exists():
            return ""  # deleted since the base: nothing to scan
        if i < len(parts) - 1:
            reason = rules.dir_reason(sub, part)
            if reason is not None:
                return reason
    if not path.is_file():
        return REASON_SPECIAL if not path.is_dir() else ""
    return rules.file_reason(rel)
