"""The commands that need no change request: ``help``, ``halt`` and ``resume``.

``halt`` and ``resume`` are for writers, like the lock label itself: the bot puts the lock
label on the repository's dashboard issue (or takes it off every issue), and the halt feature
takes it from there (the bot's own toggles are trusted there, because the command's
permission was checked here).
"""

from __future__ import annotations

from selfheal.commands.registry import CommandCall, CommandSpec, Tier, help_text
from selfheal.halt import halt_repo, resume_repo

HELP_USAGE = "/selfheal help"


def one_line(text: str) -> str:
    """Someone's words as one plain line (no mention, no code span or markup breaking out)."""
    flat = " ".join(text.split())
    return flat.replace("`", "'").replace("@", "@\u200b")[:200]


async def run_halt(call: CommandCall) -> str:
    reason = f"/selfheal halt by @{call.login} in #{call.number}"
    if call.args:
        reason += f": {one_line(call.args)}"
    number, label = await halt_repo(call.gh, call.repo, reason)
    return f"⛔ Halted: `{label}` is on #{number}. `/selfheal resume` (or removing it) resumes."


async def run_resume(call: CommandCall) -> str:
    removed, label = await resume_repo(call.gh, call.repo)
    if not removed:
        return f"Nothing to resume: no open issue carries `{label}`."
    issues = ", ".join(f"#{n}" for n in removed)
    return f"▶️ Resumed: `{label}` removed from {issues}."


async def run_help(call: CommandCall) -> str:
    return "selfheal's commands (the first line of a new comment):\n\n" + help_text(call.commands)


HELP = CommandSpec("help", Tier.ANYONE, HELP_USAGE, "show this table", run_help)
HALT = CommandSpec(
    "halt",
    Tier.WRITER,
    "/selfheal halt [reason]",
    "halt selfheal on this repository (puts the lock label on the dashboard issue)",
    run_halt,
)
RESUME = CommandSpec(
    "resume",
    Tier.WRITER,
    "/selfheal resume",
    "remove the lock label from every open issue that carries it",
    run_resume,
)
BUILTIN = (HELP, HALT, RESUME)
