"""Make a Python fragment from a diff parseable, without moving any line.

A hunk from the middle of a Python file usually starts indented (inside a class or a
function). Rebuilt on its own, after blank lines, it is an indentation error, and parsers
(semgrep's among them) then see nothing in it. This fills some of the blank, unshown lines
just above each hunk with ``if 1:`` openers at the indentation levels the hunk needs, so the
hunk parses while every shown line keeps its number. Hunks that start with ``else``,
``elif``, ``except`` or ``finally`` get a matching ``if 1:`` / ``try:`` and ``pass`` first.
A hunk with too few unshown lines above it is left as it is.
"""

from __future__ import annotations

INDENT_STEP = 4
ELSE_WORDS = (b"else", b"elif")
TRY_WORDS = (b"except", b"finally")
PYTHON_SUFFIXES = (".py", ".pyi")


# -- helpers ---------------------------------------------------------------------------------


def _indent(line: bytes) -> int:
    return len(line) - len(line.lstrip(b" \t"))


def _blocks(shown: frozenset[int]) -> list[list[int]]:
    """Runs of consecutive shown line numbers."""
    runs: list[list[int]] = []
    for n in sorted(shown):
        if runs and runs[-1][-1] == n - 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return runs


def _openers(block: list[bytes]) -> list[bytes]:
    """The scaffold lines (without line breaks) that let ``block`` parse after them."""
    code = [line for line in block if line.strip() and not line.lstrip().startswith(b"#")]
    if not code:
        return []
    first = code[0]
    top = _indent(first)
    word = first.lstrip().split(b" ", 1)[0].rstrip(b":")
    levels = sorted({0, *(_indent(line) for line in code if _indent(line) < top)})
    lines = [b" " * level + b"if 1:" for level in levels] if top > 0 else []
    if word in ELSE_WORDS or word in TRY_WORDS:
        opener = b"if 1:" if word in ELSE_WORDS else b"try:"
        lines += [b" " * top + opener, b" " * (top + INDENT_STEP) + b"pass"]
    return lines


# -- public functions ------------------------------------------------------------------------


def is_python(path: str) -> bool:
    return path.endswith(PYTHON_SUFFIXES)


def scaffold_python(content: bytes, shown_lines: frozenset[int]) -> bytes:
    """``content`` with openers written into unshown blank lines above each hunk."""
    lines = content.split(b"\n")
    for run in _blocks(shown_lines):
        start = run[0]
        block = [lines[n - 1] for n in run if n - 1 < len(lines)]
        openers = _openers(block)
        if not openers:
            continue
        first = start - len(openers)  # 1-based line number of the first opener
        gap = range(first, start)
        if first < 1 or any(n in shown_lines or lines[n - 1].strip() for n in gap):
            continue
        for n, opener in zip(gap, openers, strict=True):
            ending = b"\r" if lines[n - 1].endswith(b"\r") else b""
            lines[n - 1] = opener + ending
    return b"\n".join(lines)
