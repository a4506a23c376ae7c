"""A strict, bounded parser for unified diffs (git's and plain ``diff -u``), into a ChangeSet.

Handles ``diff --git`` extended headers (new/deleted file modes, renames, copies, mode
changes), ``/dev/null`` for additions and deletions, quoted C-style paths, ``a/`` ``b/`` (and
git's mnemonic ``i/ w/ c/ o/``) prefixes, timestamps after a tab in plain diffs, ``\\ No
newline at end of file``, binary patches (``Binary files ... differ`` and ``GIT binary
patch``), CRLF and invalid UTF-8 (content is kept as bytes). Leading text (a commit message,
mail headers) and trailing text (a format-patch signature) are ignored.

Each file's new content is rebuilt from its hunks' new-side lines (context and added) at
their real line numbers; lines the diff does not show are left empty, so findings land on
the right lines. A malformed hunk raises :class:`DiffError` with the 1-based input line.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from selfheal.reviewer.changeset import ChangedFile, ChangeSet, ChangeStatus, changeset_from_files
from selfheal.reviewer.diffpaths import (
    DiffError,
    checked,
    git_header_paths,
    header_path,
    path_arg,
    strip_pair,
)

__all__ = ["MAX_DIFF_BYTES", "DiffError", "changeset_from_diff", "parse_diff"]

MAX_DIFF_BYTES = 64 * 1024 * 1024
MAX_LINE_NUMBER = 5_000_000
MAX_HEADER_CHARS = 8192  # a longer "Binary files" line is not a header
HUNK_RE = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(?: .*)?$")
BINARY_RE = re.compile(r"^Binary files (.+) and (.+) differ$")
EPOCH = "\t1970-01-01 00:00:00"  # `diff -N` dates a missing file at the epoch
SPACE, MINUS, PLUS = ord(" "), ord("-"), ord("+")


@dataclass
class _Hunk:
    old_start: int  # the first old and new line numbers of the hunk (or where it inserts)
    new_start: int
    markers: bytearray = field(default_factory=bytearray)  # " ", "-" or "+" per line


@dataclass
class _File:
    old: str | None = None
    new: str | None = None
    git: bool = False
    created: bool = False
    deleted: bool = False
    renamed: bool = False
    copied: bool = False
    binary: bool = False
    link: bool = False  # new mode 120000: a symbolic link
    has_headers: bool = False  # saw ---/+++
    hunks: list[_Hunk] = field(default_factory=list)
    lines: dict[int, bytes] = field(default_factory=dict)
    added: set[int] = field(default_factory=set)


# -- helpers ---------------------------------------------------------------------------------


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\r").decode("utf-8", "surrogateescape")


def _join(lines: dict[int, bytes]) -> bytes:
    """The lines at their numbers; a line not given is blank."""
    return b"".join(lines.get(n, b"\n") for n in range(1, max(lines, default=0) + 1))


def _renumbering(hunks: list[_Hunk]) -> Callable[[int], int | None]:
    """Line numbers of a file before ``hunks`` to its numbers after them (None: removed)."""
    kept: dict[int, int] = {}
    removed: set[int] = set()
    shifts: list[tuple[int, int]] = []  # (first old line after a hunk, lines it adds)
    for hunk in hunks:
        old, new = hunk.old_start, hunk.new_start
        for marker in hunk.markers:
            if marker == MINUS:
                removed.add(old)
            elif marker == SPACE:
                kept[old] = new
            old += marker != PLUS
            new += marker != MINUS
        shifts.append((old, (new - hunk.new_start) - (old - hunk.old_start)))
    shifts.sort()
    ends = [end for end, _ in shifts]
    offsets = list(itertools.accumulate((delta for _, delta in shifts), initial=0))

    def renumber(n: int) -> int | None:
        if n in removed:
            return None
        return kept.get(n, n + offsets[bisect.bisect_right(ends, n)])

    return renumber


def _merge(previous: ChangedFile, state: _File, entry: ChangedFile) -> ChangedFile:
    """The same file twice (a patch series): the earlier part's lines, renumbered through the
    later part's hunks, under the later part's lines. A link in either part stays a link, to
    what the merged content names."""
    assert previous.content is not None
    renumber = _renumbering(state.hunks)
    earlier = previous.content.split(b"\n")
    lines: dict[int, bytes] = {}
    for n in sorted(previous.shown_lines):
        moved = renumber(n)
        if moved is not None:
            lines[moved] = earlier[n - 1] + (b"\n" if n < len(earlier) else b"")
    lines.update(state.lines)
    added = {m for n in previous.added_lines if (m := renumber(n)) is not None}
    content = _join(lines)
    link = state.link or previous.link_target is not None
    return ChangedFile(
        entry.path,
        previous.old_path,
        previous.status,
        content,
        frozenset(added) | entry.added_lines,
        complete=previous.complete,
        shown_lines=frozenset(lines),
        link_target=_text(content.rstrip(b"\n")) if link and content else None,
    )


def _finish(state: _File, files: dict[str, ChangedFile]) -> None:
    old, new = strip_pair(state.old, state.new, state.git)
    if state.deleted or new is None:
        if old is None:
            return
        entry = ChangedFile(old, None, ChangeStatus.DELETED, None, frozenset(), state.binary)
    else:
        if state.created or old is None or state.copied:
            status, old_path = ChangeStatus.ADDED, None
        elif state.renamed or old != new:
            status, old_path = ChangeStatus.RENAMED, old
        else:
            status, old_path = ChangeStatus.MODIFIED, None
        content = _join(state.lines) if state.lines and not state.binary else None
        entry = ChangedFile(
            new,
            old_path,
            status,
            content,
            frozenset(state.added),
            state.binary,
            complete=status is ChangeStatus.ADDED,  # an added file's hunk shows every line
            shown_lines=frozenset(state.lines),
            link_target=_text(content.rstrip(b"\n")) if state.link and content else None,
        )
    previous = files.get(entry.path)
    later_text = entry.status is not ChangeStatus.DELETED and not entry.binary
    if later_text and previous is not None and previous.content is not None:
        entry = _merge(previous, state, entry)
    files[entry.path] = entry


def _extended_header(state: _File, text: str, lineno: int) -> bool:
    """Apply a git extended header line; False if ``text`` is not one."""
    if text.startswith(("new file mode ", "deleted file mode ")):
        state.created = text.startswith("new")
        state.deleted = text.startswith("deleted")
        state.link = state.created and text.endswith(" 120000")
    elif text.startswith(("new mode ", "index ")):  # `index a..b 120000`: mode unchanged
        state.link = state.link or text.endswith(" 120000")
    elif text.startswith(("rename from ", "copy from ")):
        state.old = "a/" + path_arg(text.split(" ", 2)[2], lineno)
        state.renamed = text.startswith("rename")
        state.copied = text.startswith("copy")
    elif text.startswith(("rename to ", "copy to ")):
        state.new = "b/" + path_arg(text.split(" ", 2)[2], lineno)
    elif text.startswith("GIT binary patch"):
        state.binary = True
    elif not text.startswith(("old mode ", "similarity index ", "dissimilarity index ")):
        return False
    return True


def _no_newline(state: _File | None, last_new: int | None) -> None:
    """``\\ No newline at end of file``: the previous new-side line has no line break."""
    if state is not None and last_new is not None and last_new in state.lines:
        line = state.lines[last_new]
        state.lines[last_new] = line[:-2] if line.endswith(b"\r\n") else line.removesuffix(b"\n")


# -- public functions ------------------------------------------------------------------------


class _Parser:
    """The state of one pass over a diff's lines: the file being read, and inside a hunk
    how many old and new lines it still owes."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines
        self.files: dict[str, ChangedFile] = {}
        self.state: _File | None = None
        self.old_left = self.new_left = 0
        self.cursor = 0
        self.markers = bytearray()  # of the current hunk
        self.last_new: int | None = None  # new-side line number of the previous hunk line
        self.in_binary_patch = False

    def run(self) -> None:
        for index, line in enumerate(self.lines):
            if self.old_left > 0 or self.new_left > 0:
                self.hunk_line(line, index + 1)
            else:
                self.outside_hunk(index, line)
        if self.old_left > 0 or self.new_left > 0:
            raise DiffError(
                f"diff ends inside a hunk ({self.old_left} old and {self.new_left} new line(s) "
                "missing)",
                len(self.lines),
            )

    def _start(self, state: _File) -> _File:
        """Finish the current file (if any) and make ``state`` the current one."""
        if self.state is not None:
            _finish(self.state, self.files)
        self.state = state
        return state

    def hunk_line(self, line: bytes, lineno: int) -> None:
        marker, body = line[:1], line[1:] + b"\n"
        if marker in (b"", b"\r"):  # an empty context line whose space was stripped
            marker, body = b" ", line + b"\n"
        if marker == b" " and self.old_left > 0 and self.new_left > 0:
            self.old_left, self.new_left = self.old_left - 1, self.new_left - 1
        elif marker == b"+" and self.new_left > 0:
            self.new_left -= 1
        elif marker == b"-" and self.old_left > 0:
            self.old_left -= 1
            self.markers += marker
            self.last_new = None
            return
        elif marker == b"\\":
            _no_newline(self.state, self.last_new)
            return
        else:
            raise DiffError(
                f"malformed hunk: expected {self.old_left} more old and {self.new_left} more "
                f"new line(s), got {_text(line)[:60]!r}",
                lineno,
            )
        assert self.state is not None
        self.markers += marker
        self.state.lines[self.cursor] = body
        if marker == b"+":
            self.state.added.add(self.cursor)
        self.last_new = self.cursor
        self.cursor += 1

    def outside_hunk(self, index: int, line: bytes) -> None:
        lineno, text = index + 1, _text(line)
        state = self.state
        if text.startswith("\\") and state is not None and state.hunks:
            _no_newline(state, self.last_new)
            return
        self.last_new = None
        if text.startswith("diff --git "):
            old, new = git_header_paths(text[len("diff --git ") :], lineno)
            self._start(_File(old=checked(old, lineno), new=checked(new, lineno), git=True))
            self.in_binary_patch = False
        elif not self.in_binary_patch:  # a GIT binary patch's data lines are skipped
            self.header_or_stray(index, line, text)

    def header_or_stray(self, index: int, line: bytes, text: str) -> None:
        lineno, state = index + 1, self.state
        if text.startswith("--- ") and self._next_is_new_header(index):
            self.file_headers(text, _text(self.lines[index + 1])[4:], lineno)
        elif text.startswith("+++ ") and state is not None and state.has_headers:
            if state.hunks:
                self.stray(line, text, lineno)  # the second half of a pair comes before hunks
        elif text.startswith("@@"):
            self.hunk_header(line, text, lineno)
        elif text.startswith("Binary files ") and text.endswith(" differ"):
            self.binary_files(line, text, lineno)
        elif state is not None and state.git and not state.hunks and not state.has_headers:
            if _extended_header(state, text, lineno):
                self.in_binary_patch = state.binary
        else:
            self.stray(line, text, lineno)

    def _next_is_new_header(self, index: int) -> bool:
        return index + 1 < len(self.lines) and self.lines[index + 1][:4] == b"+++ "

    def file_headers(self, text: str, new_text: str, lineno: int) -> None:
        """A ``---``/``+++`` pair: a plain diff's file, or a git file's headers."""
        state = self.state
        if state is None or state.hunks or state.has_headers or not state.git:
            state = self._start(_File())
        state.has_headers = True
        state.old = header_path(text[4:], lineno)
        state.new = header_path(new_text, lineno + 1)
        state.created = state.old is None or EPOCH in text
        state.deleted = state.deleted or EPOCH in new_text

    def hunk_header(self, line: bytes, text: str, lineno: int) -> None:
        state = self.state
        if text.startswith("@@@"):
            raise DiffError("combined diffs (merge commits) are not supported", lineno)
        if state is None or (state.old is None and state.new is None):
            raise DiffError("hunk header before any file header", lineno)
        found = HUNK_RE.match(line.rstrip(b"\r"))
        if found is None:
            raise DiffError(f"malformed hunk header {text[:60]!r}", lineno)
        old_start, self.old_left = int(found.group(1)), int(found.group(2) or b"1")
        new_start, self.new_left = int(found.group(3)), int(found.group(4) or b"1")
        if new_start + self.new_left > MAX_LINE_NUMBER:
            raise DiffError(f"hunk line numbers over {MAX_LINE_NUMBER}", lineno)
        self.cursor = new_start if self.new_left else new_start + 1
        hunk = _Hunk(old_start if self.old_left else old_start + 1, self.cursor)
        state.hunks.append(hunk)
        self.markers = hunk.markers

    def binary_files(self, line: bytes, text: str, lineno: int) -> None:
        """``Binary files A and B differ``; any other line of that shape is a stray line."""
        binary = BINARY_RE.match(text[:MAX_HEADER_CHARS])
        if binary is None:
            self.stray(line, text, lineno)
            return
        state = self.state
        if state is None or state.hunks or state.has_headers:
            state = self._start(_File(old=header_path(binary.group(1), lineno)))
            state.new = header_path(binary.group(2), lineno)
        state.binary = True

    def stray(self, line: bytes, text: str, lineno: int) -> None:
        """A line outside any hunk: commit text is fine, a hunk-shaped line is not."""
        state = self.state
        if state is not None and state.hunks and line[:1] in (b"+", b"-", b" "):
            if text not in ("-- ", "--"):
                raise DiffError(
                    "line outside any hunk (a hunk header's line count is too small?)", lineno
                )


def parse_diff(data: bytes | str, *, max_bytes: int = MAX_DIFF_BYTES) -> list[ChangedFile]:
    """Parse a unified diff into changed files (see the module docstring)."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise DiffError(f"diff is {len(raw)} bytes, over the {max_bytes}-byte limit")
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    parser = _Parser(lines)
    parser.run()
    if parser.state is not None:
        _finish(parser.state, parser.files)
    elif raw.strip():
        raise DiffError("no file headers found: this is not a unified diff", 1)
    return list(parser.files.values())


def changeset_from_diff(data: bytes | str, *, max_bytes: int = MAX_DIFF_BYTES) -> ChangeSet:
    """A :class:`ChangeSet` from unified diff text (raises :class:`DiffError`)."""
    return changeset_from_files(parse_diff(data, max_bytes=max_bytes), kind="diff")
