"""The change request lifecycle on GitHub: intake, authorisation and the pre-review.

An ``issues`` event on an issue labelled ``selfheal:request`` queues a ``request`` job (see
:mod:`selfheal.changes.events`). The job reads the issue fresh from GitHub and:

1. checks who asked: the issue's author and whoever applied the label must be writers or the
   App (:mod:`~selfheal.changes.authorisation`); otherwise the bot says why, once, and stops;
2. reads the request (:mod:`~selfheal.changes.intake`, after the hygiene) and records it in
   the ledger (:mod:`selfheal.ledger.requests`);
3. drives the state machine (:mod:`~selfheal.changes.machine`): each transition is recorded
   and audited, and its actions are carried out here, in order: the one state label, the
   status comment edited in place, a comment for the states people must hear about, and the
   pre-review, which checks the target paths against the policy of the default branch
   (protected: blocked; review: waiting for an owner's approval; open: queued) and the halt.

Coding (the coder backends, the branch, the draft PR and the gate) is the next stage: a
request that reaches ``queued`` waits there, and its status comment says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from selfheal.changes import machine
from selfheal.changes.authorisation import Actor, decide_request, monitor_issue_author
from selfheal.changes.intake import IntakeError, ParsedRequest, parse_request, quote_untrusted
from selfheal.coder.interface import BackendFactory, backend_registry
from selfheal.github.issue_state import marker, set_family_label, upsert_marked_comment
from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import permission_of, read_text, repo_config, split
from selfheal.halt import is_halted
from selfheal.ledger import effects, jobs, requests
from selfheal.model.labels import APPROVED_LABEL, REQUEST_LABEL, STATE_PREFIX, state_label
from selfheal.model.policy import (
    REPO_POLICY_PATH,
    Level,
    Policy,
    PolicyError,
    load_effective_policy,
)
from selfheal.model.repo_config import ConfigError
from selfheal.runtime.context import JobContext

JOB_KIND = "request"
STALE_RETRIES = 3
STATUS = marker("status")
BOT_ACTOR = "selfheal"


def _names(issue: dict[str, Any]) -> list[str]:
    return [str(label.get("name") or "") for label in issue.get("labels") or []]


def _has_request_label(names: list[str]) -> bool:
    return any(name.lower() == REQUEST_LABEL for name in names)


def plan_levels(policy: Policy, targets: tuple[str, ...]) -> list[tuple[str, Level]]:
    """Each target path with its policy level (pure)."""
    return [(path, policy.level_of(path)) for path in targets]


def verdict_of(plan: list[tuple[str, Level]]) -> tuple[machine.Verdict, str]:
    """The pre-review's verdict for the plan, and the reason naming the paths (pure)."""
    protected = [path for path, level in plan if level is Level.PROTECTED]
    review = [path for path, level in plan if level is Level.REVIEW]
    if protected:
        return machine.Verdict.PROTECTED, "protected by the policy: " + ", ".join(protected)
    if review:
        return machine.Verdict.REVIEW, "an owner must approve changes to " + ", ".join(review)
    return machine.Verdict.OPEN, "every target path is open"


def status_body(request: requests.Request, state: str, note: str, plan: list[Any]) -> str:
    """The status comment's text (pure): state, plan, cost and the next step."""
    lines = [
        f"**selfheal** · request `{request.id}` · state: **{state}**",
        "",
        note,
        "",
        f"- type: `{request.change_type}`, priority {request.priority}",
        f"- requested by @{request.requester}",
        f"- cost so far: ${request.cost_usd:.2f} of ${request.budget_usd:.2f}",
    ]
    if plan:
        lines += ["", "| target | policy |", "|---|---|"]
        lines += [f"| `{path}` | {level} |" for path, level in plan]
    return "\n".join(lines)


async def _policy(gh: GitHubAPI, repo: str, sha: str) -> Policy | PolicyError:
    try:
        return load_effective_policy(await read_text(gh, repo, REPO_POLICY_PATH, sha))
    except PolicyError as exc:
        return exc


