"""``selfheal token create|list|revoke``: the API's bearer tokens, on the ledger file.

``create`` prints the token's value once; the ledger keeps only its hash, so nothing can
show it again (revoke it and create another when it is lost). Creating and revoking are
audited with the operator as the actor; the value never is.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import datetime
from typing import Any

from selfheal.cli import EXIT_OK, UsageError
from selfheal.cli.ledger_access import add_db_option, terminal_safe
from selfheal.config.settings import db_path_from, environment

SCOPES = ("request", "approve", "halt", "read", "scan", "report")
DURATION = re.compile(r"([0-9]{1,6})([mhd])")
UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}


def register(subparsers: Any) -> None:
    token = subparsers.add_parser("token", help="create, list or revoke API tokens")
    sub = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create a token and print it (once)")
    create.add_argument("name", help="the token's name (audited on every call)")
    create.add_argument("--scope", action="append", choices=SCOPES, required=True,
                        help="repeat for several scopes")  # fmt: skip
    create.add_argument("--repo", action="append", required=True, metavar="OWNER/NAME",
                        help="a repository the token covers; repeat for several")  # fmt: skip
    create.add_argument("--github-login", metavar="LOGIN",
                        help="the GitHub identity approvals through the API act as")  # fmt: skip
    create.add_argument("--expires-in", metavar="DURATION", help="e.g. 90m, 12h, 30d")
    create.add_argument("--format", choices=("text", "json"), default="text")
    add_db_option(create)
    create.set_defaults(handler=run_create)
    listing = sub.add_parser("list", help="list tokens (never their values)")
    listing.add_argument("--format", choices=("text", "json"), default="text")
    add_db_option(listing)
    listing.set_defaults(handler=run_list)
    revoke = sub.add_parser("revoke", help="revoke a token by name")
    revoke.add_argument("name")
    add_db_option(revoke)
    revoke.set_defaults(handler=run_revoke)


def expiry(raw: str | None, now: float) -> float | None:
    if raw is None:
        return None
    found = DURATION.fullmatch(raw.strip())
    if found is None or int(found.group(1)) == 0:
        raise UsageError(f"--expires-in must look like 90m, 12h or 30d, got {raw!r}")
    return now + int(found.group(1)) * UNIT_SECONDS[found.group(2)]


def _ledger(args: argparse.Namespace) -> Any:
    from selfheal.ledger import Ledger

    path = args.db if args.db is not None else db_path_from(environment())
    try:
        return Ledger.open(path)
    except Exception as exc:
        raise UsageError(f"cannot open the ledger {path}: {exc}") from None


def run_create(args: argparse.Namespace) -> int:
    from selfheal.api import TokenError
    from selfheal.api.tokens import create
    from selfheal.ledger import audit

    now = time.time()
    until = expiry(args.expires_in, now)

    def write(conn: Any) -> Any:
        made = create(conn, args.name, scopes=args.scope, repositories=args.repo,
                      github_login=args.github_login, expires_at=until, now=now)  # fmt: skip
        audit.append(conn, "operator", "api.token_created",
                     details={"token": args.name, "scopes": list(made[0].scopes),
                              "repositories": list(made[0].repositories)})  # fmt: skip
        return made

    with _ledger(args) as ledger:
        try:
            token, value = ledger.write(write)
        except TokenError as exc:
            raise UsageError(str(exc)) from None
    if args.format == "json":
        print(json.dumps({"name": token.name, "token": value, "expires_at": token.expires_at}))
    else:
        print(value)
        covers = f"{', '.join(token.scopes)} on {', '.join(token.repositories)}"
        note = "shown once: store it now; the ledger keeps only its hash"
        print(f"({note}) {token.name}: {covers}", file=sys.stderr)
    return EXIT_OK


def _when(at: float | None) -> str:
    return "-" if at is None else datetime.fromtimestamp(at).astimezone().isoformat("T", "seconds")


def run_list(args: argparse.Namespace) -> int:
    from selfheal.api.tokens import list_tokens

    with _ledger(args) as ledger:
        found = ledger.read(list_tokens)
    now = time.time()
    if args.format == "json":
        rows = [{"name": t.name, "prefix": t.prefix, "scopes": list(t.scopes),
                 "repositories": list(t.repositories), "github_login": t.github_login,
                 "created_at": t.created_at, "expires_at": t.expires_at,
                 "revoked_at": t.revoked_at, "last_used_at": t.last_used_at,
                 "active": t.active(now)} for t in found]  # fmt: skip
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for t in found:
        state = "active" if t.active(now) else ("revoked" if t.revoked_at else "expired")
        line = (f"{t.name}  {t.prefix}…  {state}  scopes={','.join(t.scopes)}  "
                f"repos={','.join(t.repositories)}  login={t.github_login or '-'}  "
                f"expires={_when(t.expires_at)}  last_used={_when(t.last_used_at)}")  # fmt: skip
        print(terminal_safe(line))
    return EXIT_OK


def run_revoke(args: argparse.Namespace) -> int:
    from selfheal.api import TokenError
    from selfheal.api.tokens import revoke
    from selfheal.ledger import audit

    def write(conn: Any) -> Any:
        token = revoke(conn, args.name)
        audit.append(conn, "operator", "api.token_revoked", details={"token": args.name})
        return token

    with _ledger(args) as ledger:
        try:
            ledger.write(write)
        except TokenError as exc:
            raise UsageError(str(exc)) from None
    print(f"revoked {args.name}")
    return EXIT_OK
