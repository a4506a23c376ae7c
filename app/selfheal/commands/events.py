"""Slash commands in new comments on issues and pull requests.

Only newly created comments count (an edit cannot turn an old comment into a command), the
bot's own comments are ignored, and a command is acknowledged with a reaction. The
commenter's role is asked from GitHub for every command; a refusal is answered with the
reason and audited (``command.refused``), an unknown command gets the help. Each comment is
handled once: a retried job finds its effect record and does nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gidgethub import routing
from gidgethub.sansio import Event

from selfheal.commands.parse import parse_command
from selfheal.commands.registry import CommandCall, CommandSpec, help_text, refusal
from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import permission_of, split
from selfheal.ledger import effects
from selfheal.runtime.context import JobContext

ACK = "eyes"
KIND = "command"


def _key(repo: str, comment_id: int) -> str:
    return f"command:{repo.lower()}:{comment_id}"


async def _reply(gh: GitHubAPI, repo: str, number: int, body: str) -> None:
    owner, name = split(repo)
    await gh.call("issues.create_comment", owner=owner, repo=name, issue_number=number,
                  data={"body": body})  # fmt: skip


def _from_a_bot(data: Mapping[str, Any], bot: str) -> bool:
    sender = data.get("sender") or {}
    login = str(sender.get("login") or "")
    return sender.get("type") == "Bot" or login.lower() == bot.lower()


async def on_comment(event: Event, ctx: JobContext, commands: Mapping[str, CommandSpec]) -> None:
    data = event.data
    comment, issue = data["comment"], data["issue"]
    command = parse_command(str(comment.get("body") or ""))
    if command is None or _from_a_bot(data, await ctx.bot_login()):
        return
    repo, number = str(data["repository"]["full_name"]), int(issue["number"])
    comment_id, login = int(comment["id"]), str(data["sender"]["login"])
    key = _key(repo, comment_id)
    if await ctx.ledger.aread(lambda c: effects.get_effect(c, key)) is not None:
        return  # handled already (a retried job)
    gh = await ctx.github()
    owner, name = split(repo)
    await gh.call("reactions.create_for_issue_comment", owner=owner, repo=name,
                  comment_id=comment_id, data={"content": ACK})  # fmt: skip
    details: dict[str, Any] = {"command": command.name, "issue": number, "comment": comment_id}
    spec = commands.get(command.name)
    role = await permission_of(gh, repo, login)
    call = CommandCall(ctx, gh, repo, number, login, role, command.args, comment_id,
                       "pull_request" in issue, commands)  # fmt: skip
    if spec is None:
        unknown = f"`/selfheal {command.name}` is not a command." if command.name else ""
        reply = f"{unknown}\n\n{help_text(commands)}".strip()
        action = "command.unknown"
    elif (why := await refusal_for(spec, call)) is not None:
        reply = f"@{login} `/selfheal {spec.name}` was not carried out: {why}."
        action, details["reason"] = "command.refused", why
    else:
        reply = await spec.run(call) or ""
        action = f"command.{spec.name}"
    if reply:
        await _reply(gh, repo, number, reply)
    await ctx.audit(login, action, details, request=number)
    await ctx.ledger.awrite(lambda c: effects.record_effect(c, key, KIND, comment_id))


async def refusal_for(spec: CommandSpec, call: CommandCall) -> str | None:
    """Why ``call`` may not use ``spec`` (None: it may), from its tier and the facts."""
    requester, owner = await spec.facts(call) if spec.facts is not None else (False, False)
    return refusal(spec.tier, call.role, requester=requester, owner=owner)


def make_router(commands: Mapping[str, CommandSpec]) -> routing.Router:
    router = routing.Router()

    @router.register("issue_comment", action="created")
    async def created(event: Event, ctx: JobContext) -> None:
        await on_comment(event, ctx, commands)

    return router
