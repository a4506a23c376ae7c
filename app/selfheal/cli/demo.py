"""``selfheal demo``: the whole product on this machine, on an embedded GitHub.

It starts the GitHub emulator, a scripted model and the App on 127.0.0.1, plays a four-step
story (a dependency request, a monitored bug fixed by the model coder, the policy blocking
and holding requests, a halt and a resume) and prints each step with its dashboard link.
Then it keeps the web dashboard up until Ctrl-C; with ``--once`` it exits when the story is
done: 0 when every step happened as described, 1 otherwise. See docs/demo.md.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from selfheal.cli import UsageError


def register(subparsers: Any) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run the App on an embedded GitHub and play the story",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "--port",
        type=int,
        default=8000,
        help="the App's port on 127.0.0.1 (default 8000; 0: any free port)",
    )
    demo.add_argument(
        "--once",
        action="store_true",
        help="exit when the story is done (0 only if every step happened)",
    )
    demo.add_argument(
        "--model",
        default=None,
        help="run the model coder on this real model (needs ANTHROPIC_API_KEY); "
        "default: a scripted local Messages API, no key, no network",
    )
    demo.add_argument(
        "--keep",
        action="store_true",
        help="keep the state folder (ledger, repositories, log) after exit",
    )
    demo.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from selfheal.demo.run import DemoError, DemoOptions, main

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    options = DemoOptions(port=args.port, once=args.once, model=args.model, keep=args.keep)
    try:
        return main(options, sys.stdout)
    except DemoError as exc:
        raise UsageError(f"demo: {exc}") from None
