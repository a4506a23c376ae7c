"""Check runs and check suites: create/update (annotations appended across updates, at most 50
per request), get, list for a ref, annotations, rerequest."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import events, gitdata
from .auth import NOT_INTEGRATION, Identity
from .context import emu, identity, repo_for
from .events import open_pulls_for
from .responses import (
    ApiError,
    body,
    iso_to_ts,
    not_found,
    paged_reply,
    paginate,
    reply,
    validation,
)
from .state import App, CheckRun, Repo, User

if TYPE_CHECKING:
    from .emulator import Emulator

MAX_ANNOTATIONS = 50
MAX_TEXT = 65535
MAX_ACTIONS = 3
STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
CONCLUSIONS = (
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
)
LEVELS = ("notice", "warning", "failure")
ANNOTATION_KEYS = ("path", "start_line", "end_line", "annotation_level", "message")


def _app(ident: Identity) -> tuple[App, User]:
    inst = ident.installation
    if inst is None or ident.user is None:
        raise ApiError(403, "You must authenticate via a GitHub App.")
    return inst.app, ident.user


def _validate_output(output: Any) -> dict[str, Any]:
    if output is None:
        return {}
    if not isinstance(output, dict):
        raise validation("CheckRun", "output", "invalid")
    for key in ("title", "summary", "text"):
        value = output.get(key)
        if value is not None and len(str(value)) > MAX_TEXT:
            raise ApiError(
                422,
                "Invalid request.\n\nOnly 65535 characters are allowed; "
                f"{len(str(value))} were supplied.",
                errors=[{"resource": "CheckRun", "field": f"output.{key}", "code": "too_long"}],
            )
    annotations = output.get("annotations") or []
    if len(annotations) > MAX_ANNOTATIONS:
        raise ApiError(422, "Invalid request.\n\nOnly 50 annotations are allowed per request.")
    for a in annotations:
        if not isinstance(a, dict) or any(k not in a for k in ANNOTATION_KEYS):
            raise validation("CheckRun", "output.annotations", "missing_field")
        if a["annotation_level"] not in LEVELS:
            raise validation("CheckRun", "output.annotations.annotation_level", "invalid")
    return output


def _validate_actions(actions: Any) -> list[dict[str, str]]:
    if actions is None:
        return []
    if not isinstance(actions, list) or len(actions) > MAX_ACTIONS:
        raise ApiError(422, "Invalid request.\n\nOnly 3 actions are allowed per request.")
    for a in actions:
        if (
            not isinstance(a, dict)
            or len(str(a.get("label", ""))) > 20
            or len(str(a.get("description", ""))) > 40
            or len(str(a.get("identifier", ""))) > 20
            or not a.get("identifier")
        ):
            raise validation("CheckRun", "actions", "invalid")
    return [dict(a) for a in actions]


def _apply(run: CheckRun, data: dict[str, Any]) -> None:
    """Apply a create or update request to ``run``; its output, actions, status and
    conclusion are validated before anything changes."""
    output = _validate_output(data.get("output"))
    actions = _validate_actions(data.get("actions")) if "actions" in data else None
    status, conclusion = _validate_state(run, data)
    for key in ("name", "external_id", "details_url"):
        if key in data:
            setattr(run, key, data[key])
    _apply_state(run, data, status, conclusion)
    _apply_output(run, output)
    if actions is not None:
        run.actions = actions


def _validate_state(run: CheckRun, data: dict[str, Any]) -> tuple[Any, Any]:
    """The requested (status, conclusion); a conclusion implies "completed", which needs one."""
    status, conclusion = data.get("status"), data.get("conclusion")
    if status is not None and status not in STATUSES:
        raise validation("CheckRun", "status", "invalid")
    if conclusion is not None and conclusion not in CONCLUSIONS:
        raise validation("CheckRun", "conclusion", "invalid")
    if conclusion is not None:
        status = "completed"
    if status == "completed" and conclusion is None and run.conclusion is None:
        raise validation("CheckRun", "conclusion", "missing_field")
    return status, conclusion


def _apply_state(run: CheckRun, data: dict[str, Any], status: Any, conclusion: Any) -> None:
    """Set the status and conclusion; a run completes once, at ``completed_at`` or now."""
    if status:
        run.status = status
    if conclusion:
        run.conclusion = conclusion
    if run.status == "completed" and run.completed_at is None:
        run.completed_at = _ts(data, "completed_at") or time.time()


def _apply_output(run: CheckRun, output: dict[str, Any]) -> None:
    """Replace the output texts given; append the annotations (they add up across updates)."""
    for key in ("title", "summary", "text"):
        if key in output:
            run.output[key] = output[key]
    run.annotations.extend(dict(a) for a in output.get("annotations") or [])


def _ts(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    return iso_to_ts(str(value), "CheckRun", key) if value else None


def _run(repo: Repo, request: web.Request) -> CheckRun:
    run = repo.check_runs.get(int(request.match_info["check_run_id"]))
    if run is None:
        raise not_found()
    return run


async def create_check_run(request: web.Request) -> web.Response:
    repo = repo_for(request)
    e = emu(request)
    app, actor = _app(identity(request))
    data = await body(request)
    name, sha = data.get("name"), str(data.get("head_sha", ""))
    if not isinstance(name, str) or not name:
        raise validation("CheckRun", "name", "missing_field")
    git = gitdata.open_repo(repo.path)
    if gitdata.resolve(git, sha) is None or len(sha) != 40:
        raise ApiError(422, "No commit found for SHA: " + sha)
    branch = next(
        (
            n.removeprefix("refs/heads/")
            for n, s in gitdata.refs(git).items()
            if s == sha and n.startswith("refs/heads/")
        ),
        None,
    )
    suite, _ = events.suite_for(e, repo, app.id, sha, branch)
    now = time.time()
    run = CheckRun(
        id=e.world.next_id(),
        suite=suite,
        name=name,
        head_sha=sha,
        status="queued",
        conclusion=None,
        started_at=_ts(data, "started_at") or now,
        completed_at=None,
        external_id=str(data.get("external_id", "")),
        details_url=data.get("details_url"),
        output={"title": None, "summary": None, "text": None},
    )
    _apply(run, data)
    repo.check_runs[run.id] = run
    suite.updated_at = now
    events.check_run_event(e, repo, run, "created", actor)
    if run.status == "completed":
        _completed(e, repo, run, actor)
    return reply(e.render.check_run(repo, run, open_pulls_for(repo, sha)), status=201)


def _completed(e: Emulator, repo: Repo, run: CheckRun, actor: User) -> None:
    events.check_run_event(e, repo, run, "completed", actor)
    siblings = [r for r in repo.check_runs.values() if r.suite.id == run.suite.id]
    if all(r.status == "completed" for r in siblings):
        events.check_suite_event(e, repo, run.suite, "completed", actor)


async def update_check_run(request: web.Request) -> web.Response:
    repo = repo_for(request)
    e = emu(request)
    app, actor = _app(identity(request))
    run = _run(repo, request)
    if run.suite.app.id != app.id:
        raise ApiError(
            403, f"Invalid app_id `{app.id}` - check run can only be modified by its creator."
        )
    was_completed = run.status == "completed"
    _apply(run, await body(request))
    run.suite.updated_at = time.time()
    if run.status == "completed" and not was_completed:
        _completed(e, repo, run, actor)
    return reply(e.render.check_run(repo, run, open_pulls_for(repo, run.head_sha)))


async def get_check_run(request: web.Request) -> web.Response:
    repo = repo_for(request)
    run = _run(repo, request)
    return reply(emu(request).render.check_run(repo, run, open_pulls_for(repo, run.head_sha)))


async def list_annotations(request: web.Request) -> web.Response:
    repo = repo_for(request)
    job_notes = repo.job_annotations.get(int(request.match_info["check_run_id"]))
    if job_notes is not None:  # a workflow job's check run
        head_sha, notes = job_notes[0]["head_sha"], job_notes[1:]
    else:
        run = _run(repo, request)
        head_sha, notes = run.head_sha, run.annotations
    api = f"{emu(request).render.base}/repos/{repo.full_name}/blob/{head_sha}"
    items = []
    for a in notes:
        items.append(
            {
                "path": a["path"],
                "start_line": a["start_line"],
                "end_line": a["end_line"],
                "start_column": a.get("start_column"),
                "end_column": a.get("end_column"),
                "annotation_level": a["annotation_level"],
                "title": a.get("title"),
                "message": a["message"],
                "raw_details": a.get("raw_details"),
                "blob_href": f"{api}/{a['path']}",
            }
        )
    return paged_reply(request, items)


def _sha_for(repo: Repo, ref: str) -> str:
    commit = gitdata.resolve(gitdata.open_repo(repo.path), ref)
    if commit is None:
        raise ApiError(422, f"No commit found for SHA: {ref}")
    return str(commit.id)


async def runs_for_ref(request: web.Request) -> web.Response:
    repo = repo_for(request)
    sha = _sha_for(repo, request.match_info["ref"])
    q = request.query
    runs = [r for r in repo.check_runs.values() if r.head_sha == sha]
    if q.get("check_name"):
        runs = [r for r in runs if r.name == q["check_name"]]
    if q.get("status"):
        runs = [r for r in runs if r.status == q["status"]]
    if q.get("app_id"):
        runs = [r for r in runs if str(r.suite.app.id) == q["app_id"]]
    if q.get("filter", "latest") == "latest":
        latest: dict[tuple[int, str], CheckRun] = {}
        for r in runs:
            key = (r.suite.app.id, r.name)
            if key not in latest or (r.started_at, r.id) > (latest[key].started_at, latest[key].id):
                latest[key] = r
        runs = list(latest.values())
    runs.sort(key=lambda r: r.id, reverse=True)
    render = emu(request).render
    pulls = open_pulls_for(repo, sha)
    items = [render.check_run(repo, r, pulls) for r in runs]
    chunk, headers = paginate(request, items)
    return reply({"total_count": len(items), "check_runs": chunk}, headers=headers)


async def suites_for_ref(request: web.Request) -> web.Response:
    repo = repo_for(request)
    sha = _sha_for(repo, request.match_info["ref"])
    suites = [s for s in repo.check_suites.values() if s.head_sha == sha]
    if request.query.get("app_id"):
        suites = [s for s in suites if str(s.app.id) == request.query["app_id"]]
    items = [events.suite_json(emu(request), repo, s, hook=False) for s in suites]
    return reply({"total_count": len(items), "check_suites": items})


async def get_suite(request: web.Request) -> web.Response:
    repo = repo_for(request)
    suite = repo.check_suites.get(int(request.match_info["check_suite_id"]))
    if suite is None:
        raise not_found()
    return reply(events.suite_json(emu(request), repo, suite, hook=False))


async def rerequest_run(request: web.Request) -> web.Response:
    repo = repo_for(request)
    app, actor = _app(identity(request))
    run = _run(repo, request)
    if run.suite.app.id != app.id:
        raise ApiError(403, NOT_INTEGRATION)
    events.check_run_event(emu(request), repo, run, "rerequested", actor)
    return reply({}, status=201)


async def rerequest_suite(request: web.Request) -> web.Response:
    repo = repo_for(request)
    app, actor = _app(identity(request))
    suite = repo.check_suites.get(int(request.match_info["check_suite_id"]))
    if suite is None or suite.app.id != app.id:
        raise not_found()
    suite.rerequested = True
    events.check_suite_event(emu(request), repo, suite, "rerequested", actor)
    return reply({}, status=201)


def setup(router: web.UrlDispatcher) -> None:
    p = "/repos/{owner}/{repo}"
    run = p + "/check-runs/{check_run_id:\\d+}"
    suite = p + "/check-suites/{check_suite_id:\\d+}"
    router.add_post(p + "/check-runs", create_check_run)
    router.add_get(run, get_check_run)
    router.add_patch(run, update_check_run)
    router.add_get(run + "/annotations", list_annotations)
    router.add_post(run + "/rerequest", rerequest_run)
    router.add_get(suite, get_suite)
    router.add_post(suite + "/rerequest", rerequest_suite)
    router.add_get(p + "/commits/{ref}/check-runs", runs_for_ref)
    router.add_get(p + "/commits/{ref}/check-suites", suites_for_ref)
