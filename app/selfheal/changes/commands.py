"""The request commands: ``/selfheal approve``, ``cancel``, ``retry``, ``status``, ``revert``
and ``budget``.

- ``approve`` is for the owners the policy names for the request's review-level paths (every
  one of them), or an admin; it approves the plan, the bot applies ``selfheal:approved`` and
  the request is queued. (The diff the coder writes still needs an owner's approval on the
  gate of its PR.)
- ``cancel`` and ``retry`` are for the requester, maintainers and admins; a halted request
  resumes only by ``retry``.
- ``status`` is for anyone: the state, the cost and the next step.
- ``revert`` is for maintainers and admins, on the request's issue or its pull request: a
  merged request gets a revert pull request (:mod:`selfheal.changes.revert`), once at a time.
- ``budget +N`` is for maintainers: it raises one request's budget by N dollars, never above
  the operator's ceiling (``SELFHEAL_BUDGET_CEILING_USD``), and a request the budget stopped
  resumes where it stopped.
"""

from __future__ import annotations

import math
import re

from selfheal.changes import agents, machine, revert
from selfheal.changes.limits import money
from selfheal.changes.service import BOT_ACTOR, open_run, review_owners
from selfheal.commands import CommandCall, CommandSpec, Tier
from selfheal.github.repo import team_memberships
from selfheal.ledger import requests
from selfheal.model.approval import decide, teams_in

NOT_A_REQUEST = "This issue is not a selfheal request."
BUDGET_ARGS = re.compile(r"^\+\s*\$?(\d{1,6}(?:\.\d{1,2})?)$")
BUDGET_USAGE = "Usage: `/selfheal budget +N`, N in US dollars (for example `+5`)."


async def _request(call: CommandCall) -> requests.Request | None:
    return await call.ctx.ledger.aread(lambda c: requests.find_by_issue(c, call.repo, call.number))


async def _owner_facts(call: CommandCall) -> tuple[bool, bool]:
    request = await _request(call)
    if request is None or call.role == "admin":
        return False, False  # an admin is allowed by the tier itself
    run = await open_run(call.ctx, call.gh, call.repo, call.number)
    owners = await review_owners(run, request)
    if not owners:
        return False, False
    member_of = await team_memberships(call.gh, teams_in(owners), call.login)
    return False, decide(call.login, call.role, owners, member_of).allowed


async def _requester_facts(call: CommandCall) -> tuple[bool, bool]:
    request = await _request(call)
    return request is not None and request.requester.lower() == call.login.lower(), False


async def _drive(call: CommandCall, event: machine.Event) -> requests.Request | str:
    request = await _request(call)
    if request is None:
        return NOT_A_REQUEST
    run = await open_run(call.ctx, call.gh, call.repo, call.number)
    try:
        return await run.drive(request, event)
    except machine.InvalidTransition as exc:
        return f"Not done: {exc.reason}."


async def run_approve(call: CommandCall) -> str:
    request = await _request(call)
    if request is None:
        return NOT_A_REQUEST
    if request.state != machine.State.AWAITING_APPROVAL:
        return f"Nothing to approve: the request is {request.state}."
    await call.ctx.ledger.awrite(
        lambda c: requests.update(c, request.id, data={**request.data, "approved_by": call.login})
    )
    moved = await _drive(call, machine.Approved(by=call.login))
    return moved if isinstance(moved, str) else f"Approved by @{call.login}: {moved.state}."


async def run_cancel(call: CommandCall) -> str:
    moved = await _drive(call, machine.Cancel(by=call.login))
    return moved if isinstance(moved, str) else f"Cancelled by @{call.login}."


async def run_retry(call: CommandCall) -> str:
    """Start a blocked, failed, rolled-back, halted or budget-stopped request again from the
    pre-review; an earlier attempt's closed PR and deleted branch are left behind."""
    request = await _request(call)
    if request is None:
        return NOT_A_REQUEST
    if request.state not in machine.RETRYABLE:
        return f"Nothing to retry: the request is {request.state}."
    await call.ctx.ledger.awrite(
        lambda c: requests.update(c, request.id, branch=None, pr_number=None, head_sha=None)
    )
    moved = await _drive(call, machine.Retry(by=call.login))
    return moved if isinstance(moved, str) else f"Retried by @{call.login}: {moved.state}."


