"""The dashboard issue on GitHub: rebuilding it, and acting on its checkboxes.

- ``dashboard_refresh`` gathers the facts (the halt, the requests in the ledger, the bot's
  open PRs, this month's spend, configuration problems, and any extra sections the registry
  wires in, such as the monitor's) and writes the body when it changed. The issue's number is
  kept in the ledger, so a body someone cleared is rebuilt in place rather than duplicated. A
  dashboard a person closed is left closed.
- ``dashboard_edit`` compares the body before and after a person's edit. Ticking or unticking
  the halt box needs write access, as the lock label does; an approve box needs what
  ``/selfheal approve`` needs, and runs the same command. Anything else is undone by the
  rebuild and audited.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from selfheal import halt
from selfheal.commands import CommandCall, CommandSpec, refusal_for
from selfheal.dashboard.render import APPROVE_PREFIX, HALT_KEY, Facts, RequestLine, render, toggled
from selfheal.github.dashboard_issue import DASHBOARD_TITLE
from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import (
    default_branch_sha,
    permission_of,
    read_text,
    repo_config,
    split,
)
from selfheal.ledger import effects, jobs, requests, spend
from selfheal.model.policy import REPO_POLICY_PATH, PolicyError, parse_policy
from selfheal.model.repo_config import ConfigError, RepoConfig
from selfheal.runtime.context import JobContext

REFRESH_JOB = "dashboard_refresh"
EDIT_JOB = "dashboard_edit"
EFFECT_KIND = "dashboard"
WRITERS = frozenset({"admin", "maintain", "write"})
# An extra section: (ctx, gh, repo) -> (title, markdown), or None to leave it out.
Section = Callable[[JobContext, GitHubAPI, str], Awaitable[tuple[str, str] | None]]


def issue_key(repo: str) -> str:
    return f"dashboard-issue:{repo.lower()}"


async def known_issue(ctx: JobContext, repo: str) -> int | None:
    found = await ctx.ledger.aread(lambda c: effects.get_effect(c, issue_key(repo)))
    return int(found.github_id) if found is not None and found.github_id else None


async def queue_refresh(ctx: JobContext, repo: str, installation_id: int | None) -> None:
    """At most one rebuild a second per repository, started after every event of that second
    (the jobs belong to no repository, so a halt does not stop them)."""
    now = time.time()
    payload = {"repository": repo, "installation_id": installation_id}
    await ctx.ledger.awrite(lambda c: jobs.enqueue(
        c, REFRESH_JOB, payload, key=f"dashboard:{repo.lower()}:{int(now)}", repository=None,
        max_attempts=ctx.worker.config.max_attempts, run_after=now + 1.0))  # fmt: skip
    ctx.worker.notify()


async def _problems(gh: GitHubAPI, repo: str, config: RepoConfig | ConfigError) -> list[str]:
    found = [str(config)] if isinstance(config, ConfigError) else list(config.warnings)
    _, sha = await default_branch_sha(gh, repo, None)
    text = await read_text(gh, repo, REPO_POLICY_PATH, sha)
    if text is not None:
        try:
            parse_policy(text, REPO_POLICY_PATH)
        except PolicyError as exc:
            found.append(f"{exc} (every change is blocked until it is fixed)")
    return found


async def _bot_prs(ctx: JobContext, gh: GitHubAPI, repo: str) -> list[int]:
    owner, name = split(repo)
    bot = (await ctx.bot_login()).lower()
    return [int(pr["number"]) async for pr in gh.paginate(
        "pulls.list", owner=owner, repo=name, state="open")
        if str((pr.get("user") or {}).get("login") or "").lower() == bot]  # fmt: skip


async def gather(
    ctx: JobContext, gh: GitHubAPI, repo: str, config: RepoConfig | ConfigError,
    sections: Sequence[Section] = (),
) -> Facts:  # fmt: skip
    month, start = spend.month_of(time.time())
    found = await ctx.ledger.aread(lambda c: requests.find(c, repository=repo, limit=1000))
    lines = [RequestLine(r.id, r.issue_number, r.state, r.cost_usd, r.pr_number, r.targets)
             for r in found]  # fmt: skip
    spent = await ctx.ledger.aread(lambda c: spend.repository_spend(c, repo, start))
    halting = await halt.halted_by(ctx, gh, repo)
    extra: dict[str, str] = {}
    for section in sections:
        made = await section(ctx, gh, repo)
        if made is not None:
            extra[made[0]] = made[1]
    cap = config.budget.monthly_cap_usd if isinstance(config, RepoConfig) else None
    return Facts(
        repo, bool(halting), await halt.halt_label(gh, repo), tuple(sorted(halting)), lines,
        await _bot_prs(ctx, gh, repo), month, spent, cap, await _problems(gh, repo, config),
        extra,
    )  # fmt: skip


async def _issue(ctx: JobContext, gh: GitHubAPI, repo: str, body: str) -> dict[str, Any]:
    """The dashboard issue (created with ``body`` when there is none yet)."""
    owner, name = split(repo)
    number = await known_issue(ctx, repo)
    if number is None:
        from selfheal.github.dashboard_issue import find_dashboard

        number = await find_dashboard(gh, repo)
    if number is None:
        created = await gh.call("issues.create", owner=owner, repo=name,
                                data={"title": DASHBOARD_TITLE, "body": body})  # fmt: skip
        number = int(created["number"])
        await pin(gh, created)
    key, found = issue_key(repo), number
    await ctx.ledger.awrite(lambda c: effects.record_effect(c, key, EFFECT_KIND, found))
    return dict(await gh.call("issues.get", owner=owner, repo=name, issue_number=number))


async def pin(gh: GitHubAPI, issue: Mapping[str, Any]) -> bool:
    """Pin the dashboard where GitHub allows it (at most three pinned issues a repository):
    a refusal leaves it unpinned."""
    node = str(issue.get("node_id") or "")
    if not node:
        return False
    try:
        await gh.graphql("issues.pin", id=node)
    except Exception:
        return False
    return True


def refresh_job(
    sections: Sequence[Section] = (),
) -> Callable[[jobs.Job, JobContext], Awaitable[None]]:
    # Two rebuilds of one repository must not overlap: both would find no dashboard yet and
    # each create one. The worker runs jobs concurrently, so they queue on a lock here.
    locks: dict[str, asyncio.Lock] = {}

    async def refresh(job: jobs.Job, ctx: JobContext) -> None:
        """Rebuild the dashboard issue's body from the current state."""
        repo = str(job.payload["repository"])
        async with locks.setdefault(repo.lower(), asyncio.Lock()):
            await _refresh(job, ctx, repo)

    async def _refresh(job: jobs.Job, ctx: JobContext, repo: str) -> None:
        ctx.installation_id = job.payload.get("installation_id")
        gh = await ctx.github()
        config = await repo_config(gh, repo, ctx.caches.config_text)
        if isinstance(config, RepoConfig) and not config.dashboard.enabled:
            return
        body = render(await gather(ctx, gh, repo, config, sections))
        issue = await _issue(ctx, gh, repo, body)
        if issue.get("state") != "open" or str(issue.get("body") or "") == body:
            return
        owner, name = split(repo)
        await gh.call("issues.update", owner=owner, repo=name, issue_number=int(issue["number"]),
                      data={"body": body})  # fmt: skip

    return refresh


