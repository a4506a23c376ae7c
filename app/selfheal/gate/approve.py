"""The gate's "Approve" button: ``check_run.requested_action`` with identifier ``approve``.

A click counts only on an ``action_required`` gate run whose head is still the PR's head, and
only from a repository admin or an owner of every path that needed approval (the rules are in
:mod:`selfheal.model.approval`). It re-completes the check as ``success`` and audits
``gate.approved`` naming the approver; any other click is audited as
``gate.approval_refused``. A click refused for not owning the paths also puts a note on the
run saying who pressed and why it did not count (the run stays ``action_required``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from gidgethub import routing
from gidgethub.sansio import Event

from selfheal.gate.job import EXTERNAL_PREFIX, GateListener, GateOutcome, cached_policy, fetch_pr
from selfheal.gate.output import APPROVE_ACTION, approved_update, refused_update
from selfheal.github.repo import permission_of, split, team_memberships
from selfheal.ledger import gates
from selfheal.model.approval import decide, required_owners, teams_in
from selfheal.model.policy import Policy
from selfheal.runtime.context import JobContext


async def on_requested_action(event: Event, ctx: JobContext) -> GateOutcome | None:
    """Apply an Approve click; the run's new outcome when it counted."""
    data = event.data
    check = data["check_run"]
    if (data.get("requested_action") or {}).get("identifier") != APPROVE_ACTION["identifier"]:
        return None
    if not str(check.get("external_id") or "").startswith(EXTERNAL_PREFIX):
        return None
    repo = str(data["repository"]["full_name"])
    login = str(data["sender"]["login"])
    check_id = int(check["id"])
    run = await ctx.ledger.aread(lambda c: gates.gate_run_for_check(c, check_id))
    details: dict[str, Any] = {"check_run": check_id, "sha": check.get("head_sha"),
                               "delivery": event.delivery_id}  # fmt: skip

    async def refuse(reason: str) -> None:
        await ctx.audit(login, "gate.approval_refused", {**details, "reason": reason})

    if run is None or run.conclusion != "action_required" or run.approved_by:
        await refuse("the check is not waiting for an approval")
        return None
    details["pr"] = run.pr_number
    gh = await ctx.github()
    owner, name = split(repo)
    pr = await gh.call("pulls.get", owner=owner, repo=name, pull_number=run.pr_number)
    if str(pr["head"]["sha"]) != run.head_sha:
        await refuse("a newer commit was pushed; the approval was for an older head")
        return None
    # The cache clone may be gone (a new data dir, another host): fetch_pr only goes to the
    # network for commits it lacks. Reading the policy is blocking git work: off the loop.
    cache = await fetch_pr(ctx, gh, pr, run.head_sha)
    policy = await asyncio.to_thread(
        cached_policy, ctx.caches.policies, repo, cache, run.base_sha or ""
    )
    findings = await ctx.ledger.aread(lambda c: gates.findings_for(c, run.id))
    owners = required_owners(findings, policy if isinstance(policy, Policy) else None)
    role = await permission_of(gh, repo, login)
    member_of = await team_memberships(gh, teams_in(owners), login) if role != "admin" else set()
    verdict = decide(login, role, owners, member_of)
    summary = str((check.get("output") or {}).get("summary") or "")
    if not verdict.allowed:
        note = refused_update(run.title or "", summary, login, verdict.reason)
        await gh.call("checks.update", owner=owner, repo=name, check_run_id=check_id, data=note)
        await refuse(verdict.reason)  # after the note: a retry re-sends it, audits once
        return None
    body = approved_update(run.title or "", summary, login)
    await gh.call("checks.update", owner=owner, repo=name, check_run_id=check_id, data=body)

    def record(conn: Any) -> None:
        gates.record_approval(conn, run.id, login)
        gates.update_gate_run(conn, run.id, conclusion="success", title=body["output"]["title"])

    await ctx.ledger.awrite(record)
    await ctx.audit(login, "gate.approved", {**details, "reason": verdict.reason})
    ctx.metrics.record_gate_conclusion("success")
    return GateOutcome(repo, run.pr_number or 0, run.head_sha, "success", body["output"]["title"])


def make_router(listeners: Sequence[GateListener] = ()) -> routing.Router:
    """The Approve button's router, telling ``listeners`` when an approval completes a run
    as ``success`` (as the gate job tells them of the runs it completes)."""
    chosen = tuple(listeners)
    made = routing.Router()

    async def on_click(event: Event, ctx: JobContext) -> None:
        outcome = await on_requested_action(event, ctx)
        if outcome is not None:
            for listener in chosen:
                await listener(ctx, outcome)

    made.add(on_click, "check_run", action="requested_action")
    return made


router = make_router()
