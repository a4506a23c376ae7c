"""The coding agent a request runs with, its budget, and the meter's link to the ledger.

:func:`prepare` is called by the coding stage before the coder runs:

1. it reads the repository's config (``requests.coder``, ``requests.allowed_agents``, the
   limit keys, ``budget.per_request_usd``) and the request's ``selfheal:agent/<id>`` pick, and
   asks :func:`selfheal.coder.agents.choose_agent` over the operator's catalogue
   (:func:`selfheal.coder.catalog.catalog_from`). A choice the operator's agents do not allow,
   or a repository budget above the operator's, fails the request with the reason;
2. the request's budget is the agent's (tightened by the repository), plus what maintainers
   added with ``/selfheal budget +N``, never above the operator's ceiling; the agent and the
   budget are recorded on the request (and so shown in its status comment);
3. a request whose spend has reached its budget does not run (``budget_exceeded``);
4. the backend's options carry the agent's model and options, the model key and API, the
   price table, and a listener that writes every metered call to the ledger as it is charged
   (:mod:`selfheal.ledger.spend`), so a restart keeps the spend;
5. the halt is asked between the model's turns from the coder's thread, through the event
   loop, with a bound: an answer that does not come counts as halted (fail closed).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pygit2

from selfheal.changes import machine
from selfheal.changes.intake import IntakeError, parse_request, sanitize
from selfheal.coder.agents import (
    RULES_BACKEND,
    AgentChoice,
    AgentChoiceError,
    CodingAgent,
    RepoAgentChoice,
    choose_agent,
)
from selfheal.coder.catalog import catalog_from
from selfheal.coder.interface import (
    BackendFactory,
    BackendOptions,
    CoderResult,
    Limit,
    Limits,
    Outcome,
)
from selfheal.coder.meter import CallCost
from selfheal.coder.runner import CodingRun
from selfheal.config.coding import CodingSettings
from selfheal.github.repo import repo_config
from selfheal.halt import is_halted
from selfheal.ledger import requests, spend
from selfheal.model.findings import Severity
from selfheal.model.markdown import inline_code
from selfheal.model.repo_config import ConfigError, RepoConfig
from selfheal.scanner.pipeline import ScanOptions

if TYPE_CHECKING:
    from selfheal.changes.service import RequestRun

HALT_PROBE_SECONDS = 10.0
HALT_PROBE_INTERVAL = 2.0  # seconds between two questions to GitHub from one run
EXTENDED_KEY = "budget_extended_usd"
UNMETERED_KEY = "cost_unmetered"  # a run's cost could not be metered (shown on the issue)
KEPT_KEY = "kept_branch"  # the branch a budget-stopped run left, to resume on
REASON_CHARS = 300  # of a coder's words on the issue, when it pushed nothing


class AgentRefused(Exception):
    """The request cannot be coded with any agent; the message says why."""


@dataclass(frozen=True)
class CoderPlan:
    """What the coding stage runs: the backend, its options, and the run's limits (the
    budget that remains, the agent's turns and time)."""

    agent: AgentChoice
    factory: BackendFactory
    options: BackendOptions
    limits: Limits
    budget_usd: float
    halted: Callable[[], bool] | None


def keeps_edits(coding: CodingRun) -> bool:
    """Whether a run's edits are committed: a finished change, or the edits of a run the
    budget stopped when the guard's review passed them and they add no finding of high
    severity or above (a secret, say) (pure)."""
    result = coding.result
    if result.outcome is Outcome.CHANGED:
        return True
    if result.outcome is not Outcome.LIMIT_REACHED or result.limit is not Limit.BUDGET:
        return False
    risky = [f for f in coding.introduced() if f.severity >= Severity.HIGH]
    return bool(coding.changes) and not coding.violations and not risky


def untrusted_reason(result: CoderResult) -> str:
    """What a coder said of a run that pushed nothing, for the issue's comments: one line of
    inline code, since a model's or a tool's words are untrusted (no markdown, mention, image,
    link or hidden marker renders from them)."""
    return inline_code(result.reason or result.summary or "no reason given", limit=REASON_CHARS)


def stopped_event(result: CoderResult) -> machine.Event | None:
    """The event for a run that ends before anything is pushed (pure): a halt halts the
    request, a limit other than the budget fails it, a refusal has nothing to do. None: the
    run's edits (a change, or a budget-stopped run's) go on to be committed."""
    if result.outcome is Outcome.LIMIT_REACHED and result.limit is Limit.HALT:
        return machine.Halt()
    if result.outcome is Outcome.LIMIT_REACHED and result.limit is not Limit.BUDGET:
        return machine.Error(f"a limit stopped the coder: {untrusted_reason(result)}")
    if result.outcome is Outcome.REFUSED:
        return machine.NothingToDo(untrusted_reason(result))
    return None