async def _halt_box(ctx: JobContext, gh: GitHubAPI, repo: str, login: str, ticked: bool) -> str:
    role = await permission_of(gh, repo, login)
    if role not in WRITERS:
        return "only people with write access can halt or resume selfheal"
    if ticked:
        await halt.halt_repo(gh, repo)
    else:
        await halt.resume_repo(gh, repo)
    await ctx.audit(login, "dashboard.halt" if ticked else "dashboard.resume", {"role": role})
    return ""


async def _approve_box(
    ctx: JobContext, gh: GitHubAPI, repo: str, login: str, request_id: str,
    approve: CommandSpec,
) -> str:  # fmt: skip
    request = await ctx.ledger.aread(lambda c: requests.get(c, request_id))
    if request is None or request.repository.lower() != repo.lower():
        return "no such request in this repository"
    role = await permission_of(gh, repo, login)
    call = CommandCall(ctx, gh, repo, request.issue_number, login, role, "", 0, False,
                       {approve.name: approve})  # fmt: skip
    why = await refusal_for(approve, call)
    if why is not None:
        return why
    reply = await approve.run(call) or ""
    await ctx.audit(login, "dashboard.approve", {"request": request_id, "reply": reply[:200]},
                    request=request.issue_number)  # fmt: skip
    return ""


def edit_job(approve: CommandSpec | None) -> Callable[[jobs.Job, JobContext], Awaitable[None]]:
    async def on_edit(job: jobs.Job, ctx: JobContext) -> None:
        """Carry out the checkboxes a person changed, then rebuild the body."""
        p = job.payload
        repo, login = str(p["repository"]), str(p["sender"])
        ctx.installation_id, ctx.repository = p.get("installation_id"), repo
        gh = await ctx.github()
        for key, ticked in toggled(str(p.get("before") or ""), str(p.get("after") or "")):
            why = "that box is not one selfheal acts on"
            if key == HALT_KEY:
                why = await _halt_box(ctx, gh, repo, login, ticked)
            elif key.startswith(APPROVE_PREFIX) and ticked and approve is not None:
                why = await _approve_box(ctx, gh, repo, login, key[len(APPROVE_PREFIX) :], approve)
            if why:
                await ctx.audit(login, "dashboard.checkbox_reverted", {"box": key,
                                "ticked": ticked, "reason": why})  # fmt: skip
        await queue_refresh(ctx, repo, ctx.installation_id)

    return on_edit
