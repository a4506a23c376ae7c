"""What the API client commands (``request``, ``status``, ``history``) share: the server's URL
and the token (``--url``/``--token`` or ``SELFHEAL_API_URL``/``SELFHEAL_API_TOKEN``), running
an SDK call, and the exit codes: 0 done, 1 the server refused (401, 403, 404, 409, 429) or
failed, 2 bad input (a usage error, or a 400/422 naming the field)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from selfheal.cli import EXIT_FINDINGS, EXIT_USAGE, UsageError
from selfheal.cli.ledger_access import terminal_safe
from selfheal.sdk import SelfHealClient, SelfHealError, ValidationError

T = TypeVar("T")


def add_api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="the selfheal server (default: $SELFHEAL_API_URL)")
    parser.add_argument("--token", help="an API token (default: $SELFHEAL_API_TOKEN)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def _client(args: argparse.Namespace) -> SelfHealClient:
    url = args.url or os.environ.get("SELFHEAL_API_URL", "").strip()
    token = args.token or os.environ.get("SELFHEAL_API_TOKEN", "").strip()
    if not url:
        raise UsageError("no server: pass --url or set SELFHEAL_API_URL")
    if not token:
        raise UsageError("no token: pass --token or set SELFHEAL_API_TOKEN")
    return SelfHealClient(url, token, repository=getattr(args, "repo", None))


def call(args: argparse.Namespace, action: Callable[[SelfHealClient], Awaitable[T]]) -> T | int:
    """The result of ``action``, or the exit code after printing why the server refused."""

    async def run() -> T:
        async with _client(args) as client:
            return await action(client)

    try:
        return asyncio.run(run())
    except ValidationError as exc:
        print(f"selfheal: refused: {terminal_safe(exc.message)}", file=sys.stderr)
        return EXIT_USAGE
    except SelfHealError as exc:
        print(f"selfheal: {terminal_safe(str(exc))}", file=sys.stderr)
        return EXIT_FINDINGS


def show(args: argparse.Namespace, data: Any, text: Callable[[Any], str]) -> None:
    if args.format == "json":
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(text(data))
