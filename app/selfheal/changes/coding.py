"""The coding stage of a request: the coder on a fresh work tree, the branch, the draft PR,
and the gate's verdict on it.

- ``request_code`` (queued when a request is queued): fetch the default branch into the cache
  clone, write its files to a throw-away work tree, run the request's coder there through the
  path guard (:func:`selfheal.coder.runner.run_coder`), read the tree back, commit it as the
  bot on ``selfheal/<issue>-<slug>`` and push with the installation token; then open the
  draft PR (``Fixes #N``, labelled ``selfheal:bot``), which the gate runs on.
- ``request_gate`` (queued by the gate's completion listener for a request's PR): the gate
  passed, so the PR is marked ready; or it failed, so the PR is closed and the branch deleted
  (rolled back).
- a merged bot PR moves its request to merged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pygit2

from selfheal.changes import actions, agents, branches, machine, queue
from selfheal.changes.intake import quote_untrusted
from selfheal.changes.limits import LimitDecision, money
from selfheal.coder.interface import BackendFactory, CoderResult, CodeTask, Outcome
from selfheal.coder.runner import CodingRun, run_coder
from selfheal.gate import GateOutcome, enqueue_gate
from selfheal.git.clones import branch_refspec, fetch
from selfheal.git.commits import bot_identity, branch_name, commit_message, commit_on, push
from selfheal.git.worktrees import export_tree, snapshot
from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import repo_config, split
from selfheal.halt import is_halted
from selfheal.ledger import jobs, requests
from selfheal.model.labels import BOT_LABEL
from selfheal.model.markdown import defuse_closing_keywords
from selfheal.model.policy import PolicyError, load_default_policy
from selfheal.model.repo_config import ConfigError
from selfheal.reviewer.reviewer import policy_at
from selfheal.runtime.context import JobContext, JobHandler

if TYPE_CHECKING:  # the run type only; service imports this module
    from selfheal.changes.service import RequestRun

CODE_JOB = "request_code"
GATE_JOB = "request_gate"
DEFAULT_BACKEND = "rules"
# where a ``request_code`` job picks a request up again after its worker died
MAX_SUMMARY_CHARS = 6_000  # of a coder's summary in the PR body
MAX_TITLE_CHARS = 256  # GitHub's limit for a pull request's title
RESUMABLE = (machine.State.QUEUED, machine.State.CODING, machine.State.GATING)


def task_of(request: requests.Request, description: str) -> CodeTask:
    return CodeTask(request.id, description, request.change_type, request.targets)


async def _token(gh: GitHubAPI) -> str | None:
    return (await gh.credential.get())[1] if gh.credential is not None else None


def _run_coder_sync(
    cache: Path, base: str, task: CodeTask, approved: bool, plan: agents.CoderPlan,
    halted: Callable[[], bool],
) -> tuple[CodingRun, str | None, list[str]]:  # fmt: skip
    """Blocking: export, code, read back. Returns the run, the new tree (None when nothing is
    to be kept) and the changed paths. A run the budget stopped keeps its edits when the
    guard's review after the run found nothing wrong with them. ``halted`` is asked between
    the coder's steps."""
    with tempfile.TemporaryDirectory(prefix="selfheal-code-") as tmp:
        work = Path(tmp) / "work"
        export_tree(cache, base, work)
        policy = policy_at(cache, base)
        if isinstance(policy, PolicyError):
            raise ValueError(f"the policy does not parse: {policy}")
        coder = plan.factory(plan.options)
        coding = run_coder(coder, work, task, plan.limits, policy=policy,
                           defaults=load_default_policy(), review_approved=approved,
                           scan_options=plan.options.scan, halted=halted,
                           disposable=True)  # fmt: skip
        if not agents.keeps_edits(coding):
            return coding, None, []
        tree, changes = snapshot(cache, base, work, keep=coding.scrubbed)
        return coding, tree, [c.path for c in changes]


class Superseded(Exception):
    """The request left ``coding`` while its coder ran (cancelled, halted, edited): the
    result is dropped and nothing is pushed."""


async def _still_coding(run: RequestRun, request_id: str) -> requests.Request:
    """The request as the ledger has it now, if it is still being coded."""
    fresh = await run.ctx.ledger.aread(lambda c: requests.get(c, request_id))
    if fresh is None or fresh.state != machine.State.CODING:
        raise Superseded(f"request {request_id} is {fresh.state if fresh else 'gone'}")
    return fresh


