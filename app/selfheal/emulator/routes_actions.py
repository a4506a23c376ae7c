"""GitHub Actions over REST: dispatch a workflow, list, get and cancel runs, list a run's
jobs, download a job's log, list a run's artifacts and download one. Logs and artifacts are
downloaded as GitHub does it: a 302 to a short-lived signed URL on storage, which takes no
``Authorization`` header (``/_emulator/storage/...`` here)."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from . import workflows
from .auth import actor_of
from .context import emu, identity, repo_for
from .responses import ApiError, body, no_content, not_found, paginate, reply

RUN_FILTERS = ("event", "head_sha", "branch")


async def get_run(request: web.Request) -> web.Response:
    repo = repo_for(request)
    run = repo.workflow_runs.get(int(request.match_info["run_id"]))
    if run is None:
        raise not_found()
    return reply(run)


def _matches(run: dict[str, Any], query: Any) -> bool:
    fields = {"event": run["event"], "head_sha": run["head_sha"], "branch": run["head_branch"]}
    for key in RUN_FILTERS:
        if key in query and query[key] != fields[key]:
            return False
    if "actor" in query and run["actor"]["login"].lower() != query["actor"].lower():
        return False
    status = query.get("status")
    return status is None or status in (run["status"], run["conclusion"])


def _runs_reply(request: web.Request, runs: list[dict[str, Any]]) -> web.Response:
    found = sorted((r for r in runs if _matches(r, request.query)), key=lambda r: -r["id"])
    chunk, headers = paginate(request, found)
    return reply({"total_count": len(found), "workflow_runs": chunk}, headers=headers)


async def list_runs(request: web.Request) -> web.Response:
    repo = repo_for(request)
    return _runs_reply(request, list(repo.workflow_runs.values()))


async def list_workflow_runs(request: web.Request) -> web.Response:
    repo = repo_for(request)
    wf = workflows.load_workflow(repo, repo.default_branch, request.match_info["workflow_id"])
    return _runs_reply(request, [r for r in repo.workflow_runs.values() if r["path"] == wf.path])


async def dispatch(request: web.Request) -> web.Response:
    repo = repo_for(request, "write")
    data = await body(request)
    ref = data.get("ref")
    if not isinstance(ref, str) or not ref:
        raise ApiError(422, 'Invalid request.\n\n"ref" wasn\'t supplied.')
    actor = actor_of(identity(request))
    run = workflows.dispatch(
        emu(request), repo, request.match_info["workflow_id"], ref, data.get("inputs"), actor
    )
    if data.get("return_run_details") is True:
        return reply(
            {"workflow_run_id": run["id"], "run_url": run["url"], "html_url": run["html_url"]}
        )
    return no_content()


async def cancel_run(request: web.Request) -> web.Response:
    repo = repo_for(request, "write")
    run = repo.workflow_runs.get(int(request.match_info["run_id"]))
    if run is None:
        raise not_found()
    workflows.cancel(emu(request), repo, run, actor_of(identity(request)))
    return reply({}, status=202)


async def list_jobs(request: web.Request) -> web.Response:
    repo = repo_for(request)
    run_id = int(request.match_info["run_id"])
    if run_id not in repo.workflow_runs:
        raise not_found()
    jobs = repo.workflow_jobs.get(run_id, [])
    chunk, headers = paginate(request, jobs)
    return reply({"total_count": len(jobs), "jobs": chunk}, headers=headers)


async def job_logs(request: web.Request) -> web.Response:
    repo = repo_for(request)
    job = workflows.find_job(repo, int(request.match_info["job_id"]))
    state = emu(request).run_states.get(job["run_id"])
    if job["status"] != "completed" or state is None or job["id"] not in state.logs:
        raise not_found()  # GitHub serves a job's log once the job is over
    text = state.logs[job["id"]].encode()
    location = workflows.sign(emu(request), text, "text/plain")
    return web.Response(status=302, headers={"Location": location})


async def list_artifacts(request: web.Request) -> web.Response:
    repo = repo_for(request)
    run_id = int(request.match_info["run_id"])
    if run_id not in repo.workflow_runs:
        raise not_found()
    state = emu(request).run_states.get(run_id)
    artifacts = list(state.artifacts) if state else []
    if "name" in request.query:
        artifacts = [a for a in artifacts if a["name"] == request.query["name"]]
    chunk, headers = paginate(request, artifacts)
    return reply({"total_count": len(artifacts), "artifacts": chunk}, headers=headers)


async def download_artifact(request: web.Request) -> web.Response:
    repo = repo_for(request)
    if request.match_info["archive_format"] != "zip":
        raise not_found()
    artifact = workflows.find_artifact(emu(request), repo, int(request.match_info["artifact_id"]))
    if artifact["expired"]:
        raise ApiError(410, "Artifact has expired")
    blob = emu(request).artifact_blobs[artifact["id"]]
    location = workflows.sign(emu(request), blob, "application/zip")
    return web.Response(status=302, headers={"Location": location})


async def storage(request: web.Request) -> web.Response:
    """A signed storage URL: no Authorization header (storage refuses a second credential,
    and a client that forwards its GitHub token here would be leaking it)."""
    if "Authorization" in request.headers:
        return web.Response(status=400, text="Only one auth mechanism allowed")
    entry = emu(request).signed_blobs.get(request.match_info["key"])
    if entry is None or entry[2] < time.time():
        return web.Response(status=403, text="AuthenticationFailed: signature expired")
    content, content_type, _ = entry
    return web.Response(body=content, content_type=content_type)


def setup(router: web.UrlDispatcher) -> None:
    actions = "/repos/{owner}/{repo}/actions"
    runs = actions + "/runs/{run_id:\\d+}"
    router.add_get(actions + "/runs", list_runs)
    router.add_get(runs, get_run)
    router.add_get(runs + "/jobs", list_jobs)
    router.add_post(runs + "/cancel", cancel_run)
    router.add_get(runs + "/artifacts", list_artifacts)
    router.add_get(actions + "/jobs/{job_id:\\d+}/logs", job_logs)
    router.add_get(actions + "/artifacts/{artifact_id:\\d+}/{archive_format}", download_artifact)
    router.add_get(actions + "/workflows/{workflow_id}/runs", list_workflow_runs)
    router.add_post(actions + "/workflows/{workflow_id}/dispatches", dispatch)
    router.add_get("/_emulator/storage/{key}", storage)
