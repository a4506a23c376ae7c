"""The demo's story: four steps played against the running App on the embedded GitHub.

Each step acts the way the product's users do (people on GitHub through its REST API, an
agent through the SDK), then waits for what the bot should do and checks it on the embedded
GitHub and in the ledger. A step that does not happen as described fails with what was
expected; the story stops there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pygit2

from selfheal.changes.limits import money
from selfheal.demo import world
from selfheal.demo.messages import ScriptedMessagesAPI
from selfheal.emulator import Emulator, Person, PersonError
from selfheal.emulator.gitdata import entry_at, open_repo, refs, resolve
from selfheal.emulator.state import Issue, Repo
from selfheal.ledger import Ledger, audit, requests, spend
from selfheal.model.prices import ModelPrice
from selfheal.sdk import BaseAgent, SelfHealClient, SelfHealError

REQUEST_LABEL = "selfheal:request"
HALT_LABEL = "selfheal:halt"
MONITOR_LABEL = "selfheal:source/monitor"
RULES_AGENT = "selfheal:agent/rules"
GATE = "selfheal/security-gate"
WAIT = 75.0  # the longest any one thing may take before its step fails

T = TypeVar("T")


class StepFailed(Exception):
    """A step did not happen as described: the message says what was expected."""


@dataclass
class Stage:
    """What the story runs against: the embedded GitHub, the App's ledger and URL, the
    people, the agent's API token, and the scripted model (None with a real model)."""

    emulator: Emulator
    repo: Repo
    ledger: Ledger
    app_url: str
    operator: Person
    developer: Person
    agent_token: str
    model_api: ScriptedMessagesAPI | None
    price: ModelPrice | None
    say: Callable[[str], None]
    wait: float = WAIT

    def link(self, request: requests.Request | None = None) -> str:
        base = f"{self.app_url}/dashboard"
        return f"{base}/requests/{request.id}" if request else f"{base}/requests"


@dataclass
class Outcome:
    title: str
    ok: bool
    seconds: float
    problem: str = ""
    facts: dict[str, Any] = field(default_factory=dict)


async def until(stage: Stage, what: str, probe: Callable[[], T | None]) -> T:
    """Poll ``probe`` until it returns something truthy, or fail the step."""
    deadline = time.monotonic() + stage.wait
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise StepFailed(f"waited {stage.wait:.0f} s for {what}")
        await asyncio.sleep(0.1)


# -- reading the embedded GitHub and the ledger ------------------------------------------------


def request_of(stage: Stage, number: int) -> requests.Request | None:
    return stage.ledger.read(lambda c: requests.find_by_issue(c, world.REPO, number))


def in_state(stage: Stage, number: int, *states: str) -> requests.Request | None:
    found = request_of(stage, number)
    return found if found is not None and found.state in states else None


def pr_for(stage: Stage, number: int) -> Issue | None:
    """The pull request that says ``Fixes #number``."""
    return next((i for i in stage.repo.issues.values() if i.pull is not None
                 and f"Fixes #{number}" in (i.body or "")), None)  # fmt: skip


def gate_conclusion(stage: Stage, sha: str) -> str | None:
    runs = sorted((r for r in stage.repo.check_runs.values()
                   if r.head_sha == sha and r.name == GATE and r.status == "completed"),
                  key=lambda r: r.id)  # fmt: skip
    return runs[-1].conclusion if runs else None


def file_at(stage: Stage, ref: str, path: str) -> str | None:
    git = open_repo(stage.repo.path)
    commit = resolve(git, ref)
    blob = entry_at(git, commit, path) if commit is not None else None
    return blob.data.decode() if isinstance(blob, pygit2.Blob) else None


def bot_branches(stage: Stage, number: int) -> list[str]:
    prefix = f"refs/heads/selfheal/{number}-"
    return [r for r in refs(open_repo(stage.repo.path)) if r.startswith(prefix)]


