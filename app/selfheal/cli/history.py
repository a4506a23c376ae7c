"""``selfheal history``: change requests in the token's repositories, newest first."""

from __future__ import annotations

import argparse
from typing import Any

from selfheal.cli import EXIT_OK
from selfheal.cli.api_access import add_api_options, call, show
from selfheal.cli.ledger_access import terminal_safe
from selfheal.sdk import History, SelfHealClient


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("history", help="change requests, newest first (API)")
    parser.add_argument("--repo", metavar="OWNER/NAME")
    parser.add_argument("--requester", help="the requester_id given, or api:<token>")
    parser.add_argument("--agent", help="coding agent id")
    parser.add_argument("--state")
    parser.add_argument("--since", type=float, help="created at or after (Unix seconds)")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--offset", type=int, default=0)
    add_api_options(parser)
    parser.set_defaults(handler=run_history)


def render(history: History) -> str:
    lines = []
    for i in history["items"]:
        who = i.get("requester_id") or i["requester"]
        where = f"{i['repository']}#{i['issue_number']}"
        line = f"{i['change_id']}  {i['state']:<17} {where}  {i['change_type']}  p{i['priority']}"
        lines.append(terminal_safe(f"{line}  {who}"))
    if history["next_offset"] is not None:
        lines.append(f"(more: --offset {history['next_offset']})")
    return "\n".join(lines) or "no requests"


def run_history(args: argparse.Namespace) -> int:
    async def action(client: SelfHealClient) -> History:
        return await client.history(repository=args.repo, requester=args.requester,
                                    agent=args.agent, state=args.state, since=args.since,
                                    limit=args.limit, offset=args.offset)  # fmt: skip

    result = call(args, action)
    if isinstance(result, int):
        return result
    show(args, result, render)
    return EXIT_OK
