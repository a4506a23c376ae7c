"""``selfheal serve``: the GitHub App's webhook server and workers.

It reads the settings (environment and ``.env``), refuses to start when they are incomplete
(exit 2), configures structured logging, composes the features (``selfheal.registry``) with
any ``SELFHEAL_PLUGINS`` modules (each provides a ``FEATURE``), opens the ledger and runs the
aiohttp app until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sqlite3
import sys
from pathlib import Path
from typing import Any

from selfheal.cli import EXIT_OK, UsageError
from selfheal.cli.ledger_access import add_db_option
from selfheal.config.settings import SettingsError, load_settings

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 15.0
# The ledger writer thread and the event loop hand the GIL back and forth on every write;
# a shorter switch interval than the default 5 ms keeps that handoff from adding latency.
SWITCH_INTERVAL = 0.0005


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser("serve", help="run the GitHub App webhook server and workers")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (0 = any)")
    add_db_option(serve)
    serve.add_argument("--env-file", type=Path, default=Path(".env"), help="dotenv file")
    serve.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from selfheal.ledger import Ledger
    from selfheal.registry import WiringError, compose_with_plugins
    from selfheal.runtime.logs import setup_logging
    from selfheal.runtime.server import create_app

    try:
        settings = load_settings(args.env_file)
    except SettingsError as exc:
        raise UsageError(f"cannot start: {exc}") from None
    if args.db is not None:
        settings = dataclasses.replace(settings, db_path=args.db)
    sys.setswitchinterval(SWITCH_INTERVAL)
    setup_logging(settings.log_level, secrets=settings.secret_values())
    try:
        wiring = compose_with_plugins(settings.plugins)
    except ImportError as exc:
        raise UsageError(f"SELFHEAL_PLUGINS: cannot import a plugin: {exc}") from None
    except WiringError as exc:
        raise UsageError(f"SELFHEAL_PLUGINS: {exc}") from None
    try:
        ledger = Ledger.open(settings.db_path)
    except sqlite3.Error as exc:
        raise UsageError(f"cannot open the ledger {settings.db_path}: {exc}") from None
    log.info(
        "starting",
        extra={
            "app_id": settings.app_id,
            "db": str(settings.db_path),
            "api_url": settings.api_url,
            "workers": settings.workers,
            "migrations_applied": ledger.applied_migrations,
            "plugins": list(settings.plugins),
        },
    )
    try:
        app = create_app(settings, ledger=ledger, wiring=wiring)
        web.run_app(
            app,
            host=args.host,
            port=args.port,
            print=lambda _text: log.info(
                "listening", extra={"url": f"http://{args.host}:{args.port}/webhook"}
            ),
            shutdown_timeout=SHUTDOWN_TIMEOUT,
            access_log=None,
        )
    except OSError as exc:  # address in use, permission denied
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    finally:
        ledger.close()
    return EXIT_OK