def last_audit_id(stage: Stage) -> int:
    found = stage.ledger.read(lambda c: audit.entries(c, limit=1))
    return found[0].id if found else 0


def audited(stage: Stage, action: str, after: int) -> bool:
    """Whether ``action`` was audited for the repository after entry ``after``."""
    found = stage.ledger.read(
        lambda c: audit.entries(c, repository=world.REPO, action=action, limit=20)
    )
    return any(e.id > after for e in found)


def bot_said(stage: Stage, number: int, text: str) -> bool:
    return any(c.user.login == "selfheal[bot]" and text in c.body
               for c in stage.repo.issues[number].comments)  # fmt: skip


# -- the pieces the steps share ------------------------------------------------------------


async def file_request(
    stage: Stage, who: Person, title: str, kind: str, description: str, target: str,
    *, rules: bool = True,
) -> int:  # fmt: skip
    body = world.request_body(kind, description, [target], priority=5)
    labels = [REQUEST_LABEL, RULES_AGENT] if rules else [REQUEST_LABEL]
    opened = await who.open_issue(stage.repo, title, body, labels=labels)
    number = int(opened["number"])
    stage.say(f'  @{who.login} opened #{number} "{title}" ({kind}, {target})')
    return number


async def to_ready_pr(stage: Stage, number: int, coder: str) -> tuple[requests.Request, Issue]:
    """Wait for the draft PR, the gate passing and the request ready; say each."""
    pr = await until(stage, f"a pull request for #{number}", lambda: pr_for(stage, number))
    assert pr.pull is not None
    stage.say(f"  the {coder} coder opened draft PR #{pr.number} on {pr.pull.head_ref}")
    sha = pr.pull.head_sha
    verdict = await until(stage, f"the security gate on PR #{pr.number}",
                          lambda: gate_conclusion(stage, sha))  # fmt: skip
    if verdict != "success":
        raise StepFailed(f"the security gate on PR #{pr.number} concluded {verdict!r}")
    stage.say(f"  the security gate passed on {sha[:8]}")
    ready = await until(stage, f"#{number} to be pr_ready",
                        lambda: in_state(stage, number, "pr_ready"))  # fmt: skip
    # the ledger moves first, then the bot marks the PR ready on GitHub
    pull = pr.pull
    await until(stage, f"PR #{pr.number} marked ready", lambda: not pull.draft)
    stage.say(f"  the PR is ready for review: {stage.link(ready)}")
    return ready, pr


async def merge(stage: Stage, number: int, pr: Issue) -> None:
    await stage.operator.merge(stage.repo, pr.number)
    await until(stage, f"#{number} to be merged", lambda: in_state(stage, number, "merged"))
    stage.say(f"  @{stage.operator.login} merged PR #{pr.number}; #{number} is done")


# -- the steps -----------------------------------------------------------------------------


async def dependency_request(stage: Stage) -> dict[str, Any]:
    number = await file_request(
        stage, stage.operator, "Bump requests past its advisories", "dependency",
        "requests 2.19.0 has published advisories (CVE-2018-18074, CVE-2023-32681). "
        "Pin a fixed release.", world.PINS,
    )  # fmt: skip
    _, pr = await to_ready_pr(stage, number, "rules")
    assert pr.pull is not None
    pins = file_at(stage, pr.pull.head_sha, world.PINS) or ""
    pinned = next((line for line in pins.splitlines() if line.startswith("requests==")), "")
    if not pinned or pinned == "requests==2.19.0":
        raise StepFailed(f"the PR did not bump requests: {pins!r}")
    stage.say(f"  {world.PINS}: requests==2.19.0 -> {pinned}")
    await merge(stage, number, pr)
    return {"issue": number, "pr": pr.number, "pin": pinned}


class PlannerAgent(BaseAgent):
    """The demo's agent: it reports its failures to the monitor through the SDK."""

    agent_id = world.AGENT

    def __init__(self, client: SelfHealClient) -> None:
        self.selfheal = client