def resume_point(request: requests.Request) -> tuple[str, str] | None:
    """(branch, commit) a budget-stopped attempt left, when the request has no PR yet."""
    kept = request.data.get(KEPT_KEY)
    if request.pr_number is not None or not isinstance(kept, dict):
        return None
    branch, sha = kept.get("branch"), kept.get("sha")
    return (branch, sha) if isinstance(branch, str) and isinstance(sha, str) else None


def changed_paths(cache: Path, base: str, head: str) -> list[str]:
    """The paths that differ between two commits of the cache clone."""
    git = pygit2.Repository(str(cache))
    old = git.get(base)
    new = git.get(head)
    if not isinstance(old, pygit2.Commit) or not isinstance(new, pygit2.Commit):
        raise ValueError(f"the cache clone lacks {base} or {head}")
    diff = git.diff(old.tree, new.tree)
    return sorted({delta.new_file.path or delta.old_file.path for delta in diff.deltas})


async def task_description(run: RequestRun, request: requests.Request) -> str:
    """The request's description as a writer last left it (kept in the request's data by the
    intake and by writers' edits, so a later edit by anyone else never reaches a coder); for
    a request from before that was kept, the issue's text as the intake reads it. Both are
    after the hygiene (hidden HTML comments, zero-width and bidirectional controls removed):
    never the raw issue body, which a model would otherwise read whole."""
    kept = request.data.get("description")
    if isinstance(kept, str):
        return kept
    title, body = str(run.issue.get("title") or ""), str(run.issue.get("body") or "")
    author = await run.actor(str((run.issue.get("user") or {}).get("login") or ""))
    try:
        return parse_request(title, body, run.labels, app_authored=author.is_app).description
    except IntakeError:
        return sanitize(body)


def repo_choice(config: RepoConfig, coding: CodingSettings) -> RepoAgentChoice:
    """The repository's pick and limits (pure); a budget above the operator's is refused."""
    budget = config.budget.per_request_usd
    if budget is not None and budget > coding.budget_usd:
        raise AgentRefused(
            f"the repository's budget.per_request_usd (${budget:.2f}) is above the operator's "
            f"budget (${coding.budget_usd:.2f}); a repository can only lower it, and a "
            "maintainer can raise one request's budget with `/selfheal budget +N`"
        )
    requests_config = config.requests
    return RepoAgentChoice(
        requests_config.coder,
        requests_config.allowed_agents,
        budget,
        requests_config.max_turns,
        requests_config.wall_clock_seconds,
    )


def request_budget(agent_budget: float, extended: float, ceiling: float) -> float:
    """The agent's budget plus the maintainers' extensions, never above the ceiling (pure)."""
    return min(agent_budget + max(extended, 0.0), ceiling)


def choose(coding: CodingSettings, config: RepoConfig, requested: str | None) -> AgentChoice:
    """The agent for a request (pure); raises :class:`AgentRefused`."""
    try:
        return choose_agent(catalog_from(coding), repo_choice(config, coding), requested,
                            model_key_configured=coding.model_key_configured)  # fmt: skip
    except AgentChoiceError as exc:
        raise AgentRefused(str(exc)) from None


def spend_listener(run: RequestRun, request_id: str, agent_id: str) -> Callable[[CallCost], None]:
    """Writes each metered call to the ledger from the coder's thread (blocking until the
    write is durable, so the next call is only made once this one is recorded)."""
    ledger = run.ctx.ledger

    def record(call: CallCost) -> None:
        usage = call.usage
        row = spend.Call(request_id, agent_id, call.model, usage.input_tokens,
                         usage.output_tokens, usage.cache_write_5m, usage.cache_write_1h,
                         usage.cache_read, call.cost_usd, call.at)  # fmt: skip
        ledger.write(lambda c: spend.record_call(c, row))

    return record


async def settle(
    run: RequestRun, request_id: str, plan: CoderPlan, spent_before: float, result: CoderResult
) -> None:
    """Charge what a run cost but did not meter call by call: a backend that reports one
    total at its end (the ``command`` coder's tool, a runner's report) is recorded as one
    call of the agent's, so the request's spend and its audit trail hold every cent."""
    latest = await run.ctx.ledger.aread(lambda c: requests.get(c, request_id))
    if latest is None:
        return
    if not result.cost_metered:  # said on the status comment from now on
        data = {**latest.data, UNMETERED_KEY: True}
        latest = await run.ctx.ledger.awrite(lambda c: requests.update(c, request_id, data=data))
    missing = result.cost_usd - (latest.cost_usd - spent_before)
    if not math.isfinite(missing) or missing <= 1e-9:
        return
    agent = plan.agent.agent
    row = spend.Call(request_id, agent.id, agent.model or agent.backend, 0, 0, 0, 0, 0,
                     missing, time.time())  # fmt: skip
    await run.ctx.ledger.awrite(lambda c: spend.record_call(c, row))


