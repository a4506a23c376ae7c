"""Slash commands, pure parts: reading a command from a comment, permission tiers, help."""

from __future__ import annotations

import pytest

from selfheal.commands import BUILTIN, Command, CommandSpec, Tier, help_text, parse_command
from selfheal.commands.registry import by_name, refusal


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/selfheal halt", Command("halt", "")),
        (
            "  /SelfHeal  Halt   the build is on fire \nmore text",
            Command("halt", "the build is on fire"),
        ),
        ("/selfheal", Command("", "")),
        ("/selfheal approve\n", Command("approve", "")),
        ("/selfheal Ünknown", Command("?", "")),
        ("/sel\u200bfheal halt", Command("halt", "")),  # an invisible char cannot hide one...
        ("\u202e/selfheal halt", Command("halt", "")),
    ],
)
def test_a_command_is_the_first_line_of_the_comment(body: str, expected: Command) -> None:
    assert parse_command(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        "please /selfheal halt",
        "> /selfheal halt\nquoted from someone",
        "```\n/selfheal halt\n```",
        "thanks!\n/selfheal halt",
        "/selfhealing is great",
        "",
    ],
)
def test_anything_else_is_not_a_command(body: str) -> None:
    assert parse_command(body) is None


def test_arguments_are_bounded() -> None:
    found = parse_command("/selfheal halt " + "x" * 5000)
    assert found is not None and len(found.args) == 500


@pytest.mark.parametrize(
    ("tier", "role", "requester", "owner", "allowed"),
    [
        (Tier.ANYONE, "none", False, False, True),
        (Tier.WRITER, "write", False, False, True),
        (Tier.WRITER, "triage", False, False, False),
        (Tier.WRITER, "read", False, False, False),
        (Tier.MAINTAINER, "write", False, False, False),
        (Tier.MAINTAINER, "maintain", False, False, True),
        (Tier.REQUESTER_OR_MAINTAINER, "read", True, False, True),
        (Tier.REQUESTER_OR_MAINTAINER, "write", False, False, False),
        (Tier.REQUESTER_OR_MAINTAINER, "admin", False, False, True),
        (Tier.OWNER, "write", False, True, True),
        (Tier.OWNER, "maintain", False, False, False),
        (Tier.OWNER, "admin", False, False, True),
    ],
)
def test_tiers(tier: Tier, role: str, requester: bool, owner: bool, allowed: bool) -> None:
    why = refusal(tier, role, requester=requester, owner=owner)
    assert (why is None) is allowed
    if why is not None:
        assert tier.value in why and role in why


def test_help_is_generated_from_the_specs_and_names_are_unique() -> None:
    table = help_text(by_name(BUILTIN))
    for spec in BUILTIN:
        assert f"`{spec.usage}` | {spec.help} | {spec.tier.value} |" in table
    with pytest.raises(ValueError, match="two commands"):
        by_name([*BUILTIN, CommandSpec("halt", Tier.ANYONE, "x", "y", BUILTIN[0].run)])
