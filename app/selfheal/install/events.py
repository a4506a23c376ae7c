"""On ``installation.created`` and ``installation_repositories.added``: create selfheal's
labels (colours and descriptions) in every repository, idempotently: an existing label
(422 ``already_exists``) is updated to the current colour and description instead."""

from __future__ import annotations

from typing import Any

import gidgethub
from gidgethub import routing
from gidgethub.sansio import Event

from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import split
from selfheal.model.labels import LabelSpec, label_set
from selfheal.runtime.context import JobContext

router = routing.Router()


async def ensure_labels(gh: GitHubAPI, repo: str, labels: list[LabelSpec] | None = None) -> int:
    """Create or update every label; returns how many were created."""
    owner, name = split(repo)
    created = 0
    for spec in labels or label_set():
        try:
            await gh.call("issues.create_label", owner=owner, repo=name, data=spec.as_api())
            created += 1
        except gidgethub.BadRequest as exc:
            if exc.status_code != 422:
                raise
            await gh.call("issues.update_label", owner=owner, repo=name, name=spec.name,
                          data={"color": spec.color, "description": spec.description})  # fmt: skip
    return created


async def _label_repos(ctx: JobContext, repos: list[dict[str, Any]]) -> None:
    gh = await ctx.github()
    for item in repos:
        repo = str(item.get("full_name") or "")
        if "/" not in repo:
            continue
        ctx.raise_if_cancelled()
        created = await ensure_labels(gh, repo)
        await ctx.audit("selfheal", "labels.ensured", {"repository": repo, "created": created})


@router.register("installation", action="created")
async def on_installation(event: Event, ctx: JobContext) -> None:
    await _label_repos(ctx, list(event.data.get("repositories") or []))


@router.register("installation_repositories", action="added")
async def on_repositories_added(event: Event, ctx: JobContext) -> None:
    await _label_repos(ctx, list(event.data.get("repositories_added") or []))