def monitor_issue(stage: Stage) -> Issue | None:
    return next((i for i in stage.repo.issues.values() if i.pull is None
                 and MONITOR_LABEL in [x.name for x in i.labels]), None)  # fmt: skip


async def monitored_fix(stage: Stage) -> dict[str, Any]:
    async with SelfHealClient(stage.app_url, stage.agent_token, repository=world.REPO) as client:
        agent = PlannerAgent(client)
        for host in (1, 2, 3):
            agent.run_id = f"planner-run-{host}"
            await agent.report_bug_for_fix(
                "division by zero", stack_trace=world.traceback_text(host),
                affected_files=[world.STATS], error_type="ZeroDivisionError",
            )  # fmt: skip
            stage.say(f"  the {world.AGENT} agent reported ZeroDivisionError (run {host} of 3)")
    filed = await until(stage, "the monitor's issue", lambda: monitor_issue(stage))
    number = filed.number
    stage.say(f'  the monitor filed #{number} "{filed.title}" after 3 distinct runs')
    request, pr = await to_ready_pr(stage, number, "anthropic")
    assert pr.pull is not None
    fixed = file_at(stage, pr.pull.head_sha, world.STATS) or ""
    # the scripted model makes one known fix; a real one may word it its own way
    if world.BUGGY_RATIO in fixed or (stage.model_api and world.FIXED_RATIO not in fixed):
        raise StepFailed(f"the PR does not guard the division in {world.STATS}")
    calls = stage.ledger.read(lambda c: spend.calls(c, request.id))
    if request.cost_usd <= 0 or not calls:
        raise StepFailed("the model's calls were not metered")
    if stage.model_api is not None and stage.price is not None:
        billed = stage.model_api.billed_usd(stage.price)
        if abs(billed - request.cost_usd) > 1e-9:
            raise StepFailed(f"metered {request.cost_usd} but the API billed {billed}")
    cost = money(request.cost_usd)
    await until(stage, f"the cost on #{number}'s status comment",
                lambda: bot_said(stage, number, f"cost so far: {cost}"))  # fmt: skip
    budget = money(request.budget_usd)
    stage.say(f"  metered {cost} over {len(calls)} model calls (budget {budget}); "
              f"#{number}'s status comment shows it")  # fmt: skip
    await merge(stage, number, pr)
    return {"issue": number, "pr": pr.number, "cost_usd": request.cost_usd, "calls": len(calls)}


async def policy(stage: Stage) -> dict[str, Any]:
    core = await file_request(
        stage, stage.developer, "Let agents run shell commands", "feature",
        "Add 'shell' to the allowed actions.", world.CORE,
    )  # fmt: skip
    await until(stage, f"#{core} to be blocked", lambda: in_state(stage, core, "blocked"))
    await until(stage, f"the guardians mentioned on #{core}",
                lambda: bot_said(stage, core, f"@{world.OPERATOR}"))  # fmt: skip
    if bot_branches(stage, core) or pr_for(stage, core):
        raise StepFailed(f"#{core} was blocked but something was pushed")
    stage.say(f"  #{core} is blocked: {world.CORE} is protected; "
              f"the guardian @{world.OPERATOR} was mentioned")  # fmt: skip
    prompt = await file_request(
        stage, stage.developer, "Let the planner plan twenty steps", "feature",
        "Raise the planner's step limit from ten to twenty.", world.PROMPT,
    )  # fmt: skip
    waiting = await until(stage, f"#{prompt} to wait for approval",
                          lambda: in_state(stage, prompt, "awaiting_approval"))  # fmt: skip
    stage.say(f"  #{prompt} waits for an owner's approval ({world.PROMPT} is a review path): "
              f"{stage.link(waiting)}")  # fmt: skip
    return {"blocked": core, "awaiting": prompt}


