"""Opening the ledger file for the commands that only read or repair it (``audit``,
``jobs``): no App credentials needed, and a file that is not a ledger is a clear exit 2."""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from selfheal.cli import UsageError
from selfheal.config.settings import db_path_from, environment


def add_db_option(parser: argparse.ArgumentParser) -> None:
    """The ``--db`` option every ledger command takes."""
    parser.add_argument("--db", type=Path, help="ledger file (default: $SELFHEAL_DB)")


def ledger_path(args: argparse.Namespace) -> Path:
    path: Path = args.db if args.db is not None else db_path_from(environment())
    if not path.is_file():
        raise UsageError(f"no ledger at {path} (pass --db or set SELFHEAL_DB)")
    return path


def terminal_safe(text: str) -> str:
    """One line with every control character escaped: a job's last error can quote issue
    text, and ESC sequences or newlines from it must not drive the operator's terminal."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


@contextlib.contextmanager
def reading(args: argparse.Namespace) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the ledger; a file that is not a (readable) selfheal ledger
    is a clear exit 2, not a traceback."""
    from selfheal.ledger import connect

    path = ledger_path(args)
    try:
        conn = connect(path, readonly=True)
    except sqlite3.Error as exc:
        raise UsageError(f"cannot open the ledger {path}: {exc}") from None
    try:
        yield conn
    except sqlite3.Error as exc:
        raise UsageError(
            f"cannot read the ledger {path}: {exc} (is it a selfheal ledger?)"
        ) from None
    finally:
        conn.close()
