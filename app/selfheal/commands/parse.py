"""Reading a slash command from a comment (pure).

A command is the first line of a new comment that starts with ``/selfheal``, followed by the
command's name and its arguments: ``/selfheal halt stop the bot``. Only the start of the
comment counts: a command quoted in a reply (``> /selfheal ...``), inside a code block or
further down is not one. Zero-width and bidirectional control characters are removed first,
so an invisible character cannot hide or fake a command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "/selfheal"
MAX_ARGS_CHARS = 500
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_NAME = re.compile(r"^[a-z][a-z-]{0,31}$")


@dataclass(frozen=True)
class Command:
    name: str  # lower case; "" for a bare "/selfheal"
    args: str


def parse_command(body: str) -> Command | None:
    """The command at the start of ``body``, or None when the comment is not one."""
    text = _INVISIBLE.sub("", body).lstrip()
    first = text.split("\n", 1)[0].strip()
    if not first.lower().startswith(PREFIX):
        return None
    rest = first[len(PREFIX) :]
    if rest and not rest[0].isspace():
        return None  # "/selfhealing" is a word, not a command
    words = rest.split(None, 1)
    if not words:
        return Command("", "")
    name = words[0].lower()
    args = words[1].strip()[:MAX_ARGS_CHARS] if len(words) > 1 else ""
    return Command(name if _NAME.match(name) else "?", args)
