"""Halt: the repository lock label.

A repository is halted while any OPEN issue carries the lock label (``halt_label`` in
``.github/selfheal.yml``, default ``selfheal:halt``). The state comes from GitHub (a search
``repo:O/R is:issue is:open label:"..."``) and is cached in the ledger (effect record
``halt:<repo>``), kept current by the ``issues`` events (opened, labeled, unlabeled, closed,
reopened, deleted, transferred) so that search-index lag never matters.

Every toggle is checked: when someone without write permission adds or removes the label (or
closes/reopens an issue carrying it), the bot reverts it and audits ``halt.toggle_reverted``.
The bot's own toggles are trusted. When the halt starts, running jobs of the repository are
cancelled (the worker's cancel hook) and the gate re-runs on the bot's open PRs, concluding
``failure`` "halted"; when the last label goes, the gate re-runs on them again.

Other handlers call :func:`is_halted` before starting work.
"""

from __future__ import annotations

from typing import Any

import gidgethub
from gidgethub import routing
from gidgethub.sansio import Event

from selfheal.gate.output import HALTED_TITLE
from selfheal.github.repo import (
    bot_login,
    can_write,
    is_bot_pr,
    repo_config,
    split,
)
from selfheal.ledger import effects, gates
from selfheal.model.labels import HALT_LABEL
from selfheal.model.repo_config import RepoConfig
from selfheal.runtime.worker import JobContext

router = routing.Router()

KIND = "halt_state"
ACTIONS = ("opened", "labeled", "unlabeled", "closed", "reopened", "deleted", "transferred")
ADDS = ("opened", "labeled", "reopened")
TRUSTED = ("deleted", "transferred")  # only people with admin/write can do these
REASON = "repository halted"


def _key(repo: str) -> str:
    return f"halt:{repo.lower()}"


def search_query(repo: str, label: str) -> str:
    return f'repo:{repo} is:issue is:open label:"{label}"'


async def halt_label(gh: Any, repo: str, default_branch: str | None = None) -> str:
    """The configured lock label (the default when the config file is broken: fail closed
    towards halting on the well-known label)."""
    config = await repo_config(gh, repo, default_branch)
    return config.halt_label if isinstance(config, RepoConfig) else HALT_LABEL


def _cached(conn: Any, repo: str, label: str) -> set[int] | None:
    """The cached halting issues, or None when nothing is cached for this label."""
    cached = effects.get_effect(conn, _key(repo))
    if cached is not None and cached.data.get("label") == label:
        return {int(n) for n in cached.data.get("issues", [])}
    return None


def _save(conn: Any, repo: str, label: str, issues: set[int]) -> None:
    effects.forget_effect(conn, _key(repo))
    data = {"label": label, "issues": sorted(issues)}
    effects.record_effect(conn, _key(repo), KIND, None, data=data)


async def _store(ctx: JobContext, repo: str, label: str, issues: set[int]) -> None:
    await ctx.ledger.awrite(lambda c: _save(c, repo, label, issues))


def _transition(
    conn: Any,
    repo: str,
    label: str,
    fallback: set[int] | None,
    change: tuple[int, bool] | None = None,
) -> tuple[set[int], set[int]]:
    """Apply one issue's change to the cached set in ONE writer transaction (two workers
    handling two labels at once cannot lose either); returns (before, after)."""
    before = _cached(conn, repo, label)
    if before is None:
        before = set(fallback or ())
    after = set(before)
    if change is not None:
        number, add = change
        if add:
            after.add(number)
        else:
            after.discard(number)
    _save(conn, repo, label, after)
    return before, after


async def search_halting(gh: Any, repo: str, label: str) -> set[int]:
    found: set[int] = set()
    async for item in gh.paginate("search.issues_and_pull_requests", q=search_query(repo, label)):
        found.add(int(item["number"]))
    return found


async def cached_issues(ctx: JobContext, repo: str, label: str) -> set[int] | None:
    return await ctx.ledger.aread(lambda c: _cached(c, repo, label))


async def halting_issues(ctx: JobContext, gh: Any, repo: str, label: str) -> set[int]:
    """Open issues carrying ``label``: the ledger cache, else GitHub's search (then cached)."""
    cached = await cached_issues(ctx, repo, label)
    if cached is not None:
        return cached
    issues = await search_halting(gh, repo, label)
    await _store(ctx, repo, label, issues)
    return issues


async def is_halted(
    ctx: JobContext, repo: str, *, gh: Any = None, label: str | None = None
) -> bool:
    """Whether ``repo`` is halted. Job handlers call this before starting anything."""
    gh = gh if gh is not None else await ctx.github()
    label = label if label is not None else await halt_label(gh, repo)
    return bool(await halting_issues(ctx, gh, repo, label))


