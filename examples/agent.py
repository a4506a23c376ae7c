"""A runnable agent that uses selfheal through the SDK.

It does some work; when the work fails it reports the failure to selfheal's monitor, and it
asks for an improvement to its own source file. An orchestrator then asks a named coding
agent for a change and follows its status.

    export SELFHEAL_API_URL=http://127.0.0.1:8000 SELFHEAL_API_TOKEN=shk_...
    python examples/agent.py --repo acme/widgets

The token needs the request, read and report scopes on the repository. Run it from the root
of a checkout of that repository, so that the agent's own file is named relative to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from selfheal.sdk import BaseAgent, SelfHealClient, SelfHealError


class DataProcessor(BaseAgent):
    """An agent of the multi-agent system, with selfheal's methods mixed in."""

    agent_id = "data_processor"

    def __init__(self, client: SelfHealClient) -> None:
        self.selfheal = client
        self.cache: dict[str, int] = {}

    async def do_something(self) -> int:
        return self.cache["rows"]  # fails: nothing has filled the cache yet

    async def process(self) -> None:
        try:
            await self.do_something()
        except Exception as exc:
            recorded = await self.report_bug_for_fix(exc, affected_files=["examples/agent.py"])
            print(f"reported the failure to the monitor ({recorded} event)")
        created = await self.request_self_improvement(
            improvement_description="Add caching to reduce API calls", priority=3
        )
        print(f"self-improvement requested: {created['change_id']} ({created['issue_url']})")


async def orchestrate(client: SelfHealClient) -> None:
    told = await client.tell_agent_to_code(
        agent_id="coding_agent",
        coding_task="Add input validation to all API endpoints",
        priority=6,
    )
    print(f"coding agent asked: {told['change_id']}")
    status = await client.get_code_change_status(told["change_id"])
    summary = {"state": status["state"], "cost_usd": status["cost_usd"],
               "budget_usd": status["budget_usd"]}  # fmt: skip
    print(json.dumps(summary))


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default=os.environ.get("SELFHEAL_API_URL", ""))
    parser.add_argument("--repo", help="when the token covers several repositories")
    args = parser.parse_args()
    token = os.environ.get("SELFHEAL_API_TOKEN", "")
    if not args.url or not token:
        print("set SELFHEAL_API_URL and SELFHEAL_API_TOKEN", file=sys.stderr)
        return 2
    async with SelfHealClient(args.url, token, repository=args.repo) as client:
        try:
            await DataProcessor(client).process()
            await orchestrate(client)
        except SelfHealError as exc:
            print(f"selfheal refused: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