async def halt_and_resume(stage: Stage, awaiting: int) -> dict[str, Any]:
    since = last_audit_id(stage)
    lock = await stage.operator.open_issue(stage.repo, "Stop all automated changes",
                                           labels=[HALT_LABEL])  # fmt: skip
    lock_number = int(lock["number"])
    await until(stage, "the halt", lambda: audited(stage, "halt.started", since))
    stage.say(f"  @{stage.operator.login} put {HALT_LABEL} on #{lock_number}: "
              f"the bot is halted ({stage.app_url}/dashboard)")  # fmt: skip
    await until(stage, f"#{awaiting} to be halted",
                lambda: in_state(stage, awaiting, "halted"))  # fmt: skip
    stage.say(f"  #{awaiting}, which was waiting for approval, is halted")
    number = await file_request(
        stage, stage.developer, "Load agent configs safely", "security",
        "load_config uses yaml.load with the full loader; use the safe loader.", world.LOADER,
    )  # fmt: skip
    await until(stage, f"#{number} to be halted", lambda: in_state(stage, number, "halted"))
    if bot_branches(stage, number) or pr_for(stage, number):
        raise StepFailed(f"#{number} was halted but something was pushed")
    stage.say(f"  #{number} is halted before any code was written; nothing was pushed")

    since = last_audit_id(stage)
    await stage.operator.remove_label(stage.repo, lock_number, HALT_LABEL)
    await until(stage, "the resume", lambda: audited(stage, "halt.resumed", since))
    stage.say(f"  @{stage.operator.login} removed the label: the bot resumed")
    for halted in (number, awaiting):
        await stage.operator.comment(stage.repo, halted, "/selfheal retry")
    stage.say(f"  @{stage.operator.login} said /selfheal retry on #{number} and #{awaiting}")
    _, pr = await to_ready_pr(stage, number, "rules")
    assert pr.pull is not None
    if "yaml.safe_load(" not in (file_at(stage, pr.pull.head_sha, world.LOADER) or ""):
        raise StepFailed(f"the PR does not use yaml.safe_load in {world.LOADER}")
    await until(stage, f"#{awaiting} to wait for approval again",
                lambda: in_state(stage, awaiting, "awaiting_approval"))  # fmt: skip
    stage.say(f"  #{awaiting} waits for approval again")
    return {"halt_issue": lock_number, "issue": number, "pr": pr.number}


Step = Callable[[Stage, dict[str, Any]], Awaitable[dict[str, Any]]]

STEPS: list[tuple[str, Step]] = [
    ("An operator files a dependency request; the rules coder fixes it",
     lambda stage, _: dependency_request(stage)),
    ("An agent reports the same bug 3 times; the monitor files it and the model fixes it",
     lambda stage, _: monitored_fix(stage)),
    ("The policy holds: the protected core is blocked, a review path waits for its owner",
     lambda stage, _: policy(stage)),
    ("The halt label stops everything; resume starts it again",
     lambda stage, facts: halt_and_resume(stage, int(facts["awaiting"]))),
]  # fmt: skip


async def play(stage: Stage, steps: list[tuple[str, Step]] | None = None) -> list[Outcome]:
    """Play ``steps`` (default: the story) in order; stop at the first that fails."""
    outcomes: list[Outcome] = []
    facts: dict[str, Any] = {}
    chosen = STEPS if steps is None else steps
    for index, (title, step) in enumerate(chosen, 1):
        stage.say(f"\n[{index}/{len(chosen)}] {title}")
        started = time.monotonic()
        try:
            found = await step(stage, facts)
        except (StepFailed, AssertionError) as exc:
            outcome = Outcome(title, False, time.monotonic() - started, str(exc))
        except (PersonError, SelfHealError) as exc:  # GitHub or the App refused an action
            problem = f"{type(exc).__name__}: {exc}"
            outcome = Outcome(title, False, time.monotonic() - started, problem)
        else:
            facts.update(found)
            outcomes.append(Outcome(title, True, time.monotonic() - started, facts=found))
            stage.say(f"  done in {outcomes[-1].seconds:.1f} s")
            continue
        stage.say(f"  FAILED: {outcome.problem}")
        outcomes.append(outcome)
        break
    return outcomes
