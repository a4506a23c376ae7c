"""``selfheal status ID``: a request's state, cost, links, gate and timeline, from the API."""

from __future__ import annotations

import argparse
from typing import Any

from selfheal.cli import EXIT_OK
from selfheal.cli.api_access import add_api_options, call, show
from selfheal.cli.ledger_access import terminal_safe
from selfheal.sdk import SelfHealClient, Status


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("status", help="a change request's status (through the API)")
    parser.add_argument("change_id", metavar="ID", help="the request id (req_...)")
    add_api_options(parser)
    parser.set_defaults(handler=run_status)


def render(status: Status) -> str:
    gate = status.get("gate") or {}
    lines = [
        f"{status['change_id']}  {status['state']}  {status['repository']}#"
        f"{status['issue_number']}",
        f"cost ${status['cost_usd']:.2f} of ${status['budget_usd']:.2f}",
        f"issue {status['issue_url']}",
        f"pr {status.get('pr_url') or '-'}  branch {status.get('branch') or '-'}",
        f"gate {gate.get('conclusion') or gate.get('status') or '-'}  risk "
        f"{gate.get('risk') or '-'}",
    ]
    lines += [f"  {e['at']}  {e['actor']}  {e['action']}" for e in status["timeline"]]
    return terminal_safe("\n".join(lines)).replace("\\n", "\n")


def run_status(args: argparse.Namespace) -> int:
    async def action(client: SelfHealClient) -> Status:
        return await client.get_code_change_status(args.change_id)

    result = call(args, action)
    if isinstance(result, int):
        return result
    show(args, result, render)
    return EXIT_OK