async def code(run: RequestRun, request: requests.Request) -> machine.Event:
    """Run the request's coder and push its branch; the event for the state machine."""
    try:
        plan = await agents.prepare(run, request)
    except agents.AgentRefused as exc:
        return machine.Error(f"no coding agent can take this request: {exc}")
    except agents.BudgetSpent as exc:
        return machine.BudgetExceeded(exc.spent_usd)
    gh: GitHubAPI = run.gh
    owner, name = split(run.repo)
    info = await gh.call("repos.get", owner=owner, repo=name)
    default, url = str(info["default_branch"]), str(info["clone_url"])
    token = await _token(gh)
    started = time.monotonic()
    resume = agents.resume_point(request)
    refspecs = [branch_refspec(default), *([branch_refspec(resume[0])] if resume else [])]
    cache = await fetch(run.ctx.data_dir, run.repo, url, refspecs, token)
    fetched = time.monotonic()
    git = pygit2.Repository(str(cache))
    default_sha = str(git.references[f"refs/remotes/origin/{default}"].target)
    base = resume[1] if resume else default_sha
    # the text a writer last left (an edit by anyone else does not reach the coder)
    description = await agents.task_description(run, request)
    probe, cancelled = plan.halted, run.ctx.cancelled
    # the actions executor builds its coder for this request (it dispatches a workflow)
    plan = dataclasses.replace(
        plan, factory=actions.bind(plan.factory, run.ctx, gh, run.repo, default)
    )

    def halted() -> bool:  # the halt listener's signal, else the lock label on GitHub
        return cancelled.is_set() or (probe is not None and probe())

    before = await run.ctx.ledger.aread(lambda c: requests.get(c, request.id)) or request
    try:
        coding, tree, paths = await asyncio.to_thread(
            _run_coder_sync, cache, base, task_of(request, description),
            bool(request.data.get("approved_by")), plan, halted,
        )  # fmt: skip
    except ValueError as exc:
        return machine.Error(str(exc))
    coded = time.monotonic()
    result = coding.result
    await agents.settle(run, request.id, plan, before.cost_usd, result)
    stopped = agents.stopped_event(result)
    if stopped is not None:
        return stopped
    # Nothing is pushed after a halt: ask once more, just before the push.
    fresh = await _still_coding(run, request.id)
    if run.ctx.cancelled.is_set() or await is_halted(run.ctx, run.repo, gh=gh):
        return machine.Halt()
    sha, branch = (resume[1], resume[0]) if resume else (None, None)
    if tree is not None:
        branch, sha = await _commit(run, fresh, Target(cache, url, token, base, tree, ""),
                                    result.summary)  # fmt: skip
    if resume and sha:  # the change is everything on the kept branch, this run's and before
        paths = await asyncio.to_thread(agents.changed_paths, cache, default_sha, sha)
    if not paths and result.outcome is not Outcome.LIMIT_REACHED:
        return machine.NothingToDo(agents.untrusted_reason(result))
    timings = {"fetch": fetched - started, "code": coded - fetched,
               "commit_push": time.monotonic() - coded}  # fmt: skip
    run.ctx.log.info("request coded", extra={"request": request.id, **{
        f"{k}_seconds": round(v, 3) for k, v in timings.items()}})  # fmt: skip
    return await _record(run, request, result, default, (branch, sha), paths, timings)


async def _record(
    run: RequestRun, request: requests.Request, result: CoderResult, default: str,
    pushed: tuple[str | None, str | None], paths: list[str], timings: dict[str, float],
) -> machine.Event:  # fmt: skip
    """Keep what the run did in the request's data: a finished change is coded, a run the
    budget stopped keeps its branch (to resume on) and opens no PR."""
    branch, sha = pushed
    latest = await run.ctx.ledger.aread(lambda c: requests.get(c, request.id)) or request
    data = {**latest.data, "base": default, "summary": result.summary, "files": paths,
            "timings": {k: round(v, 4) for k, v in timings.items()}}  # fmt: skip
    if result.outcome is Outcome.LIMIT_REACHED:
        data[agents.KEPT_KEY] = {"branch": branch, "sha": sha} if branch else None
        await run.ctx.ledger.awrite(lambda c: requests.update(c, request.id, data=data))
        return machine.BudgetExceeded(latest.cost_usd)
    data.pop(agents.KEPT_KEY, None)
    await run.ctx.ledger.awrite(
        lambda c: requests.update(c, request.id, branch=branch, head_sha=sha, data=data)
    )
    return machine.Coded(tuple(paths), result.summary)


