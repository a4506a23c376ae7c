"""``selfheal setup``: register the GitHub App with GitHub's manifest flow.

It serves a local page that posts the App manifest to GitHub; GitHub redirects back with a
code, which is exchanged for the App's id, key and webhook secret, written to ``.env`` (see
:mod:`selfheal.github.manifest`).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from selfheal.cli import EXIT_OK
from selfheal.github.client import api_url_from_env

SETUP_WAIT = 3600.0


def register(subparsers: Any) -> None:
    setup = subparsers.add_parser("setup", help="register the GitHub App (manifest flow)")
    setup.add_argument("--host", default="127.0.0.1")
    setup.add_argument("--port", type=int, default=3000)
    setup.add_argument("--github-url", default="https://github.com")
    setup.add_argument("--api-url", help="REST API URL (default: $GITHUB_API_URL or github.com)")
    setup.add_argument("--org", help="register the App under this organization")
    setup.add_argument("--name", default="selfheal", help="the App's name on GitHub")
    setup.add_argument(
        "--webhook-url",
        help="where GitHub sends webhooks, e.g. a relay channel such as https://smee.io/abc "
        "(default: http://HOST:8000/webhook, reachable only from this machine)",
    )
    setup.add_argument("--env-file", type=Path, default=Path(".env"))
    setup.set_defaults(handler=run_setup)


async def serve_setup(args: argparse.Namespace) -> dict[str, str]:
    from aiohttp import web

    from selfheal.github.manifest import DONE, create_setup_app

    public = f"http://{args.host}:{args.port}"
    app = create_setup_app(
        public_url=public,
        webhook_url=args.webhook_url or f"http://{args.host}:8000/webhook",
        github_url=args.github_url,
        api_url=args.api_url or api_url_from_env(),
        org=args.org,
        name=args.name,
        env_file=args.env_file,
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, args.host, args.port).start()
    print(f"Open {public}/ in a browser to register the GitHub App.", flush=True)
    try:
        return await asyncio.wait_for(app[DONE], SETUP_WAIT)
    finally:
        await runner.cleanup()


def run_setup(args: argparse.Namespace) -> int:
    saved = asyncio.run(serve_setup(args))
    print(f"GitHub App {saved['name']} (id {saved['id']}) registered; settings written to "
          f"{args.env_file} and the key to {saved['key']}.")  # fmt: skip
    return EXIT_OK
