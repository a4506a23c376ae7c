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

import gidgethub

from selfheal import notify
from selfheal.changes import machine
from selfheal.changes.authorisation import Actor, decide_request, monitor_issue_author
from selfheal.changes.intake import IntakeError, ParsedRequest, parse_request, quote_untrusted
from selfheal.changes.limits import money
from selfheal.coder.backends import backend_registry
from selfheal.coder.interface import BackendFactory
from selfheal.git.commits import DEFAULT_BRANCH_TEMPLATE
from selfheal.github.issue_state import marker, set_family_label, upsert_marked_comment
from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import permission_of, read_text, repo_config, split
from selfheal.halt import is_halted
from selfheal.ledger import effects, jobs, requests
from selfheal.model.labels import APPROVED_LABEL, REQUEST_LABEL, STATE_PREFIX, state_label
from selfheal.model.notifications import Notification
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
NOTIFIED = {
    machine.State.BLOCKED: "request.blocked",
    machine.State.ROLLED_BACK: "request.rolled_back",
    machine.State.BUDGET_EXCEEDED: "request.budget_exceeded",
}
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


def _who(requester: str) -> str:
    """A GitHub login as a mention; anything else (an API token's ``api:<name>``) as code,
    so that it never mentions someone."""
    return f"@{requester}" if requester.replace("-", "").isalnum() else f"`{requester}`"


def status_body(request: requests.Request, state: str, note: str, plan: list[Any]) -> str:
    """The status comment's text (pure): state, plan, agent, cost and the next step."""
    lines = [
        f"**selfheal** · request `{request.id}` · state: **{state}**",
        "",
        note,
        "",
        f"- type: `{request.change_type}`, priority {request.priority}",
        f"- requested by {_who(request.requester)}",
    ]
    agent = request.data.get("agent")
    if isinstance(agent, dict) and agent.get("id"):
        model = f", model `{agent['model']}`" if agent.get("model") else ""
        lines.append(f"- coding agent: `{agent['id']}` ({agent.get('backend')}{model})")
    lines.append(f"- cost so far: {money(request.cost_usd)} of {money(request.budget_usd)}")
    if request.data.get("cost_unmetered"):  # agents.UNMETERED_KEY
        lines.append("- the cost of a run was **not metered**: this agent's tool neither caps nor "
                     "reports its cost, and the operator allows it to run unmetered")  # fmt: skip
    if plan:
        lines += ["", "| target | policy |", "|---|---|"]
        lines += [f"| `{path}` | {level} |" for path, level in plan]
    revert = request.data.get("revert") or {}
    if revert.get("pr"):
        lines += ["", f"Revert: #{revert['pr']} ({revert.get('state', 'open')}), asked for by "
                  f"@{revert.get('by', '?')}"]  # fmt: skip
    return "\n".join(lines)


