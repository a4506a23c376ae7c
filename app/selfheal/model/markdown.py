"""Untrusted text in selfheal's issue bodies (pure): one escaper for every inline mention.

Paths from a request's issue, a halt label, a failure's message reported by an agent or CI:
each goes into a body as :func:`inline_code`, one line of inline code that nothing in the
text can close, break or hide in. GitHub renders no markdown, HTML, @mention or ``#N`` link
inside a code span; the text also cannot start a new line (a forged checkbox), and it keeps
no ``<`` (so no HTML comment, such as one of selfheal's hidden markers, even in the raw
body) and no invisible or bidirectional control character.
"""

from __future__ import annotations

import unicodedata

HIDDEN = frozenset({"Cc", "Cf"})  # control and format characters (zero-width, bidi)


def inline_code(text: str, limit: int = 120) -> str:
    """``text`` as inline code on one line: every run of whitespace (line breaks of any kind
    included) is one space, a backtick is ``'``, ``<`` is ``‹``, control and format characters
    are dropped, and text longer than ``limit`` characters is cut and ends with ``…``."""
    visible = "".join(ch for ch in text if unicodedata.category(ch) not in HIDDEN or ch.isspace())
    clean = " ".join(visible.split()).replace("`", "'").replace("<", "‹")
    if len(clean) > limit:
        clean = clean[: max(limit - 1, 0)].rstrip() + "…"
    return f"`{clean}`"
