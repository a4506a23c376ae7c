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
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pygit2

from selfheal.changes import actions, machine
from selfheal.coder.interface import (
    BackendFactory,
    BackendOptions,
    CodeTask,
    Limits,
    Outcome,
)
from selfheal.coder.runner import CodingRun, run_coder
from selfheal.gate import GateOutcome
from selfheal.git.clones import branch_refspec, fetch
from selfheal.git.commits import bot_identity, branch_name, commit_message, commit_on, push
from selfheal.git.worktrees import export_tree, snapshot
from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import split
from selfheal.ledger import jobs, requests
from selfheal.model.labels import BOT_LABEL
from selfheal.model.policy import PolicyError, load_default_policy
from selfheal.reviewer.reviewer import policy_at
from selfheal.runtime.context import JobContext, JobHandler

if TYPE_CHECKING:  # the run type only; service imports this module
    from selfheal.changes.service import RequestRun

CODE_JOB = "request_code"
GATE_JOB = "request_gate"
DEFAULT_BACKEND = "rules"


def task_of(request: requests.Request, description: str) -> CodeTask:
    return CodeTask(request.id, description, request.change_type, request.targets)


async def _token(gh: GitHubAPI) -> str | None:
    return (await gh.credential.get())[1] if gh.credential is not None else None


def _run_coder_sync(
    cache: Path, base: str, task: CodeTask, budget: float, approved: bool, factory: BackendFactory
) -> tuple[CodingRun, str | None, list[str]]:
    """Blocking: export, code, read back. Returns the run, the new tree (None when nothing
    changed) and the changed paths."""
    with tempfile.TemporaryDirectory(prefix="selfheal-code-") as tmp:
        work = Path(tmp) / "work"
        export_tree(cache, base, work)
        policy = policy_at(cache, base)
        if isinstance(policy, PolicyError):
            raise ValueError(f"the policy does not parse: {policy}")
        coder = factory(BackendOptions())
        coding = run_coder(coder, work, task, Limits(budget_usd=budget), policy=policy,
                           defaults=load_default_policy(), review_approved=approved,
                           disposable=True)  # fmt: skip
        if coding.result.outcome is not Outcome.CHANGED:
            return coding, None, []
        tree, changes = snapshot(cache, base, work, keep=coding.scrubbed)
        return coding, tree, [c.path for c in changes]


async def code(run: RequestRun, request: requests.Request) -> machine.Event:
    """Run the request's coder and push its branch; the event for the state machine."""
    gh: GitHubAPI = run.gh
    owner, name = split(run.repo)
    info = await gh.call("repos.get", owner=owner, repo=name)
    default, url = str(info["default_branch"]), str(info["clone_url"])
    token = await _token(gh)
    started = time.monotonic()
    cache = await fetch(run.ctx.data_dir, run.repo, url, [branch_refspec(default)], token)
    fetched = time.monotonic()
    git = pygit2.Repository(str(cache))
    base = str(git.references[f"refs/remotes/origin/{default}"].target)
    description = str(run.issue.get("body") or "")
    factory = actions.bind(run.backends[DEFAULT_BACKEND], run.ctx, gh, run.repo, default)
    try:
        coding, tree, paths = await asyncio.to_thread(
            _run_coder_sync, cache, base, task_of(request, description), request.budget_usd,
            bool(request.data.get("approved_by")), factory,
        )  # fmt: skip
    except ValueError as exc:
        return machine.Error(str(exc))
    coded = time.monotonic()
    result = coding.result
    if result.outcome is Outcome.LIMIT_REACHED:
        return machine.Error(f"a limit stopped the coder: {result.reason}")
    if tree is None:
        return machine.NothingToDo(result.reason or result.summary)
    bot = await run.ctx.bot_login()
    title = str(run.issue.get("title") or "change")
    message = commit_message(f"{title} (#{run.number})", result.summary,
                             {"Selfheal-Request": f"{run.repo}#{run.number}",
                              "Requested-by": request.requester})  # fmt: skip
    sha = commit_on(cache, base, tree, message, bot_identity(bot.removesuffix("[bot]")))
    branch = branch_name(run.number, title, taken=await _branches(gh, run.repo, run.number))
    await push(cache, url, {branch: sha}, token)
    timings = {"fetch": fetched - started, "code": coded - fetched,
               "commit_push": time.monotonic() - coded}  # fmt: skip
    run.ctx.log.info("request coded", extra={"request": request.id, **{
        f"{k}_seconds": round(v, 3) for k, v in timings.items()}})  # fmt: skip
    data = {**request.data, "base": default, "summary": result.summary, "files": paths,
            "timings": {k: round(v, 4) for k, v in timings.items()}}  # fmt: skip
    await run.ctx.ledger.awrite(
        lambda c: requests.update(c, request.id, branch=branch, head_sha=sha, data=data)
    )
    return machine.Coded(tuple(paths), result.summary)