@dataclass(frozen=True)
class Target:
    """Where a commit is published: the cache clone, the remote and its token, the base
    commit and the tree, and the bot's commit e-mail (to tell its commits from a person's)."""

    cache: Path
    url: str
    token: str | None
    base: str
    tree: str
    bot_email: str


async def _commit(
    run: RequestRun, request: requests.Request, target: Target, summary: str
) -> tuple[str, str]:
    """Commit the coder's tree on the base as the bot, and publish it (:func:`_publish`)."""
    bot = await run.ctx.bot_login()
    title = str(run.issue.get("title") or "change")
    message = commit_message(f"{title} (#{run.number})", summary,
                             {"Selfheal-Request": f"{run.repo}#{run.number}",
                              "Requested-by": request.requester})  # fmt: skip
    identity = bot_identity(bot.removesuffix("[bot]"))
    config = await repo_config(run.gh, run.repo, run.ctx.caches.config_text)
    if not isinstance(config, ConfigError):
        run.branch_template = config.requests.branch_template
    target = dataclasses.replace(target, bot_email=identity.email)
    return await _publish(run, request, target, lambda: commit_on(
        target.cache, target.base, target.tree, message, identity))  # fmt: skip


async def _tip(run: RequestRun, target: Target, branch: str) -> branches.Tip | None:
    """The branch as GitHub has it now (fetched into the cache), or None."""
    owner, name = split(run.repo)
    refs = await run.gh.call("git.list_matching_refs", owner=owner, repo=name,
                             ref=f"heads/{branch}")  # fmt: skip
    exact = [r for r in refs or [] if r.get("ref") == f"refs/heads/{branch}"]
    if not exact:
        return None
    sha = str(exact[0]["object"]["sha"])
    await fetch(run.ctx.data_dir, run.repo, target.url, [branch_refspec(branch)], target.token,
                want=[sha])  # fmt: skip
    return await asyncio.to_thread(branches.inspect_tip, target.cache, sha, target.base,
                                   target.bot_email)  # fmt: skip


async def _publish(
    run: RequestRun, request: requests.Request, target: Target, make_commit: Callable[[], str]
) -> tuple[str, str]:
    """Push the coder's commit to the request's branch; returns (branch, commit).

    The branch is the one recorded on the request (an earlier attempt's, or one that died
    after its push), else a new ``selfheal/<issue>-<slug>``; it is recorded before the push.
    A branch a person pushed to is never force-pushed: the commit goes to a new branch."""
    shared = set(request.data.get("shared_branches") or [])
    branch = request.branch
    if branch is None or branch in shared:
        taken = [*await branches.taken(run.gh, run.repo, run.number), *shared]
        title = str(run.issue.get("title") or "change")
        branch = branch_name(run.number, title, taken=taken, template=run.branch_template)
    await run.ctx.ledger.awrite(lambda c: requests.update(c, request.id, branch=branch))
    tip = await _tip(run, target, branch)
    step = branches.decide(tip, target.tree)
    if step is branches.Step.REUSE and tip is not None:
        return branch, tip.sha
    if step is branches.Step.NEW_BRANCH:
        data = {**request.data, "shared_branches": sorted(shared | {branch})}
        await run.ctx.ledger.awrite(lambda c: requests.update(c, request.id, data=data))
        await run.comment(
            f"A person pushed to `{branch}`, so selfheal will not force-push it; this "
            "attempt goes to a new branch."
        )
        fresh = await run.ctx.ledger.aread(lambda c: requests.get(c, request.id)) or request
        return await _publish(run, fresh, target, make_commit)
    sha = make_commit()
    force = step is branches.Step.REPLACE
    await push(target.cache, target.url, {branch: sha}, target.token, force=force)
    return branch, sha


def pr_title(issue: dict[str, Any]) -> str:
    """The PR's title: the issue's, on one line, with no closing keyword left before a
    reference (a squash merge makes the title the commit's subject)."""
    title = " ".join(str(issue.get("title") or "").split())[:MAX_TITLE_CHARS]
    return defuse_closing_keywords(title) or "selfheal change"


