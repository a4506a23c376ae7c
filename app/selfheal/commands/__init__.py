"""Slash commands (``/selfheal <command>`` in a new comment), each with its permission tier
and one-line help next to its handler (Prow's plugin help, in miniature).

The built-in commands are ``help``, ``halt`` and ``resume``; other features hand their own
:class:`CommandSpec` values to :func:`feature` through the registry.
"""

from __future__ import annotations

from collections.abc import Iterable

from selfheal.commands.builtin import BUILTIN
from selfheal.commands.events import make_router, refusal_for
from selfheal.commands.parse import Command, parse_command
from selfheal.commands.registry import (
    CommandCall,
    CommandSpec,
    Tier,
    by_name,
    help_text,
)
from selfheal.runtime.context import Feature

__all__ = [
    "BUILTIN",
    "Command",
    "CommandCall",
    "CommandSpec",
    "Tier",
    "feature",
    "help_text",
    "parse_command",
    "refusal_for",
]


def feature(extra: Iterable[CommandSpec] = ()) -> Feature:
    """The commands feature: the built-in commands and ``extra`` ones from other features."""
    return Feature("commands", router=make_router(by_name([*BUILTIN, *extra])))