async def run_status(call: CommandCall) -> str:
    request = await _request(call)
    if request is None:
        return NOT_A_REQUEST
    agent = f" with agent `{request.agent_id}`" if request.agent_id else ""
    return (
        f"Request `{request.id}` is **{request.state}**{agent}; cost so far "
        f"{money(request.cost_usd)} of {money(request.budget_usd)}."
    )


async def run_revert(call: CommandCall) -> str:
    """Open a pull request that undoes the merged request (on its issue or its PR)."""
    request = await _request(call)
    if request is None and call.is_pull_request:
        request = await call.ctx.ledger.aread(
            lambda c: requests.find_by_pr(c, call.repo, call.number)
        )
    if request is None:
        return NOT_A_REQUEST
    run = await open_run(call.ctx, call.gh, call.repo, request.issue_number)
    request = await revert.refresh(run, request)
    try:
        await run.drive(request, machine.RevertRequested(by=call.login))
    except machine.InvalidTransition as exc:
        return f"Not done: {exc.reason}."
    done = await call.ctx.ledger.aread(lambda c: requests.get(c, request.id))
    return revert.outcome(done or request)


def budget_amount(args: str) -> float | None:
    """The dollars of ``+N`` (more than 0, at most two decimals), or None (pure)."""
    found = BUDGET_ARGS.match(args.strip())
    if found is None:
        return None
    amount = float(found.group(1))
    return amount if math.isfinite(amount) and amount > 0 else None


async def run_budget(call: CommandCall) -> str:
    """Raise the request's budget by N dollars up to the ceiling; resume a stopped request."""
    request = await _request(call)
    if request is None:
        return NOT_A_REQUEST
    amount = budget_amount(call.args)
    if amount is None:
        return BUDGET_USAGE
    ceiling = float(call.ctx.worker.config.coding.budget_ceiling_usd)
    if request.budget_usd >= ceiling:
        return (f"Not done: the budget is already at the operator's ceiling "
                f"({money(ceiling)}).")  # fmt: skip
    new_budget = min(request.budget_usd + amount, ceiling)
    added = new_budget - request.budget_usd
    extended = float(request.data.get(agents.EXTENDED_KEY) or 0.0) + added
    data = {**request.data, agents.EXTENDED_KEY: extended}
    await call.ctx.ledger.awrite(
        lambda c: requests.update(c, request.id, budget_usd=new_budget, data=data)
    )
    await call.ctx.audit(call.login, "request.budget_raised", {
        "request": request.id, "added_usd": added, "budget_usd": new_budget,
        "ceiling_usd": ceiling}, request=call.number)  # fmt: skip
    capped = f" (capped at the operator's ceiling, {money(ceiling)})" if added < amount else ""
    reply = f"Budget raised by {money(added)} to {money(new_budget)}{capped} by @{call.login}."
    if request.state != machine.State.BUDGET_EXCEEDED:
        return reply
    moved = await _drive(call, machine.Retry(by=call.login))
    resumed = moved if isinstance(moved, str) else f"The request resumes: {moved.state}."
    return f"{reply} {resumed}"


APPROVE = CommandSpec(
    "approve", Tier.OWNER, "/selfheal approve",
    "approve a request's plan for its review-level paths", run_approve, _owner_facts,
)  # fmt: skip
CANCEL = CommandSpec(
    "cancel", Tier.REQUESTER_OR_MAINTAINER, "/selfheal cancel", "cancel the request",
    run_cancel, _requester_facts,
)  # fmt: skip
RETRY = CommandSpec(
    "retry", Tier.REQUESTER_OR_MAINTAINER, "/selfheal retry",
    "start a blocked, failed, rolled-back or halted request again", run_retry, _requester_facts,
)  # fmt: skip
STATUS = CommandSpec(
    "status", Tier.ANYONE, "/selfheal status", "the request's state and cost", run_status
)
REVERT = CommandSpec(
    "revert", Tier.MAINTAINER, "/selfheal revert",
    "open a pull request that undoes a merged request", run_revert,
)  # fmt: skip
BUDGET = CommandSpec(
    "budget", Tier.MAINTAINER, "/selfheal budget +N",
    "raise this request's budget by N dollars (up to the operator's ceiling) and resume it",
    run_budget,
)  # fmt: skip
COMMANDS = (APPROVE, CANCEL, RETRY, STATUS, REVERT, BUDGET)
__all__ = ["BOT_ACTOR", "COMMANDS"]
