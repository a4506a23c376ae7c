"""Halt events: the lock label's toggles, checked and applied.

Every toggle is checked: when someone without write permission adds or removes the label (or
closes/reopens an issue carrying it), the bot reverts it and audits ``halt.toggle_reverted``.
The bot's own toggles are trusted. When the halt starts, running jobs of the repository are
cancelled (the worker's cancel hook); when it starts or ends, the listeners the registry
wired in are told (the gate re-runs on the bot's open PRs, concluding "halted" while the
repository is halted).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import gidgethub
from gidgethub import routing
from gidgethub.sansio import Event

from selfheal import notify
from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import can_write, split
from selfheal.halt.state import Labels, cached_issues, halt_labels, search_halting, transition
from selfheal.model.notifications import Notification
from selfheal.runtime.context import JobContext

ACTIONS = ("opened", "labeled", "unlabeled", "closed", "reopened", "deleted", "transferred")
ADDS = ("opened", "labeled", "reopened")
TRUSTED = ("deleted", "transferred")  # only people with admin/write can do these
REASON = "repository halted"

# Told when a repository's halt starts (resume=False) or ends (resume=True):
# ``await listener(ctx, gh, repo, attempt, resume)``, returning how many things it re-ran.
HaltListener = Callable[[JobContext, GitHubAPI, str, str, bool], Awaitable[int]]


def stop_running_jobs(ctx: JobContext, repo: str) -> int:
    """Cancel the repository's running jobs except the current one (which is handling the
    halt itself); they stop within the worker's cancel grace period."""
    return ctx.worker.cancel_repository(repo, REASON, spare=ctx.job.id)


async def _revert(gh: GitHubAPI, repo: str, number: int, action: str, label: str) -> None:
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


def _toggled(data: dict[str, Any], issue: dict[str, Any], labels: Labels) -> str | None:
    """The halting label this event is about, or None when it concerns none of them."""
    if data.get("action") in ("labeled", "unlabeled"):
        name = str((data.get("label") or {}).get("name", ""))
        return next((label for label in labels if label.lower() == name.lower()), None)
    return next((label for label in labels if _carries(issue, label)), None)


async def on_issue(event: Event, ctx: JobContext, listeners: Sequence[HaltListener] = ()) -> None:
    """An ``issues`` event: apply a lock-label toggle, or revert an unauthorised one."""
    data = event.data
    action = data.get("action")
    issue = data.get("issue") or {}
    if action not in ACTIONS or "pull_request" in issue:
        return
    repo = str(data["repository"]["full_name"])
    gh = await ctx.github()
    labels = await halt_labels(ctx, gh, repo, data["repository"].get("default_branch"))
    label = _toggled(data, issue, labels)
    if label is None:
        return
    number = int(issue["number"])
    sender = str((data.get("sender") or {}).get("login") or "")
    details = {"issue": number, "label": label, "action": action, "delivery": event.delivery_id}
    # Still halting after this event: added, or one of several halting labels taken off.
    halting = action in ADDS or (action == "unlabeled" and any(_carries(issue, x) for x in labels))
    fallback: set[int] | None = None
    if await cached_issues(ctx, repo, labels) is None:
        # No cache yet: the search shows the state AFTER this event; undo it.
        found = await search_halting(gh, repo, labels)
        fallback = found - {number} if halting else found | {number}
    if action not in TRUSTED and sender.lower() != (await ctx.bot_login()).lower():
        if not await can_write(gh, repo, sender):
            await _revert(gh, repo, number, action, label)
            await ctx.ledger.awrite(lambda c: transition(c, repo, labels, fallback))
            refused = {**details, "reason": "no write permission"}
            await ctx.audit(sender, "halt.toggle_reverted", refused)
            return
    change = (number, halting)
    before, after = await ctx.ledger.awrite(lambda c: transition(c, repo, labels, fallback, change))
    await ctx.audit(sender, f"halt.{action}", details)
    if after and not before:
        stopped = stop_running_jobs(ctx, repo)
        rerun = await _tell(listeners, ctx, gh, repo, f"halt:{event.delivery_id}", False)
        await ctx.audit(sender, "halt.started", {**details, "stopped_jobs": stopped,
                                                 "gates_rerun": rerun})  # fmt: skip
        await _notify(ctx, "halt.started", repo, f"@{sender} halted selfheal with {label}", issue)
    elif before and not after:
        rerun = await _tell(listeners, ctx, gh, repo, f"resume:{event.delivery_id}", True)
        await ctx.audit(sender, "halt.resumed", {**details, "gates_rerun": rerun})
        await _notify(ctx, "halt.resumed", repo, f"@{sender} resumed selfheal ({label} off)", issue)


async def _notify(
    ctx: JobContext, event: str, repo: str, summary: str, issue: dict[str, Any]
) -> None:
    note = Notification(event, repo, f"{summary} on #{issue['number']}",
                        str(issue.get("html_url") or ""))  # fmt: skip
    await notify.emit(ctx, note)


async def _tell(
    listeners: Sequence[HaltListener],
    ctx: JobContext,
    gh: GitHubAPI,
    repo: str,
    attempt: str,
    resume: bool,
) -> int:
    return sum([await listener(ctx, gh, repo, attempt, resume) for listener in listeners])


def make_router(listeners: Sequence[HaltListener] = ()) -> routing.Router:
    """The halt feature's router, telling ``listeners`` when a halt starts or ends."""
    router = routing.Router()
    chosen = tuple(listeners)

    @router.register("issues")
    async def issues(event: Event, ctx: JobContext) -> None:
        await on_issue(event, ctx, chosen)

    return router