def accepted_text(parsed: ParsedRequest) -> dict[str, str]:
    """What the request's coder reads, kept in the request's data as a writer last left it:
    an edit by anyone else does not change it (pure)."""
    return {"title": parsed.title, "description": parsed.description}


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
        self.branch_template = DEFAULT_BRANCH_TEMPLATE
        self.guardians: tuple[str, ...] = ()  # the policy's, mentioned on a blocked request

    async def actor(self, login: str) -> Actor:
        is_app = login.lower() == (await self.ctx.bot_login()).lower()
        role = "admin" if is_app else await permission_of(self.gh, self.repo, login)
        return Actor(login, role, is_app)

    async def comment_once(self, key: str, kind: str, text: str) -> bool:
        """Comment ``text`` unless the comment of ``key`` was made already; True when this
        call made it. The key is claimed first, so two jobs racing never both comment; a
        comment that fails gives the claim back for the job's retry."""
        if not await self.ctx.ledger.awrite(lambda c: effects.claim_effect(c, key, kind)):
            return False
        try:
            await self.comment(text)
        except BaseException:
            await self.ctx.ledger.awrite(lambda c: effects.forget_effect(c, key))
            raise
        return True

    async def refuse_once(self, reason: str, sender: str) -> None:
        key = f"request-refused:{self.repo.lower()}#{self.number}"
        text = (f"selfheal will not work on this issue: {reason}. A person with write access "
                "can file the request themselves.")  # fmt: skip
        if await self.comment_once(key, "refusal", text):
            await self.ctx.audit(sender, "request.refused",
                                 {"issue": self.number, "reason": reason},
                                 request=self.number)  # fmt: skip

    async def context(self, request: requests.Request) -> machine.Context:
        # as the ledger has it now: an action of this run may have changed it (ClearApproval),
        # and a coder charges the spend as it runs
        fresh = await self.ctx.ledger.aread(lambda c: requests.get(c, request.id)) or request
        revert = fresh.data.get("revert") or {}
        shared = fresh.branch is not None and fresh.branch in (
            fresh.data.get("shared_branches") or ()
        )
        return machine.Context(
            halted=await is_halted(self.ctx, self.repo, gh=self.gh),
            approved=bool(fresh.data.get("approved_by")),
            spent_usd=fresh.cost_usd,
            budget_usd=fresh.budget_usd,
            auto_merge=not shared
            and fresh.state == machine.State.GATING.value
            and await self.may_auto_merge(fresh),
            branch_shared=shared,
            revert_pr=int(revert.get("pr") or 0),
            revert_state=str(revert.get("state") or ""),
        )

    async def may_auto_merge(self, request: requests.Request) -> bool:
        """The repository enables auto-merge and every path the coder touched is open under
        the policy of the default branch (a review path needs a person's approval of the
        diff, so such a PR is never merged automatically)."""
        config = await repo_config(self.gh, self.repo, self.ctx.caches.config_text)
        if isinstance(config, ConfigError) or not config.requests.auto_merge:
            return False
        files = tuple(str(f) for f in request.data.get("files") or ())
        if not files:
            return False
        owner, name = split(self.repo)
        branch = str((await self.gh.call("repos.get", owner=owner, repo=name))["default_branch"])
        head = await self.gh.call("repos.get_branch", owner=owner, repo=name, branch=branch)
        policy = await _policy(self.gh, self.repo, str(head["commit"]["sha"]))
        if isinstance(policy, PolicyError):
            return False
        return all(level is Level.OPEN for _, level in plan_levels(policy, files))

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
        self.guardians = policy.guardians
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
            await self.set_state_label(request, action.state)
        elif isinstance(action, machine.UpdateStatusComment):
            await self.update_status(request, action)
        elif isinstance(action, machine.Comment):
            await self.comment(action.text)
        elif isinstance(action, machine.SetApprovedLabel):
            await self.add_label(APPROVED_LABEL)
        elif isinstance(action, machine.ClearApproval):
            await self.clear_approval(request)
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
            if action.auto_merge:
                from selfheal.changes.merging import queue_merge

                await queue_merge(self.ctx, request)
        elif isinstance(action, machine.Rollback):
            await coding.roll_back(self, request, action.delete_branch)
        elif isinstance(action, machine.OpenRevertPR):
            from selfheal.changes import revert

            await revert.open_revert_pr(self, request, action.by)
        return None

    async def set_state_label(self, request: requests.Request, state: machine.State) -> None:
        """Make the label of the state the request is in now the issue's one state label.

        Another job on the issue (a command, an edit) may move the request while this one
        labels it: each job's labels from its start are stale then, and two jobs labelling
        from them leave two state labels. So the labels are read afresh, the ledger's state
        wins over ``state`` (this step's, perhaps overtaken), and a move seen after the write
        means labelling again: the job that moved last always sees the other's labels."""
        seen = await self.ctx.ledger.aread(lambda c: requests.get(c, request.id))
        for _ in range(STALE_RETRIES):
            wanted = state_label(seen.state if seen is not None else state.value)
            owner, name = split(self.repo)
            issue = await self.gh.call("issues.get", owner=owner, repo=name,
                                       issue_number=self.number)  # fmt: skip
            await set_family_label(self.gh, self.repo, self.number, _names(issue), STATE_PREFIX,
                                   wanted)  # fmt: skip
            self.labels = [n for n in _names(issue) if not n.startswith(STATE_PREFIX)] + [wanted]
            now = await self.ctx.ledger.aread(lambda c: requests.get(c, request.id))
            if now is None or seen is None or (now.state, now.updated_at) == (
                seen.state, seen.updated_at,
            ):  # fmt: skip
                return
            seen = now

    async def update_status(
        self, request: requests.Request, action: machine.UpdateStatusComment
    ) -> None:
        """Write the status comment for the move to ``action.state``, unless another job moved
        the request on since: then this job's state and note are out of date, and the job that
        made the later move writes (or wrote) the comment for it."""
        fresh = await self.ctx.ledger.aread(lambda c: requests.get(c, request.id)) or request
        if fresh.state != action.state.value:
            return
        body = status_body(fresh, action.state.value, action.note, self.plan)
        await upsert_marked_comment(self.gh, self.repo, self.number, STATUS, body,
                                    await self.ctx.bot_login())  # fmt: skip

    async def comment(self, text: str) -> None:
        owner, name = split(self.repo)
        await self.gh.call("issues.create_comment", owner=owner, repo=name,
                           issue_number=self.number, data={"body": text})  # fmt: skip

    async def clear_approval(self, request: requests.Request) -> None:
        """Forget the approver and take ``selfheal:approved`` off (gone already: fine)."""
        fresh = await self.ctx.ledger.aread(lambda c: requests.get(c, request.id)) or request
        data = {k: v for k, v in fresh.data.items() if k != "approved_by"}
        await self.ctx.ledger.awrite(lambda c: requests.update(c, request.id, data=data))
        owner, name = split(self.repo)
        try:
            await self.gh.call("issues.remove_label", owner=owner, repo=name,
                               issue_number=self.number, name=APPROVED_LABEL)  # fmt: skip
        except gidgethub.BadRequest as exc:
            if exc.status_code != 404:
                raise
        self.labels = [n for n in self.labels if n.lower() != APPROVED_LABEL]

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
                if isinstance(action, machine.Comment) and step.state is machine.State.BLOCKED:
                    action = machine.Comment(action.text + self.guardian_note())
                follow = await self.carry_out(request, action)
                if follow is not None:
                    pending.append(follow)
            if step.state is not step.previous and step.state in NOTIFIED:
                await self.notify(request, step)
        return request

    def guardian_note(self) -> str:
        return (
            f"\n\ncc {' '.join(self.guardians)} (the policy's guardians)" if self.guardians else ""
        )

    async def notify(self, request: requests.Request, step: machine.Transition) -> None:
        """Tell the operator's notification URLs (the reason is the bot's own words)."""
        event = NOTIFIED[step.state]
        url = str(self.issue.get("html_url") or "")
        details = {"request": request.id, "issue": self.number, "state": step.state.value,
                   "guardians": list(self.guardians)}  # fmt: skip
        await notify.emit(self.ctx, Notification(event, self.repo, step.reason, url, details))


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
            source="api" if parsed.request_id else "issue", request_id=parsed.request_id,
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
    existing = await ctx.ledger.aread(lambda c: requests.find_by_issue(c, repo, number))
    if existing is not None:  # who filed it was checked at intake; now: edits, re-labels
        from selfheal.changes import edits

        await edits.on_known_request(run, existing, str(p.get("action") or ""),
                                     str(p.get("sender") or ""), p.get("edit"))  # fmt: skip
        return
    author = await run.actor(str(issue["user"]["login"]))
    labeller = await run.actor(str(p["labeller"])) if p.get("labeller") else None
    author = monitor_issue_author(author, labeller, issue.get("body"))
    decision = decide_request(author, labeller)
    if not decision.allowed:
        await run.refuse_once(decision.reason, str(p.get("sender") or author.login))
        return
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
        request = await ctx.ledger.awrite(lambda c: requests.update(
            c, request.id, data={**request.data, **accepted_text(parsed)}))  # fmt: skip
        await run.drive(request, machine.Accepted())
