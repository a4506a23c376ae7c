"""GitHub Actions runs the emulator simulated (``Emulator.complete_workflow_run``): get a run
and list its jobs, as the monitor does when a workflow_run.completed webhook arrives."""

from __future__ import annotations

from aiohttp import web

from .context import repo_for
from .responses import not_found, paginate, reply


async def get_run(request: web.Request) -> web.Response:
    repo = repo_for(request)
    run = repo.workflow_runs.get(int(request.match_info["run_id"]))
    if run is None:
        raise not_found()
    return reply(run)


async def list_jobs(request: web.Request) -> web.Response:
    repo = repo_for(request)
    run_id = int(request.match_info["run_id"])
    if run_id not in repo.workflow_runs:
        raise not_found()
    jobs = repo.workflow_jobs.get(run_id, [])
    chunk, headers = paginate(request, jobs)
    return reply({"total_count": len(jobs), "jobs": chunk}, headers=headers)


def setup(router: web.UrlDispatcher) -> None:
    runs = "/repos/{owner}/{repo}/actions/runs/{run_id:\\d+}"
    router.add_get(runs, get_run)
    router.add_get(runs + "/jobs", list_jobs)
