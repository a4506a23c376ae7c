"""CODEOWNERS pattern syntax (GitHub's rules), compiled to regular expressions. Pure.

* a leading ``/`` anchors to the repository root; a pattern with no slash, or only a trailing
  one, matches at any depth; a slash in the middle anchors too;
* a trailing ``/`` means "everything under this directory", never a file of that name;
* ``*`` and ``?`` never cross ``/``; ``**`` as a whole segment does (leading, middle,
  trailing); a trailing ``/*`` (or a lone ``/*``) matches direct children only;
* otherwise a pattern also matches everything under a directory of that name;
* ``\\`` escapes the next character; ``!`` negation and ``[ ]`` ranges are errors;
* matching is case-sensitive.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator


def normalize_path(path: str) -> str:
    """Repository-relative with forward slashes; ``.``, ``..`` and ``//`` resolved, so that
    ``src/../.env`` is matched as ``.env`` (``..`` above the root stops at the root)."""
    path = posixpath.normpath("/" + path.replace("\\", "/")) if path else ""
    return path.lstrip("/")


def split_line(text: str) -> Iterator[tuple[str, int]]:
    """Split a line into raw tokens (escapes kept) with their column; stop at a comment."""
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n or text[i] == "#":
            return
        start = i
        while i < n and text[i] not in " \t":
            i += 2 if text[i] == "\\" else 1
        yield text[start:i], start + 1


def _chars(raw: str) -> list[tuple[str, bool]]:
    """Raw pattern text to (char, escaped) pairs."""
    out: list[tuple[str, bool]] = []
    i = 0
    while i < len(raw):
        if raw[i] == "\\":
            if i + 1 >= len(raw):
                raise ValueError("pattern ends with a lone backslash")
            out.append((raw[i + 1], True))
            i += 2
        else:
            out.append((raw[i], False))
            i += 1
    return out


def _segment_regex(segment: list[tuple[str, bool]]) -> str:
    out: list[str] = []
    for ch, escaped in segment:
        if escaped:
            out.append(re.escape(ch))
        elif ch == "*":
            if not out or out[-1] != "[^/]*":
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            raise ValueError("character ranges `[ ]` are not supported in CODEOWNERS patterns")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def compile_pattern(raw: str) -> re.Pattern[str]:
    """Translate one CODEOWNERS pattern to a regex over normalised paths (ValueError if bad)."""
    chars = _chars(raw)
    if chars and chars[0] == ("!", False):
        raise ValueError("`!` negation is not supported in CODEOWNERS patterns")
    anchored = bool(chars) and chars[0] == ("/", False)
    if anchored:
        chars = chars[1:]
    dir_only = bool(chars) and chars[-1] == ("/", False)
    if dir_only:
        chars = chars[:-1]
    if not chars:
        raise ValueError("empty pattern")
    segments: list[list[tuple[str, bool]]] = [[]]
    for ch, escaped in chars:
        if ch == "/" and not escaped:
            segments.append([])
        else:
            segments[-1].append((ch, escaped))
    if any(not seg for seg in segments):
        raise ValueError("empty path segment (`//`) in pattern")
    anchored = anchored or len(segments) > 1
    is_glob = [seg == [("*", False), ("*", False)] for seg in segments]
    out = "" if anchored else "(?:.*/)?"
    last = len(segments) - 1
    for i, seg in enumerate(segments):
        if is_glob[i]:
            out += ".+" if i == last else "(?:.*/)?"
            continue
        out += _segment_regex(seg) + ("/" if i < last else "")
    if is_glob[last]:
        suffix = ""  # `x/**` and `x/**/`: everything below x
    elif dir_only:
        suffix = "/.+"
    elif anchored and segments[last] == [("*", False)]:
        suffix = ""  # `dir/*` and `/*`: direct children only
    else:
        suffix = "(?:/.+)?"  # the path itself, or anything under a directory of that name
    return re.compile(out + suffix + r"\Z", re.DOTALL)
