"""Untrusted text in selfheal's issue bodies (pure): one escaper for every inline mention.

Paths from a request's issue, a halt label, a failure's message reported by an agent or CI:
each goes into a body as :func:`inline_code`, one line of inline code that nothing in the
text can close, break or hide in. GitHub renders no markdown, HTML, @mention or ``#N`` link
inside a code span; the text also cannot start a new line (a forged checkbox), and it keeps
no ``<`` (so no HTML comment, such as one of selfheal's hidden markers, even in the raw
body) and no invisible or bidirectional control character.
"""

from __future__ import annotations

import re
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


# GitHub's closing keywords. Followed by a reference to an issue, in a pull request's body or in
# a commit message that reaches the default branch, they close that issue when it merges.
_CLOSING = re.compile(
    r"\b(close[sd]?|fix(?:e[sd])?|resolve[sd]?)"  # the keyword
    r"(\W{0,8}?)"  # a colon, spaces or a line break, emphasis marks ...
    r"(?=(?:[\w.-]+/[\w.-]+)?#\d|GH-\d|(?:https?://)?(?:www\.)?github\.com/)",  # ... a reference
    re.IGNORECASE,
)


def defuse_closing_keywords(text: str) -> str:
    """``text`` with every closing keyword that precedes an issue reference (``Fixes #8``,
    ``closes: owner/repo#8``, ``Resolves https://github.com/o/r/issues/8``) turned into plain
    words (``Fixes (reference) #8``), so that text selfheal did not write (a model's summary,
    an issue title, an agent's words) can never close an issue when the bot's change merges.
    The reference stays readable and still links."""
    return _CLOSING.sub(lambda m: f"{m.group(1)} (reference){m.group(2) or ' '}", text)
