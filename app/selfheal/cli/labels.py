"""``selfheal labels``: migrate selfheal's labels on installed repositories.

Installing the App (or adding repositories to an installation) migrates the labels of those
repositories; this command runs the same migration by hand, for repositories installed before
a release that renamed or restyled labels: ``--repo OWNER/NAME`` for one, ``--all`` for every
repository of every installation (the App's credentials). ``--dry-run`` prints the plan and
changes nothing. Exit 0 when done, 1 when GitHub refused a call, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
from typing import Any

import aiohttp

from selfheal.cli import EXIT_OK
from selfheal.cli.halt import _clients, _credentials, _repo, _repo_client, _run


def register(subparsers: Any) -> None:
    labels = subparsers.add_parser(
        "labels", help="migrate selfheal's labels on installed repositories"
    )
    target = labels.add_mutually_exclusive_group(required=True)
    target.add_argument("--repo", metavar="OWNER/NAME")
    target.add_argument("--all", action="store_true", help="every repository of every install")
    labels.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    _credentials(labels)
    labels.set_defaults(handler=run_labels)


async def _labels(args: argparse.Namespace) -> int:
    from selfheal.halt import installation_repos
    from selfheal.install import migrate_labels

    async with aiohttp.ClientSession() as session:
        if args.all:
            _, auth = await _clients(args, session)
            assert auth is not None  # --all never takes a token: the App or a usage error
            count = 0
            async for gh, repo in installation_repos(auth.app_client(), auth):
                print((await migrate_labels(gh, repo, dry_run=args.dry_run)).summary())
                count += 1
            print(f"{count} repositories")
            return EXIT_OK
        repo = _repo(args.repo)
        gh = await _repo_client(args, session, repo)
        done = await migrate_labels(gh, repo, dry_run=args.dry_run)
    print(done.summary())
    for old, new in done.renamed:
        print(f"  rename {old} -> {new}")
    for name in done.created:
        print(f"  create {name}")
    for name in done.updated:
        print(f"  update {name}")
    for name in done.deleted:
        print(f"  delete {name}")
    return EXIT_OK


def run_labels(args: argparse.Namespace) -> int:
    return _run(_labels, args)
