"""The monitor's webhooks: CI runs that failed, and its issues closed or reopened.

Handlers only read the payload and queue a job. ``workflow_run``, ``workflow_job`` and
``check_run`` events that completed with a counted conclusion queue a ``monitor_ci`` job,
which reads the repository's config, the run's failed jobs and their annotations, and hands
the failures to :class:`~selfheal.monitor.ingest.Ingest`. A run that several events name is
counted once (its occurrences are keyed by run id and attempt). The bot's own branches and its
own check runs are never counted.
"""

from __future__ import annotations

import logging
from typing import Any

import gidgethub
from gidgethub import routing
from gidgethub.sansio import Event

from selfheal.github.client import DownloadTooLarge
from selfheal.github.repo import split
from selfheal.ledger import jobs
from selfheal.ledger import monitor as store
from selfheal.monitor import ci
from selfheal.monitor.filing import limits_from, monitored
from selfheal.monitor.ingest import Ingest
from selfheal.monitor.security import queue_scan
from selfheal.runtime.context import JobContext

router = routing.Router()

CI_JOB = "monitor_ci"
ACTIONS_APP = "github-actions"


def _quick_skip(conclusion: Any, branch: Any) -> bool:
    """What the payload alone rules out (the job checks the config's branches)."""
    return conclusion in ci.NEVER or not branch or str(branch).startswith(ci.BOT_BRANCH_PREFIX)


async def _queue(ctx: JobContext, data: dict[str, Any], payload: dict[str, Any]) -> None:
    repo = str(data["repository"]["full_name"])
    payload = {**payload, "repository": repo, "installation_id": ctx.installation_id,
               "default_branch": data["repository"].get("default_branch")}  # fmt: skip
    key = f"{CI_JOB}:{repo}:{payload.get('run_id') or payload.get('check_run_id')}:" \
          f"{payload.get('attempt', 1)}"  # fmt: skip
    await ctx.enqueue(CI_JOB, payload, key=key, repository=repo)


@router.register("workflow_run", action="completed")
async def on_workflow_run(event: Event, ctx: JobContext) -> None:
    run = event.data["workflow_run"]
    if _quick_skip(run.get("conclusion"), run.get("head_branch")):
        return
    await _queue(ctx, event.data, {
        "run_id": int(run["id"]), "attempt": int(run.get("run_attempt") or 1),
        "conclusion": run.get("conclusion"), "branch": run.get("head_branch"),
        "head_sha": run.get("head_sha"), "workflow": str(run.get("name") or "workflow"),
    })  # fmt: skip


@router.register("workflow_job", action="completed")
async def on_workflow_job(event: Event, ctx: JobContext) -> None:
    job = event.data["workflow_job"]
    if _quick_skip(job.get("conclusion"), job.get("head_branch")):
        return
    await _queue(ctx, event.data, {
        "run_id": int(job["run_id"]), "attempt": int(job.get("run_attempt") or 1),
        "conclusion": job.get("conclusion"), "branch": job.get("head_branch"),
        "head_sha": job.get("head_sha"), "workflow": str(job.get("workflow_name") or "workflow"),
    })  # fmt: skip


@router.register("check_run", action="completed")
async def on_check_run(event: Event, ctx: JobContext) -> None:
    """Check runs of other CI apps (GitHub Actions' own arrive as workflow jobs; selfheal's
    gate is never counted)."""
    check = event.data["check_run"]
    slug = str((check.get("app") or {}).get("slug") or "")
    if slug == ACTIONS_APP or f"{slug}[bot]".lower() == (await ctx.bot_login()).lower():
        return
    branch = (check.get("check_suite") or {}).get("head_branch")
    if _quick_skip(check.get("conclusion"), branch):
        return
    await _queue(ctx, event.data, {
        "check_run_id": int(check["id"]), "conclusion": check.get("conclusion"),
        "branch": branch, "head_sha": check.get("head_sha"),
        "workflow": str(check.get("name") or "check"),
    })  # fmt: skip


@router.register("installation", action="created")
@router.register("installation_repositories", action="added")
async def on_installed(event: Event, ctx: JobContext) -> None:
    """New repositories to probe: start the scheduler's tick chain if it is not running."""
    from selfheal.monitor.probes import start_ticking

    await start_ticking(ctx)


@router.register("push")
async def on_push(event: Event, ctx: JobContext) -> None:
    """A push to a default branch may change ``monitor.endpoints``: make sure ticks run."""
    repo = event.data.get("repository") or {}
    if event.data.get("ref") != f"refs/heads/{repo.get('default_branch')}":
        return
    from selfheal.monitor.probes import start_ticking

    await start_ticking(ctx)
    after = str(event.data.get("after") or "")
    if after and set(after) != {"0"} and ctx.worker.config.monitor.scan_hours > 0:
        name = str(repo["full_name"])
        await ctx.ledger.awrite(lambda c: queue_scan(c, name, ctx.installation_id, after))
        ctx.worker.notify()


@router.register("issues", action="closed")
@router.register("issues", action="reopened")
async def on_monitor_issue(event: Event, ctx: JobContext) -> None:
    """A monitor issue closed or reopened: the next sync reads its state afresh."""
    repo = str(event.data["repository"]["full_name"])
    number = int(event.data["issue"]["number"])
    tracked = await ctx.ledger.aread(lambda c: store.by_issue(c, repo, number))
    if tracked is None:
        return
    state = str(event.data["issue"].get("state") or "closed")
    await ctx.ledger.awrite(
        lambda c: c.execute("UPDATE monitor_fingerprints SET issue_state = ? WHERE id = ?",
                            (state, tracked.id))
    )  # fmt: skip


