"""Paths in unified diff headers: C-quoted names, ``a/`` ``b/`` prefixes, safety checks.

Pure helpers for :mod:`app.review.diffparse`. A path that git itself would refuse to apply
(absolute, containing ``..`` or NUL) is a :class:`DiffError`, so a crafted diff cannot name
one file to the policy and another to the scanners.
"""

from __future__ import annotations

import re

PREFIXES = ("a/", "b/", "i/", "w/", "c/", "o/")
ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}
DEV_NULL = "/dev/null"


class DiffError(ValueError):
    """A diff that cannot be parsed; ``line`` is the 1-based input line (None: whole input)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line is not None else message)
        self.message = message
        self.line = line


def unquote(text: str, lineno: int) -> tuple[str, str]:
    """Parse a C-quoted path at the start of ``text``; return (path, rest)."""
    out = bytearray()
    i = 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return out.decode("utf-8", "replace"), text[i + 1 :]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in "0123" and re.fullmatch(r"[0-7]{3}", text[i + 1 : i + 4]):
                out.append(int(text[i + 1 : i + 4], 8))
                i += 4
                continue
            out.append(ESCAPES.get(nxt, ord(nxt)))
            i += 2
            continue
        out.extend(ch.encode("utf-8", "surrogateescape"))
        i += 1
    raise DiffError("unterminated quoted path", lineno)


def header_path(text: str, lineno: int) -> str | None:
    """The path of a ``---``/``+++`` line (without the marker), or None for /dev/null."""
    if text.startswith('"'):
        path, _ = unquote(text, lineno)
    else:
        path = text.split("\t", 1)[0].rstrip(" ")
    if not path:
        raise DiffError("file header without a path", lineno)
    return None if path == DEV_NULL else checked(path, lineno)


def checked(path: str, lineno: int) -> str:
    """Refuse paths that git itself would refuse to apply: absolute, ``..``, NUL."""
    parts = path.split("/")
    if path.startswith("/") or ".." in parts or "\0" in path:
        raise DiffError(f"unsafe path {path[:80]!r} (absolute or containing '..')", lineno)
    return path


def strip_prefix(path: str | None) -> str | None:
    if path is not None and path.startswith(PREFIXES) and len(path) > 2:
        return path[2:]
    return path


def strip_pair(old: str | None, new: str | None, git: bool) -> tuple[str | None, str | None]:
    """Drop the ``a/`` ``b/`` prefixes; for plain diffs, like ``patch -p1``, a first
    component in which the old and new paths differ (``old/src/x`` vs ``new/src/x``)."""
    if not git and old is not None and new is not None and "/" in old and "/" in new:
        old_head, old_tail = old.split("/", 1)
        new_head, new_tail = new.split("/", 1)
        if old_tail == new_tail and old_head != new_head:
            return old_tail, new_tail
    return strip_prefix(old), strip_prefix(new)


def git_header_paths(text: str, lineno: int) -> tuple[str, str]:
    """``a/x b/y`` from a ``diff --git`` line: exact for quoted or same-name paths."""
    if text.startswith('"'):
        old, rest = unquote(text, lineno)
        rest = rest.lstrip(" ")
        new = unquote(rest, lineno)[0] if rest.startswith('"') else rest
        return old, new
    candidates = [i for i, ch in enumerate(text) if ch == " "]
    for i in candidates:
        left, right = text[:i], text[i + 1 :]
        if right.startswith('"'):
            return left, unquote(right, lineno)[0]
        if strip_prefix(left) == strip_prefix(right):
            return left, right
    cut = text.rfind(" b/")
    if cut > 0:
        return text[:cut], text[cut + 1 :]
    raise DiffError("cannot read the paths of a `diff --git` line", lineno)


def path_arg(text: str, lineno: int) -> str:
    return checked(unquote(text, lineno)[0] if text.startswith('"') else text, lineno)
