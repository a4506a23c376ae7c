"""State the bot keeps on an issue or PR: one comment it edits in place, and one label of a
family (``selfheal:state/...``) at a time.

The bot's comment is found by a hidden marker AND by its author: anyone can post a comment
that contains the marker, and the bot must never adopt (or try to edit) such a comment.
Both helpers are idempotent, so a retried job or a redelivered event changes nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import gidgethub

from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import split

MAX_COMMENT_CHARS = 65_536  # GitHub's limit for an issue comment body


def marker(name: str) -> str:
    """The hidden marker of the bot's comment ``name`` (e.g. ``status``)."""
    return f"<!-- selfheal:{name} -->"


def _fit(body: str) -> str:
    if len(body) <= MAX_COMMENT_CHARS:
        return body
    cut = "\n\n… (cut to GitHub's comment size limit)"
    return body[: MAX_COMMENT_CHARS - len(cut)] + cut


async def find_marked_comment(
    gh: GitHubAPI, repo: str, number: int, mark: str, bot: str
) -> dict[str, Any] | None:
    """The bot's comment carrying ``mark`` on issue/PR ``number``, if there is one."""
    owner, name = split(repo)
    async for comment in gh.paginate(
        "issues.list_comments", owner=owner, repo=name, issue_number=number
    ):
        author = str((comment.get("user") or {}).get("login") or "")
        if author.lower() == bot.lower() and mark in str(comment.get("body") or ""):
            return dict(comment)
    return None


async def upsert_marked_comment(
    gh: GitHubAPI, repo: str, number: int, mark: str, body: str, bot: str
) -> int:
    """Create the bot's marked comment, or edit it in place when its text changed; returns
    the comment's id. ``body`` gets the marker on its first line."""
    text = _fit(f"{mark}\n{body}")
    owner, name = split(repo)
    found = await find_marked_comment(gh, repo, number, mark, bot)
    if found is None:
        created = await gh.call("issues.create_comment", owner=owner, repo=name,
                                issue_number=number, data={"body": text})  # fmt: skip
        return int(created["id"])
    if found.get("body") != text:
        await gh.call("issues.update_comment", owner=owner, repo=name,
                      comment_id=int(found["id"]), data={"body": text})  # fmt: skip
    return int(found["id"])


def _names(labels: Iterable[Any]) -> list[str]:
    return [str(lb.get("name", "") if isinstance(lb, dict) else lb) for lb in labels]


async def set_family_label(
    gh: GitHubAPI, repo: str, number: int, current: Iterable[Any], prefix: str, wanted: str
) -> bool:
    """Make ``wanted`` the only label starting with ``prefix`` on ``number``, given its
    ``current`` labels (names or GitHub label objects); returns whether anything changed."""
    if not wanted.startswith(prefix):
        raise ValueError(f"{wanted!r} is not a {prefix}... label")
    owner, name = split(repo)
    names = _names(current)
    changed = False
    for stale in names:
        if stale.startswith(prefix) and stale.lower() != wanted.lower():
            try:
                await gh.call("issues.remove_label", owner=owner, repo=name,
                              issue_number=number, name=stale)  # fmt: skip
            except gidgethub.BadRequest as exc:
                if exc.status_code != 404:  # already gone (a retry, or a person removed it)
                    raise
            changed = True
    if not any(n.lower() == wanted.lower() for n in names):
        await gh.call("issues.add_labels", owner=owner, repo=name, issue_number=number,
                      data={"labels": [wanted]})  # fmt: skip
        changed = True
    return changed