async def _branches(gh: GitHubAPI, repo: str, number: int) -> list[str]:
    """The branches already named ``selfheal/<number>-...`` (an earlier attempt's)."""
    owner, name = split(repo)
    refs = await gh.call("git.list_matching_refs", owner=owner, repo=name,
                         ref=f"heads/selfheal/{number}-")  # fmt: skip
    return [str(ref["ref"]).removeprefix("refs/heads/") for ref in refs or []]


def pr_body(request: requests.Request, run: RequestRun, summary: str, files: list[str]) -> str:
    lines = [f"Fixes #{run.number}", "", summary or "The change the request asked for.", ""]
    lines += ["| file | policy |", "|---|---|"]
    levels = dict(run.plan)
    lines += [f"| `{path}` | {levels.get(path, 'open')} |" for path in files]
    lines += ["", f"Request `{request.id}` · cost ${request.cost_usd:.2f}"]
    return "\n".join(lines)


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
    pr = await gh.call("pulls.create", owner=owner, repo=name, data={
        "title": str(run.issue.get("title") or "selfheal change"), "head": fresh.branch,
        "base": str(fresh.data.get("base") or "main"), "body": body, "draft": True,
    })  # fmt: skip
    number = int(pr["number"])
    await gh.call("issues.add_labels", owner=owner, repo=name, issue_number=number,
                  data={"labels": [BOT_LABEL]})  # fmt: skip
    data = {**fresh.data, "pr_node_id": str(pr.get("node_id") or "")}
    await run.ctx.ledger.awrite(
        lambda c: requests.update(c, request.id, pr_number=number, data=data)
    )


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
    await drive_request(ctx, request, event)


def code_job(backends: Mapping[str, BackendFactory]) -> JobHandler:
    """The ``request_code`` job, coding with ``backends`` (by name; the registry's own unless
    the feature was given others)."""

    async def run_code(job: jobs.Job, ctx: JobContext) -> None:
        """A queued request is coded. A retry that finds the request still coding (the
        worker died or GitHub failed mid-way) runs the coder again."""
        from selfheal.changes.service import open_run

        request = await ctx.ledger.aread(lambda c: requests.get(c, str(job.payload["request"])))
        if request is None or request.state not in (machine.State.QUEUED, machine.State.CODING):
            return
        ctx.installation_id = job.payload.get("installation_id")
        ctx.repository = request.repository
        run = await open_run(ctx, await ctx.github(), request.repository, request.issue_number)
        run.backends = backends
        if request.state == machine.State.QUEUED:
            await run.drive(request, machine.Started())
        else:
            await run.drive(request, await code(run, request))

    return run_code


async def run_gate_result(job: jobs.Job, ctx: JobContext) -> None:
    """The ``request_gate`` job: the gate's verdict on the request's PR."""
    p = job.payload
    passed = p.get("conclusion") == "success"
    event: machine.Event = (
        machine.GatePassed() if passed else machine.GateFailed(str(p.get("title") or "failure"))
    )
    if p.get("conclusion") == "action_required":
        return  # an owner must approve the diff on the gate; the request waits in gating
    await _drive_request(ctx, p, event)