def halt_probe(
    run: RequestRun, loop: asyncio.AbstractEventLoop, *, every: float = HALT_PROBE_INTERVAL,
    clock: Callable[[], float] = time.monotonic,
) -> Callable[[], bool]:  # fmt: skip
    """Asks the halt state on the event loop from the coder's thread, at most once every
    ``every`` seconds (a coder checks between each of its steps, and asking GitHub each time
    cost more than the steps; the halt listener's signal is read at every check besides)."""
    asked: list[float] = []
    answer = [False]

    def halted() -> bool:
        now = clock()
        if asked and now - asked[-1] < every and not answer[0]:
            return False
        asked[:] = [now]
        future = asyncio.run_coroutine_threadsafe(is_halted(run.ctx, run.repo, gh=run.gh), loop)
        try:
            answer[0] = bool(future.result(HALT_PROBE_SECONDS))
        except Exception:  # no answer in time, or no answer at all: fail closed
            future.cancel()
            answer[0] = True
        return answer[0]

    return halted


async def prepare(run: RequestRun, request: requests.Request) -> CoderPlan:
    """Choose the agent, record it and the budget, and build the coder's plan; raises
    :class:`AgentRefused` (the request fails) or :class:`BudgetSpent`."""
    coding: CodingSettings = run.ctx.worker.config.coding
    config = await repo_config(run.gh, run.repo, run.ctx.caches.config_text)
    if isinstance(config, ConfigError):
        raise AgentRefused(f"bad configuration: {config}")
    choice = choose(coding, config, request.agent_id)
    agent = choice.agent
    factory = run.backends.get(agent.backend)
    if factory is None:
        raise AgentRefused(f"agent {agent.id!r} uses the backend {agent.backend!r}, which this "
                           "server does not have")  # fmt: skip
    extended = float(request.data.get(EXTENDED_KEY) or 0.0)
    budget = request_budget(agent.limits.budget_usd, extended, coding.budget_ceiling_usd)
    info = {"id": agent.id, "backend": agent.backend, "model": agent.model,
            "source": choice.source, "notes": list(choice.notes)}  # fmt: skip
    fresh = await run.ctx.ledger.awrite(
        lambda c: requests.update(
            c,
            request.id,
            agent_id=agent.id,
            budget_usd=budget,
            data={**request.data, "agent": info},
        )
    )
    await run.ctx.audit("selfheal", "request.agent", {
        "request": request.id, "agent": agent.id, "backend": agent.backend, "model": agent.model,
        "source": choice.source, "budget_usd": budget, "spent_usd": fresh.cost_usd,
    }, request=run.number)  # fmt: skip
    if fresh.cost_usd >= budget:
        raise BudgetSpent(fresh.cost_usd)
    month_left = await _month_left(run, config, agent)
    options = BackendOptions(
        ScanOptions(semgrep_engine=run.ctx.worker.config.semgrep_engine,
                    secret_engine=run.ctx.secret_engine,
                    secret_engine_cache=run.ctx.secret_engine_cache),
        model=agent.model, agent_options=dict(agent.options), api_key=coding.api_key,
        base_url=coding.base_url, prices=coding.prices,
        on_call=spend_listener(run, request.id, agent.id),
    )  # fmt: skip
    remaining = max(0.0, min(budget - fresh.cost_usd, month_left))
    limits = Limits(remaining, agent.limits.max_turns, agent.limits.wall_clock_seconds)
    loop = asyncio.get_running_loop()
    return CoderPlan(choice, factory, options, limits, budget, halt_probe(run, loop))


def costs_nothing(agent: CodingAgent) -> bool:
    """An agent that never spends: the ``rules`` backend, with no model."""
    return agent.backend == RULES_BACKEND and not agent.model


async def _month_left(run: RequestRun, config: RepoConfig, agent: CodingAgent) -> float:
    """What the repository's ``budget.monthly_cap_usd`` leaves this month (UTC) for a run of
    ``agent`` (infinite without a cap, or for an agent that spends nothing); raises
    :class:`MonthlyCapReached` when nothing is left."""
    cap = config.budget.monthly_cap_usd
    if cap is None or costs_nothing(agent):
        return math.inf
    month, since = spend.month_of(time.time())
    spent = await run.ctx.ledger.aread(lambda c: spend.repository_spend(c, run.repo, since))
    if spent >= cap:
        raise MonthlyCapReached(cap, spent, month)
    return cap - spent


class MonthlyCapReached(AgentRefused):
    """The repository's monthly cap is spent: no agent that costs anything runs this month."""

    def __init__(self, cap_usd: float, spent_usd: float, month: str) -> None:
        super().__init__(
            f"the repository's monthly cap (budget.monthly_cap_usd, ${cap_usd:.2f}) is reached: "
            f"${spent_usd:.2f} spent in {month}; a maintainer can raise the cap in "
            ".github/selfheal.yml, or pick the `rules` agent, then `/selfheal retry`"
        )
        self.cap_usd, self.spent_usd, self.month = cap_usd, spent_usd, month


class BudgetSpent(Exception):
    """The request's spend has reached its budget: nothing runs."""

    def __init__(self, spent_usd: float) -> None:
        super().__init__(f"${spent_usd:.2f} spent")
        self.spent_usd = spent_usd
