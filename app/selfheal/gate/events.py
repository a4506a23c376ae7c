"""The gate's events: what queues a ``gate`` job.

Events only enqueue a ``gate`` job (key ``gate:<repo>:<sha>:<attempt>``); the job
(:mod:`selfheal.gate.job`) does the work. ``attempt`` is ``initial`` for pull_request
opened/synchronize/reopened/ready_for_review and check_suite requested (so they share one
check run per head SHA), ``rerun:<delivery>`` for a re-run request, and
``halt:``/``resume:<delivery>`` when the lock label changes (:func:`rerun_bot_gates`, the
halt feature's listener).
"""

from __future__ import annotations

from typing import Any

from gidgethub import routing
from gidgethub.sansio import Event

from selfheal.gate.job import EXTERNAL_PREFIX, JOB_KIND
from selfheal.gate.output import HALTED_TITLE
from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import is_bot_pr, split
from selfheal.ledger import gates
from selfheal.runtime.context import JobContext

router = routing.Router()

PR_ACTIONS = ("opened", "synchronize", "reopened", "ready_for_review")


async def enqueue_gate(
    ctx: JobContext, repo: str, pr_number: int, head_sha: str, attempt: str
) -> int:
    """Queue a gate run for ``head_sha`` of PR ``pr_number`` (deduplicated by key)."""
    payload = {"repository": repo, "installation_id": ctx.installation_id,
               "pr_number": pr_number, "head_sha": head_sha, "attempt": attempt}  # fmt: skip
    return await ctx.enqueue(
        JOB_KIND, payload, key=f"gate:{repo}:{head_sha}:{attempt}", repository=repo
    )


# -- events ----------------------------------------------------------------------------------


@router.register("pull_request")
async def on_pull_request(event: Event, ctx: JobContext) -> None:
    data = event.data
    if data.get("action") not in PR_ACTIONS:
        return
    pr = data["pull_request"]
    repo = str(data["repository"]["full_name"])
    await enqueue_gate(ctx, repo, int(pr["number"]), str(pr["head"]["sha"]), "initial")


@router.register("check_suite")
async def on_check_suite(event: Event, ctx: JobContext) -> None:
    data = event.data
    action = data.get("action")
    if action not in ("requested", "rerequested"):
        return
    suite = data["check_suite"]
    attempt = "initial" if action == "requested" else f"rerun:{event.delivery_id}"
    repo, sha = str(data["repository"]["full_name"]), str(suite["head_sha"])
    for number in await _pr_numbers(ctx, repo, sha, suite.get("pull_requests"), action):
        await enqueue_gate(ctx, repo, number, sha, attempt)


@router.register("check_run", action="rerequested")
async def on_check_run_rerequested(event: Event, ctx: JobContext) -> None:
    run = event.data["check_run"]
    if not str(run.get("external_id") or "").startswith(EXTERNAL_PREFIX):
        return  # not our check
    repo, sha = str(event.data["repository"]["full_name"]), str(run["head_sha"])
    for number in await _pr_numbers(ctx, repo, sha, run.get("pull_requests"), "rerequested"):
        await enqueue_gate(ctx, repo, number, sha, f"rerun:{event.delivery_id}")


async def _pr_numbers(
    ctx: JobContext, repo: str, sha: str, listed: list[dict[str, Any]] | None, action: str
) -> list[int]:
    """The PRs of a check suite or run. GitHub lists none for a head in a fork; a re-run can
    only concern a head the gate has already run on, so the ledger knows its PRs. (A fork's
    new push is gated through its pull_request ``synchronize`` event.)"""
    if listed:
        return [int(pr["number"]) for pr in listed]
    if action != "rerequested":
        return []
    return await ctx.ledger.aread(lambda c: gates.pr_numbers_for(c, repo, sha))


async def _was_halted(ctx: JobContext, repo: str, sha: str) -> bool:
    run = await ctx.ledger.aread(lambda c: gates.latest_gate_run(c, repo, sha))
    return run is not None and run.title == HALTED_TITLE


async def rerun_bot_gates(
    ctx: JobContext, gh: GitHubAPI, repo: str, attempt: str, resume: bool
) -> int:
    """Queue a fresh gate run for every open PR of the bot (it concludes "halted" while the
    repository is halted). On ``resume``, also for any PR whose gate the halt stopped. The
    registry wires this in as the halt feature's listener."""
    owner, name = split(repo)
    bot = await ctx.bot_login()
    count = 0
    async for pr in gh.paginate("pulls.list", owner=owner, repo=name, state="open"):
        sha = str(pr["head"]["sha"])
        if is_bot_pr(pr, bot) or (resume and await _was_halted(ctx, repo, sha)):
            await enqueue_gate(ctx, repo, int(pr["number"]), sha, attempt)
            count += 1
    return count
