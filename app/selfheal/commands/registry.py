"""What a slash command is: its name, who may use it, its help line and its handler.

Each command's :class:`CommandSpec` sits next to its handler; the help text is generated
from the specs, so it cannot drift from what the bot accepts. Who may use a command is a
:class:`Tier`, decided by :func:`refusal` from the commenter's role on the repository (and,
for some tiers, whether they asked for the change or own its paths).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # types only: this module stays pure
    from selfheal.github.protocol import GitHubAPI
    from selfheal.runtime.context import JobContext

WRITER_ROLES = frozenset({"admin", "maintain", "write"})
MAINTAINER_ROLES = frozenset({"admin", "maintain"})


class Tier(enum.Enum):
    ANYONE = "anyone who can comment"
    WRITER = "people with write access"
    MAINTAINER = "maintainers and admins"
    REQUESTER_OR_MAINTAINER = "the requester, maintainers and admins"
    OWNER = "owners of the affected paths under the policy, and admins"


@dataclass(frozen=True)
class CommandCall:
    """One use of a command: where, by whom, with which arguments."""

    ctx: JobContext
    gh: GitHubAPI
    repo: str
    number: int  # the issue or pull request
    login: str
    role: str
    args: str
    comment_id: int
    is_pull_request: bool
    commands: Mapping[str, CommandSpec]  # every command this bot accepts (for help)


Handler = Callable[[CommandCall], Awaitable[str | None]]  # returns the bot's reply, if any
# (is the commenter the requester, do they own the affected paths): for the tiers that ask
Facts = Callable[[CommandCall], Awaitable[tuple[bool, bool]]]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    tier: Tier
    usage: str
    help: str
    run: Handler
    facts: Facts | None = None


def refusal(tier: Tier, role: str, *, requester: bool = False, owner: bool = False) -> str | None:
    """Why ``role`` may not use a command of ``tier`` (None: it may)."""
    allowed = {
        Tier.ANYONE: True,
        Tier.WRITER: role in WRITER_ROLES,
        Tier.MAINTAINER: role in MAINTAINER_ROLES,
        Tier.REQUESTER_OR_MAINTAINER: requester or role in MAINTAINER_ROLES,
        Tier.OWNER: owner or role == "admin",
    }[tier]
    return None if allowed else f"it is for {tier.value}, and your role here is {role}"


def by_name(specs: Iterable[CommandSpec]) -> dict[str, CommandSpec]:
    table: dict[str, CommandSpec] = {}
    for spec in specs:
        if spec.name in table:
            raise ValueError(f"two commands are named {spec.name!r}")
        table[spec.name] = spec
    return table


def help_text(specs: Mapping[str, CommandSpec]) -> str:
    """The command table, in Markdown, generated from the specs."""
    lines = ["| command | what it does | who may use it |", "|---|---|---|"]
    for spec in sorted(specs.values(), key=lambda s: s.name):
        lines.append(f"| `{spec.usage}` | {spec.help} | {spec.tier.value} |")
    return "\n".join(lines)
