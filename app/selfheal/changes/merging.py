"""Auto-merge of a ready bot PR, and what the lifecycle does when the halt starts.

Auto-merge is never a default. A ready request's PR is merged by the bot only when the state
machine's guard allowed it (the repository's ``requests.auto_merge`` is on, every path the
coder touched is open under the policy, and no person pushed to the branch), the PR's head is
still the bot's commit that the gate passed, and GitHub says the PR can be merged with its
required checks passing. While required checks are still running the job asks again later;
a PR that cannot be merged (a conflict) is left for a person, with a comment saying why.
"""

from __future__ import annotations

from typing import Any

from selfheal.changes import machine
from selfheal.changes.coding import drive_request
from selfheal.github.protocol import GitHubAPI
from selfheal.github.pulls import MergeabilityPending, mergeability
from selfheal.github.repo import split
from selfheal.ledger import jobs, requests
from selfheal.runtime.context import JobContext

MERGE_JOB = "request_merge"
MERGE_WAIT_SECONDS = 60.0
MERGE_MAX_WAITS = 60  # about an hour of required checks still running
MERGEABLE_STATES = frozenset({"clean", "unstable", "has_hooks"})  # required checks pass
WAITING_STATES = frozenset({"blocked", "unknown", "behind"})


async def queue_merge(ctx: JobContext, request: requests.Request, waits: int = 0) -> None:
    payload = {"request": request.id, "installation_id": ctx.installation_id, "waits": waits}
    await ctx.enqueue(MERGE_JOB, payload, key=f"request-merge:{request.id}:{waits}",
                      repository=request.repository,
                      delay=MERGE_WAIT_SECONDS if waits else 0.0)  # fmt: skip


async def _comment(gh: GitHubAPI, request: requests.Request, text: str) -> None:
    owner, name = split(request.repository)
    await gh.call("issues.create_comment", owner=owner, repo=name,
                  issue_number=request.issue_number, data={"body": text})  # fmt: skip


async def run_merge(job: jobs.Job, ctx: JobContext) -> None:
    """The ``request_merge`` job: merge the request's ready PR if GitHub allows it now."""
    p: dict[str, Any] = job.payload
    request = await ctx.ledger.aread(lambda c: requests.get(c, str(p["request"])))
    if request is None or request.state != machine.State.PR_READY or request.pr_number is None:
        return
    ctx.installation_id, ctx.repository = p.get("installation_id"), request.repository
    gh = await ctx.github()
    owner, name = split(request.repository)
    pr = await gh.call("pulls.get", owner=owner, repo=name, pull_number=request.pr_number)
    if pr.get("state") != "open" or str(pr["head"]["sha"]) != request.head_sha:
        return  # closed, or a person pushed: a person merges it
    try:
        mergeable, state = await mergeability(gh, request.repository, request.pr_number)
    except MergeabilityPending:
        mergeable, state = False, "unknown"
    waits = int(p.get("waits") or 0)
    if state in WAITING_STATES and waits < MERGE_MAX_WAITS:
        await queue_merge(ctx, request, waits + 1)
        return
    if not mergeable or state not in MERGEABLE_STATES:
        shown = state or "no state"
        await _comment(gh, request, f"selfheal did not merge #{request.pr_number} "
                       f"automatically: GitHub says it cannot be merged now ({shown}). "
                       "A person can merge it.")  # fmt: skip
        await ctx.audit(
            "selfheal",
            "request.auto_merge_skipped",
            {"pr": request.pr_number, "state": state},
            request=request.issue_number,
        )
        return
    await gh.call("pulls.merge", owner=owner, repo=name, pull_number=request.pr_number,
                  data={"merge_method": "squash", "sha": request.head_sha})  # fmt: skip
    await ctx.audit("selfheal", "request.auto_merged", {"pr": request.pr_number,
                    "sha": request.head_sha}, request=request.issue_number)  # fmt: skip


async def on_halt_change(
    ctx: JobContext, gh: GitHubAPI, repo: str, attempt: str, resume: bool
) -> int:
    """The halt feature's listener: when a halt starts, every active request of ``repo``
    moves to halted (the worker has already stopped their running jobs). Resuming needs a
    ``/selfheal retry`` per request, so a resume changes nothing here. Returns 0: it reruns
    no gate."""
    if resume:
        return 0
    active = [s.value for s in machine.ACTIVE - {machine.State.RECEIVED}]
    found = await ctx.ledger.aread(
        lambda c: requests.find(c, repository=repo, states=active, limit=1000)
    )
    for request in found:
        try:
            await drive_request(ctx, request, machine.Halt())
        except machine.InvalidTransition:
            continue  # it moved on in the meantime
    return 0
