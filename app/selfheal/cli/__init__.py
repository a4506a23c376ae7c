"""The ``selfheal`` command.

Each subcommand lives in its own module, which exposes ``register(subparsers)``; the module
adds its parser and sets ``handler`` (a callable taking the parsed namespace and returning an
exit code) with ``parser.set_defaults(handler=...)``. Modules are imported here so that
``selfheal --help`` lists every command.

Exit codes across all commands: 0 success / clean, 1 findings at or above the threshold (or a
check that failed), 2 usage or configuration error. ``code`` adds 3: a limit stopped the coder.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from selfheal import __version__
from selfheal.scanner import ScanInputError

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2

# Modules that provide subcommands, in the order they appear in --help, with the commands each
# registers. Running one command imports only its module, so `selfheal scan` does not pay for
# importing the server, the GitHub client and their dependencies.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "selfheal.cli.scan": ("scan",),
    "selfheal.cli.advisories": ("advisories",),
    "selfheal.cli.review": ("review",),
    "selfheal.cli.code": ("code",),
    "selfheal.cli.policy": ("policy",),
    "selfheal.cli.serve": ("serve",),
    "selfheal.cli.audit": ("audit",),
    "selfheal.cli.jobs": ("jobs",),
    "selfheal.cli.halt": ("halt", "resume"),
    "selfheal.cli.labels": ("labels",),
    "selfheal.cli.setup": ("setup",),
    "selfheal.cli.token": ("token",),
    "selfheal.cli.request": ("request",),
    "selfheal.cli.status": ("status",),
    "selfheal.cli.history": ("history",),
    "selfheal.cli.monitor": ("monitor",),
    "selfheal.cli.report": ("report",),
    "selfheal.cli.demo": ("demo",),
}


class UsageError(Exception):
    """Raised by a command for bad arguments or configuration (exit code 2)."""


def semgrep_engine_setting(env: Mapping[str, str] | None = None) -> str | None:
    """The operator's ``SELFHEAL_SEMGREP_ENGINE`` for a scan run from the command line (None
    when unset). Commands read it here and hand it to the scanner as an option."""
    from selfheal.scanner.semgrep_engine import ENGINE_VARIABLE

    value = (os.environ if env is None else env).get(ENGINE_VARIABLE, "").strip()
    return value or None


def secret_engine_setting(env: Mapping[str, str] | None = None) -> str | None:
    """The operator's ``SELFHEAL_SECRET_ENGINE`` (auto, kingfisher, builtin) for a scan run
    from the command line (None when unset: auto)."""
    from selfheal.scanner.secret_engine import ENGINE_VARIABLE

    value = (os.environ if env is None else env).get(ENGINE_VARIABLE, "").strip()
    return value or None


def secret_engine_cache(env: Mapping[str, str] | None = None) -> Path:
    """Where the secret engine keeps its compiled rules for command-line scans: under
    ``SELFHEAL_HOME``, else ``~/.local/share/selfheal`` (never the engine's own ``~/.cache``)."""
    source = os.environ if env is None else env
    home = source.get("SELFHEAL_HOME", "").strip()
    base = Path(home) if home else Path.home() / ".local" / "share" / "selfheal"
    return base / "cache" / "kingfisher"


def _modules_for(argv: Sequence[str]) -> list[str]:
    """The command modules to import: the one that owns the command named on the command line,
    or all of them (for --help, --version, or a name no module claims)."""
    command = next((a for a in argv if not a.startswith("-")), None)
    for module_name, commands in COMMAND_MODULES.items():
        if command in commands:
            return [module_name]
    return list(COMMAND_MODULES)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="selfheal",
        description="Security gate, scanner and GitHub App for agent-written code changes.",
    )
    parser.add_argument("--version", action="version", version=f"selfheal {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in _modules_for(argv):
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(arguments)
    args = parser.parse_args(arguments)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return handler(args)
    except (UsageError, ScanInputError) as exc:
        print(f"selfheal: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("selfheal: interrupted", file=sys.stderr)
        return 130