async def _annotations(gh: Any, owner: str, name: str, check_run_id: int) -> list[Any]:
    """A check run's annotations; none when GitHub has no check run by that id."""
    try:
        return [a async for a in gh.paginate("checks.list_annotations", owner=owner, repo=name,
                                             check_run_id=check_run_id)]  # fmt: skip
    except gidgethub.BadRequest as exc:
        if exc.status_code == 404:
            return []
        raise


log = logging.getLogger(__name__)

# What the monitor downloads from a failed run, at most: a run's artifacts (the JUnit reports
# a test step uploaded), each artifact, each XML file in one, and a failed job's log.
MAX_ARTIFACTS = 5
MAX_ARTIFACT_BYTES = 10 * 1024 * 1024
MAX_REPORTS = 20
MAX_LOG_BYTES = 1024 * 1024


async def _download(gh: Any, name: str, max_bytes: int, **params: Any) -> bytes | None:
    """A download, or None when it is gone, too large or refused (the run still counts:
    it falls back to what the job says about itself)."""
    try:
        data: bytes = await gh.download(name, max_bytes=max_bytes, **params)
    except DownloadTooLarge:
        log.warning("monitor: download too large, skipped", extra={"call": name})
        return None
    except gidgethub.BadRequest as exc:
        if exc.status_code in (404, 410):  # expired or deleted
            return None
        raise
    return data


async def _junit_events(
    gh: Any, owner: str, name: str, run_id: int, *, run: str, commit: str | None, repo: str
) -> list[dict[str, Any]]:
    """The failing tests of the JUnit XML reports among the run's artifacts."""
    artifacts = await gh.call("actions.list_workflow_run_artifacts", owner=owner, repo=name,
                              run_id=run_id)  # fmt: skip
    events: list[dict[str, Any]] = []
    for artifact in (artifacts.get("artifacts") or [])[:MAX_ARTIFACTS]:
        if artifact.get("expired") or int(artifact.get("size_in_bytes") or 0) > MAX_ARTIFACT_BYTES:
            continue
        blob = await _download(gh, "actions.download_artifact", MAX_ARTIFACT_BYTES, owner=owner,
                               repo=name, artifact_id=int(artifact["id"]),
                               archive_format="zip")  # fmt: skip
        for report in ci.junit_reports(blob or b"", MAX_REPORTS):
            try:
                failures = ci.parse_junit(report)
            except ci.JUnitError:
                continue  # an XML file that is not a JUnit report
            events.extend(ci.junit_events(failures, run=run, commit=commit, repository=repo))
    return events[: ci.MAX_FAILURES]


async def _log_tail(gh: Any, owner: str, name: str, job_id: int) -> str:
    """The last lines of a failed job's log (bounded download), or nothing."""
    data = await _download(gh, "actions.download_job_logs_for_workflow_run", MAX_LOG_BYTES,
                           owner=owner, repo=name, job_id=job_id)  # fmt: skip
    return ci.tail(data.decode("utf-8", "replace")) if data else ""


async def _failures(
    ctx: JobContext, p: dict[str, Any], repo: str, run: str
) -> list[dict[str, Any]]:
    gh = await ctx.github()
    owner, name = split(repo)
    commit = p.get("head_sha")
    if p.get("check_run_id"):
        found = await _annotations(gh, owner, name, int(p["check_run_id"]))
        marked = ci.annotation_events(found, run=run, commit=commit, repository=repo)
        return marked or [ci.job_event({"name": p["workflow"]}, workflow="check", run=run,
                                       commit=commit, repository=repo)]  # fmt: skip
    run_id = int(p["run_id"])
    junit = await _junit_events(gh, owner, name, run_id, run=run, commit=commit, repo=repo)
    events: list[dict[str, Any]] = list(junit)
    async for job in gh.paginate("actions.list_jobs_for_workflow_run", owner=owner, repo=name,
                                 run_id=run_id):  # fmt: skip
        if job.get("conclusion") not in ("failure", "timed_out"):
            continue
        notes = await _annotations(gh, owner, name, int(job["id"]))
        found = ci.annotation_events(notes, run=run, commit=commit, repository=repo)
        if found or junit:  # the failing tests are named: no job-level event besides
            events.extend(found)
            continue
        log = await _log_tail(gh, owner, name, int(job["id"]))
        events.append(ci.job_event(job, workflow=str(p["workflow"]), run=run, commit=commit,
                                   repository=repo, log_tail=log))  # fmt: skip
    return events[: ci.MAX_FAILURES]


async def run_ci(job: jobs.Job, ctx: JobContext) -> None:
    """The ``monitor_ci`` job: a completed CI run's failures into the monitor."""
    p = job.payload
    found = await monitored(job, ctx)
    if found is None:
        return
    repo, _, config = found
    if not ci.counts(p.get("conclusion"), p.get("branch"), p.get("default_branch"),
                     branches=config.monitor.branches,
                     count_timed_out=config.monitor.count_timed_out):  # fmt: skip
        return
    run = ci.run_key(p.get("run_id") or f"check-{p.get('check_run_id')}", p.get("attempt"))
    events = await _failures(ctx, p, repo, run)
    limits = limits_from(ctx.worker.config.monitor).tightened(
        config.monitor.threshold, config.monitor.window_days
    )
    sink = Ingest(ctx.ledger, limits=limits, notify=ctx.worker.notify)
    await sink.record(events, reporter="ci", repository=repo)