def pr_body(request: requests.Request, run: RequestRun, summary: str, files: list[str]) -> str:
    """The draft PR's body: ``Fixes #N`` (the only closing reference in it), the coder's
    summary, the files with their policy levels, the request, its agent and its cost. A
    summary that a model or an external tool wrote is untrusted: it is quoted as data (no
    markdown, HTML, image or mention renders) and none of its closing keywords is left."""
    agent = request.data.get("agent")
    text = defuse_closing_keywords(summary.strip()) or "The change the request asked for."
    if summary.strip() and not (isinstance(agent, dict) and agent.get("backend") == "rules"):
        text = quote_untrusted(text, "the coding agent's summary", limit=MAX_SUMMARY_CHARS)
    lines = [f"Fixes #{run.number}", "", text, ""]
    lines += ["| file | policy |", "|---|---|"]
    levels = dict(run.plan)
    lines += [f"| `{path}` | {levels.get(path, 'open')} |" for path in files]
    who = f" · agent `{agent['id']}`" if isinstance(agent, dict) and agent.get("id") else ""
    lines += ["", f"Request `{request.id}`{who} · cost {money(request.cost_usd)}"]
    return "\n".join(lines)


async def _existing_pr(gh: GitHubAPI, repo: str, branch: str) -> dict[str, Any] | None:
    """The open PR from ``branch``: one an attempt opened before its worker died."""
    owner, name = split(repo)
    found = await gh.call("pulls.list", owner=owner, repo=name, state="open",
                          head=f"{owner}:{branch}")  # fmt: skip
    return dict(found[0]) if found else None


async def open_draft_pr(run: RequestRun, request: requests.Request) -> None:
    """Open the request's draft PR (once: a retry finds the one already recorded)."""
    fresh = await run.ctx.ledger.aread(lambda c: requests.get(c, request.id))
    if fresh is None or fresh.pr_number is not None or fresh.branch is None:
        return
    gh: GitHubAPI = run.gh
    owner, name = split(run.repo)
    body = pr_body(
        fresh, run, str(fresh.data.get("summary") or ""), list(fresh.data.get("files") or [])
    )
    recovered = await _existing_pr(gh, run.repo, fresh.branch)
    pr = recovered or await gh.call("pulls.create", owner=owner, repo=name, data={
        "title": pr_title(run.issue), "head": fresh.branch,
        "base": str(fresh.data.get("base") or "main"), "body": body, "draft": True,
    })  # fmt: skip
    number = int(pr["number"])
    await gh.call("issues.add_labels", owner=owner, repo=name, issue_number=number,
                  data={"labels": [BOT_LABEL]})  # fmt: skip
    data = {**fresh.data, "pr_node_id": str(pr.get("node_id") or "")}
    await run.ctx.ledger.awrite(
        lambda c: requests.update(c, request.id, pr_number=number, data=data)
    )
    if recovered is not None:  # an attempt that died after opening it: its webhook may be lost
        await enqueue_gate(run.ctx, run.repo, number, str(pr["head"]["sha"]), "recovered")


async def mark_ready(run: RequestRun, request: requests.Request) -> None:
    fresh = await run.ctx.ledger.aread(lambda c: requests.get(c, request.id))
    node = str((fresh.data if fresh else {}).get("pr_node_id") or "")
    if node:
        await run.gh.graphql("pulls.mark_ready_for_review", id=node)


async def roll_back(run: RequestRun, request: requests.Request, delete_branch: bool) -> None:
    fresh = await run.ctx.ledger.aread(lambda c: requests.get(c, request.id))
    if fresh is None or fresh.pr_number is None:
        return
    owner, name = split(run.repo)
    await run.gh.call("pulls.update", owner=owner, repo=name, pull_number=fresh.pr_number,
                      data={"state": "closed"})  # fmt: skip
    if delete_branch and fresh.branch:
        await run.gh.call("git.delete_ref", owner=owner, repo=name, ref=f"heads/{fresh.branch}")


async def on_gate_complete(ctx: JobContext, outcome: GateOutcome) -> None:
    """The gate's listener: queue a ``request_gate`` job when the run was on a request's PR."""
    request = await ctx.ledger.aread(
        lambda c: requests.find_by_pr(c, outcome.repository, outcome.pr_number)
    )
    if request is None or request.head_sha != outcome.head_sha:
        return
    payload = {"request": request.id, "repository": outcome.repository,
               "installation_id": ctx.installation_id, "conclusion": outcome.conclusion,
               "title": outcome.title, "head_sha": outcome.head_sha}  # fmt: skip
    key = f"request-gate:{request.id}:{outcome.head_sha}:{outcome.conclusion}"
    await ctx.enqueue(GATE_JOB, payload, key=key, repository=outcome.repository)


async def drive_request(
    ctx: JobContext, request: requests.Request, event: machine.Event
) -> requests.Request:
    """Apply ``event`` to ``request`` on its issue as GitHub has it now."""
    from selfheal.changes.service import open_run

    ctx.repository = request.repository
    gh = await ctx.github()
    run = await open_run(ctx, gh, request.repository, request.issue_number)
    moved: requests.Request = await run.drive(request, event)
    return moved


