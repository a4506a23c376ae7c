"""``selfheal request``: ask a selfheal server for a code change through its API.

The request becomes an issue filed by the App, and goes through the same lifecycle, policy,
halt and budget as any other. ``--wait`` polls its status until it settles.
"""

from __future__ import annotations

import argparse
from typing import Any

from selfheal.cli import EXIT_OK
from selfheal.cli.api_access import add_api_options, call, show
from selfheal.cli.ledger_access import terminal_safe
from selfheal.sdk import FINAL_STATES, SelfHealClient

TYPES = ("fix-bug", "feature", "refactor", "security", "dependency", "self-improvement")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("request", help="request a code change through the API")
    parser.add_argument("description", help="what should change, and why")
    parser.add_argument("--type", dest="change_type", default="fix-bug",
                        choices=TYPES + tuple(t.replace("-", "_") for t in TYPES))  # fmt: skip
    parser.add_argument("--target", action="append", default=[], metavar="PATH",
                        help="a file to change; repeat for several")  # fmt: skip
    parser.add_argument("--priority", type=int, default=5, help="1 (low) to 10 (urgent)")
    parser.add_argument("--agent", help="one of the operator's coding agents")
    parser.add_argument("--repo", metavar="OWNER/NAME", help="when the token covers several")
    parser.add_argument("--requester-id", help="on whose behalf (recorded with the token)")
    parser.add_argument("--wait", action="store_true", help="wait until the request settles")
    parser.add_argument("--timeout", type=float, default=600.0, help="for --wait, in seconds")
    add_api_options(parser)
    parser.set_defaults(handler=run_request)


def run_request(args: argparse.Namespace) -> int:
    async def action(client: SelfHealClient) -> dict[str, Any]:
        created = await client.request_change(
            args.description, change_type=args.change_type, target_files=args.target,
            priority=args.priority, agent_id=args.agent, requester_id=args.requester_id,
        )  # fmt: skip
        if not args.wait:
            return dict(created)
        status = await client.wait(created["change_id"], FINAL_STATES, timeout=args.timeout)
        return dict(status)

    result = call(args, action)
    if isinstance(result, int):
        return result
    show(args, result, lambda r: terminal_safe(
        f"{r['change_id']} {r['state']} {r.get('issue_url', '')}"))  # fmt: skip
    return EXIT_OK
