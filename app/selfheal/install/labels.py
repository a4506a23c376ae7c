"""Label migration on a repository: bring its labels to :func:`selfheal.model.labels.label_set`.

It reads the repository's labels, asks the pure :func:`~selfheal.model.labels.plan_labels`
what to change, and carries it out:

- an old spelling of one of selfheal's labels (:data:`~selfheal.model.labels.RENAMED_LABELS`)
  is renamed in place with ``PATCH /repos/{owner}/{repo}/labels/{name}`` (``new_name``), so
  every issue that carries it keeps it under the new name;
- a missing label is created (one created by someone else meanwhile is updated instead);
- one of selfheal's labels with another colour or description is updated;
- an old spelling whose new label exists as well is deleted only when no issue or pull request
  (open or closed) carries it; otherwise it stays, and the result says so;
- labels that are not selfheal's are never touched.

Installation (``installation.created``, ``installation_repositories.added``) and the operator's
``selfheal labels`` run it; ``dry_run`` only reports the plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import gidgethub

from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import split
from selfheal.model.labels import RENAMED_LABELS, LabelSpec, label_set, plan_labels


@dataclass
class Migration:
    """What the migration did (or, on a dry run, would do) on one repository."""

    repository: str
    dry_run: bool = False
    renamed: list[tuple[str, str]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # old spellings that issues still carry

    @property
    def changed(self) -> bool:
        return bool(self.renamed or self.created or self.updated or self.deleted)

    def summary(self) -> str:
        verb = "would change" if self.dry_run else "changed"
        parts = [f"{len(self.renamed)} renamed", f"{len(self.created)} created",
                 f"{len(self.updated)} updated", f"{len(self.deleted)} deleted"]  # fmt: skip
        text = f"{self.repository}: labels {verb}: {', '.join(parts)}"
        if self.kept:
            text += f"; kept (issues carry them): {', '.join(self.kept)}"
        return text


async def existing_labels(gh: GitHubAPI, repo: str) -> list[LabelSpec]:
    owner, name = split(repo)
    return [
        LabelSpec(str(lb["name"]), str(lb.get("color") or ""), str(lb.get("description") or ""))
        async for lb in gh.paginate("issues.list_labels_for_repo", owner=owner, repo=name)
    ]


async def carried(gh: GitHubAPI, repo: str, label: str) -> bool:
    """Whether any issue or pull request, open or closed, carries ``label``."""
    owner, name = split(repo)
    found = await gh.call("issues.list_for_repo", owner=owner, repo=name, labels=label,
                          state="all", per_page=1)  # fmt: skip
    return bool(found)


async def _create(gh: GitHubAPI, repo: str, spec: LabelSpec) -> bool:
    """Create ``spec``; True when created, False when it existed (then it is updated)."""
    owner, name = split(repo)
    try:
        await gh.call("issues.create_label", owner=owner, repo=name, data=spec.as_api())
        return True
    except gidgethub.BadRequest as exc:
        if exc.status_code != 422:
            raise
    await _update(gh, repo, spec.name, spec)
    return False


async def _update(gh: GitHubAPI, repo: str, current: str, spec: LabelSpec) -> None:
    owner, name = split(repo)
    data = {"color": spec.color, "description": spec.description}
    if current != spec.name:
        data["new_name"] = spec.name
    await gh.call("issues.update_label", owner=owner, repo=name, name=current, data=data)


async def _retire(gh: GitHubAPI, repo: str, old: str, result: Migration) -> None:
    if await carried(gh, repo, old):
        result.kept.append(old)
        return
    result.deleted.append(old)
    if not result.dry_run:
        owner, name = split(repo)
        await gh.call("issues.delete_label", owner=owner, repo=name, name=old)


async def migrate_labels(
    gh: GitHubAPI,
    repo: str,
    wanted: Iterable[LabelSpec] | None = None,
    renames: Mapping[str, str] = RENAMED_LABELS,
    *,
    dry_run: bool = False,
) -> Migration:
    """Bring ``repo``'s labels to ``wanted`` (default: every label selfheal uses)."""
    plan = plan_labels(await existing_labels(gh, repo), list(wanted or label_set()), renames)
    result = Migration(repo, dry_run=dry_run)
    for old, spec in plan.rename:
        result.renamed.append((old, spec.name))
        if not dry_run:
            await _update(gh, repo, old, spec)
    for spec in plan.create:
        if dry_run or await _create(gh, repo, spec):
            result.created.append(spec.name)
        else:
            result.updated.append(spec.name)
    for spec in plan.update:
        result.updated.append(spec.name)
        if not dry_run:
            await _update(gh, repo, spec.name, spec)
    for old in plan.leftover:
        await _retire(gh, repo, old, result)
    return result
