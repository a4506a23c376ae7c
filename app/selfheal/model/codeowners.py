"""CODEOWNERS pattern syntax (GitHub's rules), compiled to a backtracking-free matcher. Pure.

* a leading ``/`` anchors to the repository root; a pattern with no slash, or only a trailing
  one, matches at any depth; a slash in the middle anchors too;
* a trailing ``/`` means "everything under this directory", never a file of that name;
* ``*`` and ``?`` never cross ``/``; ``**`` as a whole segment does (leading, middle,
  trailing); a trailing ``/*`` (or a lone ``/*``) matches direct children only;
* otherwise a pattern also matches everything under a directory of that name;
* ``\\`` escapes the next character; ``!`` negation and ``[ ]`` ranges are errors;
* matching is case-sensitive.

No regular expressions: a repository's policy is untrusted input, and a pattern such as
``*a*a*a*b`` makes a backtracking regex take minutes on a long file name. Matching is a
dynamic programme over path components with a linear wildcard matcher per component.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

MAX_PATTERN_CHARS = 1024
ANY = "\x00?"  # the `?` token (a NUL can never occur in a path component)
PATH_OR_DIR, DIR_ONLY, EXACT = "path-or-dir", "dir-only", "exact"
Segment = str | tuple[str | None, ...]


def normalize_path(path: str) -> str:
    """Repository-relative with forward slashes; ``.``, ``..`` and ``//`` resolved, so that
    ``src/../.env`` is matched as ``.env`` (``..`` above the root stops at the root)."""
    path = posixpath.normpath("/" + path.replace("\\", "/")) if path else ""
    return path.lstrip("/")


def fold_path(path: str) -> str:
    """``path`` as a case-insensitive file system that drops trailing dots and spaces (Windows,
    and macOS by default) names it: ``.ENV`` and ``.env. `` are the file ``.env`` there."""
    return "/".join(part.rstrip(" .").lower() or part for part in path.split("/"))


def fold_pattern(pattern: PathPattern) -> PathPattern:
    """The same pattern over :func:`fold_path` paths (literals lower-cased)."""

    def fold(seg: Segment | None) -> Segment | None:
        if seg is None:
            return None
        if isinstance(seg, str):
            return seg.lower()
        tokens: list[str | None] = []
        for token in seg:
            tokens.extend([token] if token is None or token == ANY else list(token.lower()))
        return tuple(tokens)

    return PathPattern(
        tuple(fold(seg) for seg in pattern.segments),
        pattern.anchored,
        pattern.mode,
        pattern.required.lower(),
    )


def split_line(text: str) -> Iterator[str]:
    """Split a line into raw tokens (escapes kept); stop at a comment."""
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n or text[i] == "#":
            return
        start = i
        while i < n and text[i] not in " \t":
            i += 2 if text[i] == "\\" else 1
        yield text[start:i]


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


def _segment(chars: list[tuple[str, bool]]) -> Segment:
    """One path segment: a literal string, or glob tokens (None = ``*``, ``ANY`` = ``?``)."""
    tokens: list[str | None] = []
    for ch, escaped in chars:
        if not escaped and ch == "[":
            raise ValueError("character ranges `[ ]` are not supported in CODEOWNERS patterns")
        if not escaped and ch == "*":
            if not tokens or tokens[-1] is not None:
                tokens.append(None)
        elif not escaped and ch == "?":
            tokens.append(ANY)
        else:
            tokens.append(ch)
    if all(t is not None and t != ANY for t in tokens):
        return "".join(t for t in tokens if t is not None)
    return tuple(tokens)


def _glob(tokens: tuple[str | None, ...], text: str) -> bool:
    """Wildcard match in O(len(tokens) * len(text)): no exponential backtracking."""
    t = i = 0
    star, mark = -1, 0
    while i < len(text):
        if t < len(tokens) and tokens[t] is not None and (tokens[t] == ANY or tokens[t] == text[i]):
            t, i = t + 1, i + 1
        elif t < len(tokens) and tokens[t] is None:
            star, mark, t = t, i, t + 1
        elif star >= 0:
            mark += 1
            t, i = star + 1, mark
        else:
            return False
    while t < len(tokens) and tokens[t] is None:
        t += 1
    return t == len(tokens)


@dataclass(frozen=True, slots=True)
class PathPattern:
    """A compiled pattern. ``segments``: a literal, glob tokens, or None for ``**``."""

    segments: tuple[Segment | None, ...]
    anchored: bool
    mode: str  # PATH_OR_DIR | DIR_ONLY | EXACT
    required: str = ""  # a literal every matching path contains: a cheap first test

    def match(self, path: str) -> bool:
        return self.match_parts(path, path.split("/"))

    def match_parts(self, path: str, parts: Sequence[str]) -> bool:
        """Match ``path`` (already split on ``/`` into ``parts``) by a small dynamic
        programme over (pattern segment, path component): never exponential."""
        if self.required not in path:
            return False
        n = len(parts)
        reach = {0} if self.anchored else set(range(n))
        for seg in self.segments:
            if seg is None:  # `**`: zero or more whole components
                reach = set(range(min(reach), n + 1))
            elif isinstance(seg, str):
                reach = {j + 1 for j in reach if j < n and parts[j] == seg}
            else:
                reach = {j + 1 for j in reach if j < n and _glob(seg, parts[j])}
            if not reach:
                return False
        if self.mode == EXACT:
            return n in reach
        if self.mode == DIR_ONLY:
            return min(reach) < n
        return True  # PATH_OR_DIR: the path itself or a directory above it

    def reaches_below(self, parts: Sequence[str]) -> bool:
        """True when the pattern matches some path strictly below the directory ``parts``
        (split on ``/``) because of where that directory is: at least one of its components
        is matched by a named segment, not by ``**``. So ``/.github/workflows/`` reaches
        below ``.github`` and ``**/.kube/config`` below ``home/.kube``, but ``*.pem`` or
        ``.env``, names valid at any depth, reach below no directory in particular. Whether
        any such path exists does not matter. Every pattern reaches below the root (no
        parts)."""
        if not parts:
            return True
        n = len(parts)
        # (position, engaged): positions 0..n are in the directory, n + 1 is anywhere below
        # it; engaged once a named segment has matched one of the directory's components.
        states = {(0, False)} if self.anchored else {(j, False) for j in range(n)}
        for seg in self.segments:
            states = _step_below(states, seg, parts)
            if not states:
                return False
        # EXACT ends the path at the last segment, so it must have gone below the directory.
        return any(engaged and (self.mode != EXACT or j > n) for j, engaged in states)


def _step_below(
    states: set[tuple[int, bool]], seg: Segment | None, parts: Sequence[str]
) -> set[tuple[int, bool]]:
    """One pattern segment of :meth:`PathPattern.reaches_below`: below the directory, any
    segment can be given a component that it matches."""
    n = len(parts)
    out: set[tuple[int, bool]] = set()
    for j, engaged in states:
        if seg is None:  # `**`: zero or more whole components
            out.update((k, engaged) for k in range(j, n + 2))
        elif j >= n:
            out.add((n + 1, engaged))
        elif parts[j] == seg if isinstance(seg, str) else _glob(seg, parts[j]):
            out.add((j + 1, True))
    return out


def _split_segments(chars: list[tuple[str, bool]]) -> list[list[tuple[str, bool]]]:
    """The pattern's characters cut at each unescaped ``/`` (an empty piece is an error)."""
    pieces: list[list[tuple[str, bool]]] = [[]]
    for ch, escaped in chars:
        if ch == "/" and not escaped:
            pieces.append([])
        else:
            pieces[-1].append((ch, escaped))
    if any(not piece for piece in pieces):
        raise ValueError("empty path segment (`//`) in pattern")
    return pieces


