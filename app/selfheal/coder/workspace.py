"""The work tree as an in-process backend sees it: every read and write passes the guard.

Writes replace the file atomically (a temporary file in the same folder, then a rename, which
replaces a name and never writes through it) and keep the file's permission bits. What was
written is recorded; the runner still reviews the whole tree afterwards.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

from selfheal.coder.guard import (
    GuardError,
    PathGuard,
    Violation,
    ViolationKind,
    check_on_disk,
    normalise,
)
from selfheal.scanner.files import walk_tree

MAX_READ_BYTES = 8 * 1024 * 1024
MAX_CACHED_PATHS = 100_000


class Workspace:
    def __init__(self, root: Path, guard: PathGuard) -> None:
        self.root = root.resolve()
        self.guard = guard
        self.written: list[str] = []
        # The guard's read rules on a path string are pure (the policy does not change during
        # a run), so a model's repeated listings and searches check each path's name once;
        # the file system is still checked on every read.
        self._read_rules: dict[str, tuple[Violation | None, str]] = {}

    # -- checks ------------------------------------------------------------------------------

    def write_violation(self, path: str) -> Violation | None:
        return self.guard.check_write(self.root, path)

    def read_violation(self, path: str) -> Violation | None:
        known = self._read_rules.get(path)
        if known is None:
            if len(self._read_rules) >= MAX_CACHED_PATHS:
                self._read_rules.clear()
            known = (self.guard.read_violation(path), normalise(path) or "")
            self._read_rules[path] = known
        found, rel = known
        if found is not None:
            return found
        return check_on_disk(self.root, rel, writing=False)

    def exists(self, path: str) -> bool:
        rel = normalise(path)
        return rel is not None and os.path.lexists(self.root / rel)

    # -- reads and writes --------------------------------------------------------------------

    def read_bytes(self, path: str) -> bytes:
        """The file's bytes; :class:`GuardError` when the guard refuses, FileNotFoundError
        when it does not exist."""
        violation = self.read_violation(path)
        if violation is not None:
            raise GuardError(violation)
        rel = normalise(path) or ""
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(self.root / rel, flags)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX_READ_BYTES + 1)
        if len(data) > MAX_READ_BYTES:
            reason = f"larger than {MAX_READ_BYTES} bytes, not read"
            raise GuardError(Violation(rel, ViolationKind.SPECIAL, reason))
        return data

    def read_text(self, path: str) -> str:
        """UTF-8 text, line endings untouched (UnicodeDecodeError for other encodings)."""
        return self.read_bytes(path).decode("utf-8")

    def write_bytes(self, path: str, data: bytes) -> None:
        violation = self.write_violation(path)
        if violation is not None:
            raise GuardError(violation)
        rel = normalise(path) or ""
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            mode = stat.S_IMODE(os.lstat(target).st_mode)
        except FileNotFoundError:
            mode = 0o644
        fd, tmp = tempfile.mkstemp(prefix=".selfheal-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        if rel not in self.written:
            self.written.append(rel)

    def write_text(self, path: str, text: str) -> None:
        self.write_bytes(path, text.encode("utf-8"))

    def delete(self, path: str) -> None:
        """Remove a regular file (the guard's write rules apply: a file that may not be
        changed may not be deleted either); FileNotFoundError when it does not exist."""
        violation = self.write_violation(path)
        if violation is not None:
            raise GuardError(violation)
        rel = normalise(path) or ""
        target = self.root / rel
        if not stat.S_ISREG(os.lstat(target).st_mode):
            raise GuardError(Violation(rel, ViolationKind.SPECIAL, "not a regular file"))
        os.unlink(target)
        if rel not in self.written:
            self.written.append(rel)

    # -- listing -----------------------------------------------------------------------------

    def files(self, targets: Sequence[str]) -> tuple[list[str], list[str]]:
        """The regular files a task covers, and notes on targets that cover none.

        No targets: every file a scan would see (gitignored and vendored paths left out). A
        folder: the files under it, the same way. A file: itself. Paths the guard would not
        let a coder read are left out with a note.
        """
        notes: list[str] = []
        if not targets:
            return [p for p in walk_tree(self.root).files if self.read_violation(p) is None], notes
        everything: list[str] | None = None
        chosen: list[str] = []
        for target in targets:
            rel = normalise(target)
            if rel is None:
                notes.append(f"target {target!r} is not a path inside the work tree")
                continue
            full = self.root / rel
            if os.path.isdir(full) and not os.path.islink(full):
                if everything is None:
                    everything = walk_tree(self.root).files
                under = [p for p in everything if p.startswith(rel + "/")]
                if not under:
                    notes.append(f"target {rel}/ holds no files to work on")
                chosen += under
            elif os.path.lexists(full):
                chosen.append(rel)
            else:
                notes.append(f"target {rel} does not exist")
        kept: list[str] = []
        for path in dict.fromkeys(chosen):
            violation = self.read_violation(path)
            if violation is None:
                kept.append(path)
            else:
                notes.append(f"{violation}; left out")
        return kept, notes