def stop_running_jobs(ctx: JobContext, repo: str) -> int:
    """Cancel the repository's running jobs except the current one (which is handling the
    halt itself); they stop within the worker's cancel grace period."""
    return ctx.worker.cancel_repository(repo, REASON, spare=ctx.job.id)


async def _was_halted(ctx: JobContext, repo: str, sha: str) -> bool:
    run = await ctx.ledger.aread(lambda c: gates.latest_gate_run(c, repo, sha))
    return run is not None and run.title == HALTED_TITLE


async def rerun_bot_gates(
    ctx: JobContext, gh: Any, repo: str, attempt: str, *, resume: bool = False
) -> int:
    """Queue a fresh gate run for every open PR of the bot (it concludes "halted" while the
    repository is halted). On ``resume``, also for any PR whose gate the halt stopped."""
    from selfheal.gate.job import enqueue_gate

    owner, name = split(repo)
    bot = await bot_login(ctx)
    count = 0
    async for pr in gh.paginate("pulls.list", owner=owner, repo=name, state="open"):
        sha = str(pr["head"]["sha"])
        if is_bot_pr(pr, bot) or (resume and await _was_halted(ctx, repo, sha)):
            await enqueue_gate(ctx, repo, int(pr["number"]), sha, attempt)
            count += 1
    return count


async def _revert(gh: Any, repo: str, number: int, action: str, label: str) -> None:
    owner, name = split(repo)
    try:
        if action in ("labeled", "opened"):
            await gh.call("issues.remove_label", owner=owner, repo=name, issue_number=number,
                          name=label)  # fmt: skip
        elif action == "unlabeled":
            await gh.call("issues.add_labels", owner=owner, repo=name, issue_number=number,
                          data={"labels": [label]})  # fmt: skip
        elif action in ("closed", "reopened"):
            state = "open" if action == "closed" else "closed"
            await gh.call("issues.update", owner=owner, repo=name, issue_number=number,
                          data={"state": state})  # fmt: skip
    except gidgethub.BadRequest as exc:
        if exc.status_code != 404:  # already reverted (a redelivery)
            raise


def _carries(issue: dict[str, Any], label: str) -> bool:
    return any(str(lb.get("name", "")).lower() == label.lower() for lb in issue.get("labels") or [])


@router.register("issues")
async def on_issue(event: Event, ctx: JobContext) -> None:
    data = event.data
    action = data.get("action")
    issue = data.get("issue") or {}
    if action not in ACTIONS or "pull_request" in issue:
        return
    repo = str(data["repository"]["full_name"])
    gh = await ctx.github()
    label = await halt_label(gh, repo, data["repository"].get("default_branch"))
    if action in ("labeled", "unlabeled"):
        if str((data.get("label") or {}).get("name", "")).lower() != label.lower():
            return
    elif not _carries(issue, label):
        return
    number = int(issue["number"])
    sender = str((data.get("sender") or {}).get("login") or "")
    details = {"issue": number, "label": label, "action": action, "delivery": event.delivery_id}
    fallback: set[int] | None = None
    if await cached_issues(ctx, repo, label) is None:
        # No cache yet: the search shows the state AFTER this event; undo it.
        found = await search_halting(gh, repo, label)
        fallback = found - {number} if action in ADDS else found | {number}
    if action not in TRUSTED and sender.lower() != (await bot_login(ctx)).lower():
        if not await can_write(gh, repo, sender):
            await _revert(gh, repo, number, action, label)
            await ctx.ledger.awrite(lambda c: _transition(c, repo, label, fallback))
            refused = {**details, "reason": "no write permission"}
            await ctx.audit(sender, "halt.toggle_reverted", refused)
            return
    change = (number, action in ADDS)
    before, after = await ctx.ledger.awrite(lambda c: _transition(c, repo, label, fallback, change))
    await ctx.audit(sender, f"halt.{action}", details)
    if after and not before:
        stopped = stop_running_jobs(ctx, repo)
        rerun = await rerun_bot_gates(ctx, gh, repo, f"halt:{event.delivery_id}")
        await ctx.audit(sender, "halt.started", {**details, "stopped_jobs": stopped,
                                                 "gates_rerun": rerun})  # fmt: skip
    elif before and not after:
        rerun = await rerun_bot_gates(ctx, gh, repo, f"resume:{event.delivery_id}", resume=True)
        await ctx.audit(sender, "halt.resumed", {**details, "gates_rerun": rerun})
