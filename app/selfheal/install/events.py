"""On ``installation.created`` and ``installation_repositories.added``: migrate selfheal's
labels on every repository (:mod:`selfheal.install.labels`): old spellings renamed, missing
labels created, colours and descriptions brought up to date, idempotently."""

from __future__ import annotations

from typing import Any

from gidgethub import routing
from gidgethub.sansio import Event

from selfheal.github.protocol import GitHubAPI
from selfheal.install.labels import migrate_labels
from selfheal.model.labels import LabelSpec
from selfheal.runtime.context import JobContext

router = routing.Router()


async def ensure_labels(gh: GitHubAPI, repo: str, labels: list[LabelSpec] | None = None) -> int:
    """Migrate the labels of ``repo``; returns how many were created."""
    return len((await migrate_labels(gh, repo, labels)).created)


async def _label_repos(ctx: JobContext, repos: list[dict[str, Any]]) -> None:
    gh = await ctx.github()
    for item in repos:
        repo = str(item.get("full_name") or "")
        if "/" not in repo:
            continue
        ctx.raise_if_cancelled()
        done = await migrate_labels(gh, repo)
        details = {"repository": repo, "created": len(done.created), "updated": done.updated,
                   "renamed": done.renamed, "deleted": done.deleted, "kept": done.kept}  # fmt: skip
        await ctx.audit("selfheal", "labels.ensured", details)


@router.register("installation", action="created")
async def on_installation(event: Event, ctx: JobContext) -> None:
    await _label_repos(ctx, list(event.data.get("repositories") or []))


@router.register("installation_repositories", action="added")
async def on_repositories_added(event: Event, ctx: JobContext) -> None:
    await _label_repos(ctx, list(event.data.get("repositories_added") or []))