def _mode(segments: list[Segment | None], anchored: bool, dir_only: bool) -> str:
    """How the last segment ends the match (drops a trailing ``**`` from ``segments``)."""
    if segments[-1] is None:  # `x/**` and `x/**/`: everything below x
        segments.pop()
        return DIR_ONLY
    if dir_only:
        return DIR_ONLY
    if anchored and segments[-1] == (None,):
        return EXACT  # `dir/*` and `/*`: direct children only
    return PATH_OR_DIR


def _longest_literal(segments: Sequence[Segment | None]) -> str:
    """The longest run of literal characters: the cheap prefilter every match must pass."""
    literals = [seg for seg in segments if isinstance(seg, str)] + [
        "".join(run) for seg in segments if isinstance(seg, tuple) for run in _literal_runs(seg)
    ]
    return max(literals, key=len, default="")


def compile_pattern(raw: str) -> PathPattern:
    """Compile one CODEOWNERS pattern (ValueError with the reason if it is malformed)."""
    if len(raw) > MAX_PATTERN_CHARS:
        raise ValueError(f"pattern longer than {MAX_PATTERN_CHARS} characters")
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
    pieces = _split_segments(chars)
    anchored = anchored or len(pieces) > 1
    segments: list[Segment | None] = [
        None if piece == [("*", False), ("*", False)] else _segment(piece) for piece in pieces
    ]
    mode = _mode(segments, anchored, dir_only)
    return PathPattern(tuple(segments), anchored, mode, _longest_literal(segments))


def _literal_runs(tokens: tuple[str | None, ...]) -> list[list[str]]:
    runs: list[list[str]] = [[]]
    for token in tokens:
        if token is None or token == ANY:
            runs.append([])
        else:
            runs[-1].append(token)
    return runs