async def _drive_request(ctx: JobContext, p: dict[str, Any], event: machine.Event) -> None:
    request = await ctx.ledger.aread(lambda c: requests.get(c, str(p["request"])))
    if request is None:
        return
    ctx.installation_id = p.get("installation_id")
    try:
        await drive_request(ctx, request, event)
    except machine.InvalidTransition as exc:
        # The request moved on meanwhile (halted, cancelled, closed): the late result is
        # recorded in the audit log and otherwise dropped, never retried.
        await ctx.audit("selfheal", "request.event_ignored",
                        {"request": request.id, "event": exc.kind, "state": exc.state.value,
                         "reason": exc.reason}, request=request.issue_number)  # fmt: skip


def code_job(backends: Mapping[str, BackendFactory]) -> JobHandler:
    """The ``request_code`` job, coding with ``backends`` (by name; the registry's own unless
    the feature was given others)."""

    async def run_code(job: jobs.Job, ctx: JobContext) -> None:
        """A queued request is coded. A retry that finds the request still coding (the
        worker died or GitHub failed mid-way) runs the coder again."""
        from selfheal.changes.service import open_run

        request = await ctx.ledger.aread(lambda c: requests.get(c, str(job.payload["request"])))
        if request is None or request.state not in RESUMABLE:
            return
        if request.state == machine.State.GATING and request.pr_number is not None:
            return  # the draft PR is open: the gate takes it from here
        owner = request.data.get("coding_job")
        if request.state != machine.State.QUEUED and owner not in (None, job.id):
            return  # another job codes this request (this one was queued twice)
        ctx.installation_id = job.payload.get("installation_id")
        ctx.repository = request.repository
        run = await open_run(ctx, await ctx.github(), request.repository, request.issue_number)
        run.backends = backends
        try:
            if request.state == machine.State.QUEUED:
                decision = await queue.start_decision(run, request)
                if not decision.allowed:
                    await _hold(run, request, decision)
                    return
                data = {**request.data, "coding_job": job.id}
                request = await ctx.ledger.awrite(
                    lambda c: requests.update(c, request.id, data=data)
                )
                await run.drive(request, machine.Started())
            elif request.state == machine.State.CODING:
                await run.drive(request, await code(run, request))
            else:  # pushed and moved to gating, but the worker died before the PR
                await open_draft_pr(run, request)
        except machine.InvalidTransition as exc:  # another job moved it first
            ctx.log.info("request moved on", extra={"request": request.id, "reason": str(exc)})
        except Superseded as exc:
            ctx.log.info("coding result dropped", extra={"request": request.id,
                                                         "reason": str(exc)})  # fmt: skip

    return run_code


async def _hold(run: RequestRun, request: requests.Request, decision: LimitDecision) -> None:
    """The limits hold ``request`` back: the status comment says why, and its coding job is
    tried again later."""
    wait = queue.wait_seconds(decision)
    note = f"waiting: {decision.reason}; selfheal tries again in about {wait:.0f} s"
    await run.update_status(request, machine.UpdateStatusComment(machine.State.QUEUED, note))
    await run.ctx.enqueue(CODE_JOB, {"request": request.id,
                          "installation_id": run.ctx.installation_id},
                          key=f"request-code:{request.id}:wait:{time.time():.3f}",
                          repository=run.repo, delay=wait)  # fmt: skip


async def kick_queue(ctx: JobContext, repo: str, why: str) -> None:
    """A bot PR closed, so a slot may be free: ask again for every queued request of
    ``repo`` now rather than at its next timed attempt."""
    queued = await ctx.ledger.aread(lambda c: requests.find(
        c, repository=repo, states=[machine.State.QUEUED.value], limit=1000))  # fmt: skip
    for request in queued:
        await ctx.enqueue(CODE_JOB, {"request": request.id,
                          "installation_id": ctx.installation_id},
                          key=f"request-code:{request.id}:{why}", repository=repo)  # fmt: skip


async def run_gate_result(job: jobs.Job, ctx: JobContext) -> None:
    """The ``request_gate`` job: the gate's verdict on the request's PR."""
    p = job.payload
    conclusion = p.get("conclusion")
    event: machine.Event
    if conclusion == "success":
        event = machine.GatePassed()
    elif conclusion == "action_required":  # an owner must approve the diff on the gate
        event = machine.GateNeedsApproval()
    else:
        event = machine.GateFailed(str(p.get("title") or "failure"))
    await _drive_request(ctx, p, event)