class RequestRun:
    """One request job: the issue, the request and the GitHub client it works with."""

    def __init__(self, ctx: JobContext, gh: GitHubAPI, repo: str, issue: dict[str, Any]) -> None:
        self.ctx, self.gh, self.repo, self.issue = ctx, gh, repo, issue
        self.number = int(issue["number"])
        self.labels = _names(issue)
        self.plan: list[tuple[str, str]] = []
        self.backends: Mapping[str, BackendFactory] = backend_registry()

    async def actor(self, login: str) -> Actor:
        is_app = login.lower() == (await self.ctx.bot_login()).lower()
        role = "admin" if is_app else await permission_of(self.gh, self.repo, login)
        return Actor(login, role, is_app)

    async def refuse_once(self, reason: str, sender: str) -> None:
        key = f"request-refused:{self.repo.lower()}#{self.number}"
        if await self.ctx.ledger.aread(lambda c: effects.get_effect(c, key)) is not None:
            return
        owner, name = split(self.repo)
        text = (f"selfheal will not work on this issue: {reason}. A person with write access "
                "can file the request themselves.")  # fmt: skip
        await self.gh.call("issues.create_comment", owner=owner, repo=name,
                           issue_number=self.number, data={"body": text})  # fmt: skip
        await self.ctx.audit(sender, "request.refused", {"issue": self.number, "reason": reason},
                             request=self.number)  # fmt: skip
        await self.ctx.ledger.awrite(lambda c: effects.record_effect(c, key, "refusal", None))

    async def context(self, request: requests.Request) -> machine.Context:
        return machine.Context(
            halted=await is_halted(self.ctx, self.repo, gh=self.gh),
            approved=bool(request.data.get("approved_by")),
            spent_usd=request.cost_usd,
            budget_usd=request.budget_usd,
        )

    async def review(self, request: requests.Request) -> machine.Event:
        """The pre-review: the target paths against the policy of the default branch."""
        config = await repo_config(self.gh, self.repo, self.ctx.caches.config_text)
        if isinstance(config, ConfigError):
            return machine.Reviewed(machine.Verdict.INVALID, f"bad configuration: {config}")
        owner, name = split(self.repo)
        branch = str((await self.gh.call("repos.get", owner=owner, repo=name))["default_branch"])
        head = await self.gh.call("repos.get_branch", owner=owner, repo=name, branch=branch)
        policy = await _policy(self.gh, self.repo, str(head["commit"]["sha"]))
        if isinstance(policy, PolicyError):
            return machine.Reviewed(machine.Verdict.INVALID, f"the policy does not parse: {policy}")
        plan = plan_levels(policy, request.targets)
        self.plan = [(path, level.label) for path, level in plan]
        verdict, reason = verdict_of(plan)
        return machine.Reviewed(verdict, reason)

    async def carry_out(
        self, request: requests.Request, action: machine.Action
    ) -> machine.Event | None:
        """Carry ``action`` out; an action that learns something returns the next event."""
        if await self._bookkeep(request, action):
            return None
        if isinstance(action, machine.Review):
            return await self.review(request)
        return await self._work(request, action)

    async def _bookkeep(self, request: requests.Request, action: machine.Action) -> bool:
        """What the issue shows: the state label, the status comment, comments, approval."""
        if isinstance(action, machine.SetStateLabel):
            await self.set_state_label(action.state)
        elif isinstance(action, machine.UpdateStatusComment):
            await self.update_status(request, action)
        elif isinstance(action, machine.Comment):
            await self.comment(action.text)
        elif isinstance(action, machine.SetApprovedLabel):
            await self.add_label(APPROVED_LABEL)
        else:
            return False
        return True

    async def _work(
        self, request: requests.Request, action: machine.Action
    ) -> machine.Event | None:
        """The coding stage's actions (see :mod:`selfheal.changes.coding`)."""
        from selfheal.changes import coding

        if isinstance(action, machine.EnqueueCoding):
            await self.ctx.enqueue(coding.CODE_JOB, {"request": request.id,
                                   "installation_id": self.ctx.installation_id},
                                   key=f"request-code:{request.id}:{request.updated_at}",
                                   repository=self.repo)  # fmt: skip
        elif isinstance(action, machine.RunCoder):
            return await coding.code(self, request)
        elif isinstance(action, machine.OpenDraftPR):
            await coding.open_draft_pr(self, request)
        elif isinstance(action, machine.MarkReady):
            await coding.mark_ready(self, request)
        elif isinstance(action, machine.Rollback):
            await coding.roll_back(self, request, action.delete_branch)
        return None

    async def set_state_label(self, state: machine.State) -> None:
        wanted = state_label(state.value)
        await set_family_label(self.gh, self.repo, self.number, self.labels, STATE_PREFIX, wanted)
        self.labels = [n for n in self.labels if not n.startswith(STATE_PREFIX)] + [wanted]

    async def update_status(
        self, request: requests.Request, action: machine.UpdateStatusComment
    ) -> None:
        fresh = await self.ctx.ledger.aread(lambda c: requests.get(c, request.id)) or request
        body = status_body(fresh, action.state.value, action.note, self.plan)
        await upsert_marked_comment(self.gh, self.repo, self.number, STATUS, body,
                                    await self.ctx.bot_login())  # fmt: skip

    async def comment(self, text: str) -> None:
        owner, name = split(self.repo)
        await self.gh.call("issues.create_comment", owner=owner, repo=name,
                           issue_number=self.number, data={"body": text})  # fmt: skip

    async def add_label(self, label: str) -> None:
        owner, name = split(self.repo)
        await self.gh.call("issues.add_labels", owner=owner, repo=name,
                           issue_number=self.number, data={"labels": [label]})  # fmt: skip

    async def _record_move(
        self, request: requests.Request, step: machine.Transition, kind: str
    ) -> requests.Request:
        def move(conn: Any) -> requests.Request:
            return requests.move(conn, request.id, step.previous.value, step.state.value,
                                 event=kind, actor=BOT_ACTOR, reason=step.reason)  # fmt: skip

        moved: requests.Request = await self.ctx.ledger.awrite(move)
        return moved

    async def _step(
        self, request: requests.Request, event: machine.Event
    ) -> tuple[requests.Request, machine.Transition]:
        """Apply one event and record the move. Another job may have moved the request in
        the meantime (a cancel while it was coding): then the event is applied again to the
        state the request is in now, which may refuse it (InvalidTransition)."""
        request_id = request.id
        for _ in range(STALE_RETRIES):
            step = machine.apply(machine.State(request.state), event,
                                 await self.context(request))  # fmt: skip
            if step.state is step.previous:
                return request, step
            try:
                return await self._record_move(request, step, event.kind), step
            except requests.StaleState:
                fresh = await self.ctx.ledger.aread(lambda c: requests.get(c, request_id))
                if fresh is None:
                    raise
                request = fresh
        raise requests.StaleState(f"request {request.id} kept moving under this job")

    async def drive(self, request: requests.Request, event: machine.Event) -> requests.Request:
        """Apply ``event`` and the events its actions lead to, recording every move."""
        pending: list[machine.Event] = [event]
        while pending:
            current = pending.pop(0)
            request, step = await self._step(request, current)
            for action in step.actions:
                follow = await self.carry_out(request, action)
                if follow is not None:
                    pending.append(follow)
        return request


