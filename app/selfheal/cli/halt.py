"""``selfheal halt`` and ``selfheal resume``: the operator's lock label.

halt/resume act with a token (``--token`` or ``GITHUB_TOKEN``: a person with write access, so
the server accepts the toggle) or, without one, as the App from the settings in the
environment / ``.env`` (the App's installation on the repository). ``halt --all`` needs the App:
it halts every repository of every installation.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import gidgethub

from selfheal.cli import EXIT_OK, UsageError
from selfheal.config.settings import SettingsError, load_settings
from selfheal.github.auth import AppAuth
from selfheal.github.client import GitHubClient, api_url_from_env
from selfheal.github.protocol import GitHubAPI


def register(subparsers: Any) -> None:
    halt = subparsers.add_parser("halt", help="halt selfheal on a repository (the lock label)")
    target = halt.add_mutually_exclusive_group(required=True)
    target.add_argument("--repo", metavar="OWNER/NAME")
    target.add_argument("--all", action="store_true", help="every repository of every install")
    halt.add_argument("--reason", help="comment this on the dashboard issue")
    _credentials(halt)
    halt.set_defaults(handler=run_halt)

    resume = subparsers.add_parser("resume", help="remove the lock label from a repository")
    resume.add_argument("--repo", metavar="OWNER/NAME", required=True)
    _credentials(resume)
    resume.set_defaults(handler=run_resume)


def _credentials(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", help="act with this token instead (default: $GITHUB_TOKEN)")
    parser.add_argument("--api-url", help="REST API URL (default: $GITHUB_API_URL or github.com)")
    parser.add_argument("--env-file", type=Path, default=Path(".env"), help="App settings file")


def _repo(value: str) -> str:
    parts = value.split("/")
    if len(parts) != 2 or not all(parts):
        raise UsageError(f"--repo must look like OWNER/NAME, got {value!r}")
    return value


async def _clients(
    args: argparse.Namespace, session: aiohttp.ClientSession
) -> tuple[GitHubClient | None, AppAuth | None]:
    """(token client or None, App auth or None)."""
    token = args.token or os.environ.get("GITHUB_TOKEN", "").strip()
    api_url = args.api_url or api_url_from_env()
    if token and not getattr(args, "all", False):
        return GitHubClient.for_token(token, session=session, base_url=api_url), None
    try:
        settings = load_settings(args.env_file)
    except SettingsError as exc:
        raise UsageError(f"no token and no App credentials: {exc}") from None
    base = args.api_url or settings.api_url
    auth = AppAuth(settings.app_id, settings.private_key.get(), session=session, base_url=base)
    return None, auth


async def _repo_client(
    args: argparse.Namespace, session: aiohttp.ClientSession, repo: str
) -> GitHubAPI:
    client, auth = await _clients(args, session)
    if client is not None:
        return client
    assert auth is not None  # no token: _clients gave the App's credentials or refused
    owner, name = repo.split("/")
    found = await auth.app_client().call("apps.get_repo_installation", owner=owner, repo=name)
    return await auth.installation_client(int(found["id"]))


async def _halt(args: argparse.Namespace) -> int:
    from selfheal.halt import halt_repo, installation_repos

    async with aiohttp.ClientSession() as session:
        if args.all:
            _, auth = await _clients(args, session)
            assert auth is not None  # --all never takes a token: the App or a usage error
            count = 0
            async for gh, repo in installation_repos(auth.app_client(), auth):
                number, label = await halt_repo(gh, repo, args.reason)
                print(f"halted {repo}: label {label!r} on issue #{number}")
                count += 1
            print(f"{count} repositories halted")
            return EXIT_OK
        repo = _repo(args.repo)
        gh = await _repo_client(args, session, repo)
        number, label = await halt_repo(gh, repo, args.reason)
    print(f"halted {repo}: label {label!r} on issue #{number}")
    return EXIT_OK


async def _resume(args: argparse.Namespace) -> int:
    from selfheal.halt import resume_repo

    repo = _repo(args.repo)
    async with aiohttp.ClientSession() as session:
        gh = await _repo_client(args, session, repo)
        removed, label = await resume_repo(gh, repo)
    where = ", ".join(f"#{n}" for n in removed) or "no open issue carried it"
    print(f"resumed {repo}: removed {label!r} ({where})")
    return EXIT_OK


def _run(
    command: Callable[[argparse.Namespace], Coroutine[Any, Any, int]], args: argparse.Namespace
) -> int:
    """Run an async command; GitHub refusing it is exit 1 with GitHub's message."""
    try:
        return asyncio.run(command(args))
    except gidgethub.GitHubException as exc:
        print(f"GitHub refused: {exc}", file=sys.stderr)
        return 1


def run_halt(args: argparse.Namespace) -> int:
    return _run(_halt, args)


def run_resume(args: argparse.Namespace) -> int:
    return _run(_resume, args)
