"""Operator actions behind ``selfheal halt`` / ``selfheal resume`` (async, over a GitHubClient).

``halt`` puts the repository's lock label on the "selfheal dashboard" issue (created when
missing and found again by a hidden marker in its body) and, with a reason, comments it there.
``resume`` removes the label from every open issue that carries it, so the bot really resumes.
The running server notices both through the ``issues`` webhooks (see app.handlers.halt).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import gidgethub

from selfheal.github.auth import AppAuth
from selfheal.github.dashboard_issue import ensure_dashboard, find_dashboard
from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import split
from selfheal.halt.state import halt_label, search_halting


async def halt_repo(gh: GitHubAPI, repo: str, reason: str | None = None) -> tuple[int, str]:
    """Label the dashboard issue; returns (issue number, label)."""
    label = await halt_label(gh, repo)
    number = await ensure_dashboard(gh, repo)
    owner, name = split(repo)
    await gh.call("issues.add_labels", owner=owner, repo=name, issue_number=number,
                  data={"labels": [label]})  # fmt: skip
    if reason:
        body = f"⛔ Halted with `selfheal halt`: {reason}"
        await gh.call("issues.create_comment", owner=owner, repo=name, issue_number=number,
                      data={"body": body})  # fmt: skip
    return number, label


async def resume_repo(gh: GitHubAPI, repo: str) -> tuple[list[int], str]:
    """Remove the lock label from every open issue carrying it; returns (issues, label)."""
    label = await halt_label(gh, repo)
    numbers = set(await search_halting(gh, repo, [label]))
    dashboard = await find_dashboard(gh, repo)
    if dashboard is not None:
        numbers.add(dashboard)
    owner, name = split(repo)
    removed = []
    for number in sorted(numbers):
        try:
            await gh.call("issues.remove_label", owner=owner, repo=name, issue_number=number,
                          name=label)  # fmt: skip
            removed.append(number)
        except gidgethub.BadRequest as exc:
            if exc.status_code != 404:  # 404: that issue did not carry it
                raise
    return removed, label


async def installation_repos(
    app_client: GitHubAPI, auth: AppAuth
) -> AsyncIterator[tuple[GitHubAPI, str]]:
    """(installation client, repository) for every repository of every installation."""
    async for inst in app_client.paginate("apps.list_installations"):
        gh = await auth.installation_client(int(inst["id"]))
        async for repo in gh.paginate("apps.list_repos_accessible_to_installation"):
            yield gh, str(repo["full_name"])