async def open_run(ctx: JobContext, gh: GitHubAPI, repo: str, number: int) -> RequestRun:
    """A run on issue ``number`` as GitHub has it now (for a command on a request)."""
    owner, name = split(repo)
    issue = dict(await gh.call("issues.get", owner=owner, repo=name, issue_number=number))
    return RequestRun(ctx, gh, repo, issue)


async def review_owners(run: RequestRun, request: requests.Request) -> dict[str, list[str]]:
    """path -> owners (``@user``/``@org/team``) for each review-level target of ``request``,
    from the policy of the default branch (an unreadable policy: no owner, admins only)."""
    owner, name = split(run.repo)
    branch = str((await run.gh.call("repos.get", owner=owner, repo=name))["default_branch"])
    head = await run.gh.call("repos.get_branch", owner=owner, repo=name, branch=branch)
    policy = await _policy(run.gh, run.repo, str(head["commit"]["sha"]))
    if isinstance(policy, PolicyError):
        return {path: [] for path in request.targets}
    return {
        path: [o for o in policy.owners_of(path) if o.startswith("@")]
        for path, level in plan_levels(policy, request.targets)
        if level is Level.REVIEW
    }


async def _record(
    run: RequestRun, parsed: ParsedRequest, requester: str
) -> tuple[requests.Request, bool]:
    """The request in the ledger, and whether this job created it (two jobs for one issue
    race here: only the one that created it goes on)."""
    return await run.ctx.ledger.awrite(
        lambda c: requests.create_request(
            c, run.repo, run.number, requester=requester, change_type=parsed.change_type,
            priority=parsed.priority, agent_id=parsed.agent, targets=parsed.target_paths,
        )
    )  # fmt: skip


async def run_request(job: jobs.Job, ctx: JobContext) -> None:
    """The ``request`` job: take a request issue through intake and the pre-review."""
    p = job.payload
    repo, number = str(p["repository"]), int(p["issue_number"])
    ctx.repository, ctx.installation_id = repo, p.get("installation_id")
    gh = await ctx.github()
    owner, name = split(repo)
    issue = dict(await gh.call("issues.get", owner=owner, repo=name, issue_number=number))
    run = RequestRun(ctx, gh, repo, issue)
    if issue.get("state") != "open" or not _has_request_label(run.labels):
        return
    author = await run.actor(str(issue["user"]["login"]))
    labeller = await run.actor(str(p["labeller"])) if p.get("labeller") else None
    author = monitor_issue_author(author, labeller, issue.get("body"))
    decision = decide_request(author, labeller)
    if not decision.allowed:
        await run.refuse_once(decision.reason, str(p.get("sender") or author.login))
        return
    existing = await ctx.ledger.aread(lambda c: requests.find_by_issue(c, repo, number))
    if existing is not None:
        return  # edits, re-labels and approvals are handled by the next stage
    try:
        parsed = parse_request(str(issue.get("title") or ""), issue.get("body"), run.labels,
                               app_authored=author.is_app)  # fmt: skip
    except IntakeError as exc:
        body = "selfheal cannot read this request:\n\n" + quote_untrusted(str(exc), "the check")
        await gh.call("issues.create_comment", owner=owner, repo=name, issue_number=number,
                      data={"body": body})  # fmt: skip
        await ctx.audit(author.login, "request.unreadable", {"issue": number}, request=number)
        return
    requester = parsed.requester if author.is_app and parsed.requester else author.login
    request, created = await _record(run, parsed, requester)
    if created:
        await run.drive(request, machine.Accepted())
