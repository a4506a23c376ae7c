"""GitHub Actions as seen by an App: workflows read from the repository, runs started by a
``workflow_dispatch`` or simulated by a test, their jobs, logs and artifacts, and the
``workflow_run`` / ``workflow_job`` webhooks each step sends (shapes after the
@octokit/webhooks examples; the repository inside a run is the minimal repository object).

A run's life: ``dispatch`` (REST) queues it (workflow_run.requested); a test plays the
runner with ``start`` (workflow_job.queued and in_progress, workflow_run.in_progress),
``upload_artifact`` (what actions/upload-artifact does through the Actions runtime, which is
not the REST API) and ``finish`` (workflow_job.completed per job, workflow_run.completed);
``cancel`` (REST) ends it early as cancelled. ``workflow_completed`` makes a run that is
already over (a CI run, for the monitor).
"""

from __future__ import annotations

import hashlib
import io
import secrets
import time
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml

from . import gitdata
from .events import emit, open_pulls_for
from .responses import ApiError, custom, not_found
from .serializers import node_id
from .state import Repo, User, iso

if TYPE_CHECKING:
    from .emulator import Emulator

JSON = dict[str, Any]
WORKFLOWS_DIR = ".github/workflows/"
JOB_CONCLUSIONS = ("success", "failure", "cancelled", "skipped")
RUN_CONCLUSIONS = ("success", "failure", "neutral", "cancelled", "timed_out", "skipped")
ARTIFACT_DAYS = 90
MAX_INPUTS = 25


@dataclass
class RunState:
    """What the emulator keeps beside a run's JSON: its inputs, and the artifacts and logs
    its jobs produced."""

    inputs: dict[str, Any] = field(default_factory=dict)
    artifacts: list[JSON] = field(default_factory=list)
    logs: dict[int, str] = field(default_factory=dict)  # job id -> log text


@dataclass(frozen=True)
class Workflow:
    id: int
    name: str
    path: str
    on: Any
    run_name: str | None


def workflow_id(repo: Repo, path: str) -> int:
    return zlib.crc32(f"{repo.id}:{path}".encode()) % 10**8


def _on(doc: Mapping[Any, Any]) -> Any:
    # YAML 1.1 reads the key ``on`` as True.
    return doc.get("on", doc.get(True))


def _triggers(on: Any) -> set[str]:
    if isinstance(on, str):
        return {on}
    if isinstance(on, list):
        return {str(x) for x in on}
    if isinstance(on, dict):
        return {str(x) for x in on}
    return set()


def load_workflow(repo: Repo, ref: str, name_or_id: str) -> Workflow:
    """The workflow file ``name_or_id`` (a file name under .github/workflows or a numeric
    id) at ``ref``; 404 when there is none."""
    git = gitdata.open_repo(repo.path)
    commit = gitdata.resolve(git, ref)
    if commit is None:
        raise not_found()
    folder = gitdata.entry_at(git, commit, WORKFLOWS_DIR.rstrip("/"))
    names = [e.name for e in folder] if folder is not None and hasattr(folder, "__iter__") else []
    wanted = [
        n
        for n in names
        if n == name_or_id or str(workflow_id(repo, WORKFLOWS_DIR + n)) == name_or_id
    ]
    if not wanted:
        raise not_found()
    path = WORKFLOWS_DIR + wanted[0]
    blob = gitdata.entry_at(git, commit, path)
    data = getattr(blob, "data", b"")
    try:
        doc = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise custom("Workflow", f"Invalid workflow file: {path}") from exc
    if not isinstance(doc, dict):
        raise custom("Workflow", f"Invalid workflow file: {path}")
    name = str(doc.get("name") or path)
    run_name = doc.get("run-name")
    return Workflow(
        workflow_id(repo, path),
        name,
        path,
        _on(doc),
        run_name if isinstance(run_name, str) else None,
    )


def workflow_json(emu: Emulator, repo: Repo, wf: Workflow) -> JSON:
    r = emu.render
    api = f"{r.base}/repos/{repo.full_name}/actions"
    now = iso(repo.created_at)
    return {
        "id": wf.id,
        "node_id": f"W_{wf.id}",
        "name": wf.name,
        "path": wf.path,
        "state": "active",
        "created_at": now,
        "updated_at": now,
        "url": f"{api}/workflows/{wf.id}",
        "html_url": f"{r.base}/{repo.full_name}/blob/{repo.default_branch}/{wf.path}",
        "badge_url": f"{r.base}/{repo.full_name}/workflows/{wf.name}/badge.svg",
    }


def _dispatch_inputs(wf: Workflow, given: Any) -> dict[str, Any]:
    """The inputs of a dispatch checked against the workflow's declared ones (GitHub's 422s)."""
    on = wf.on if isinstance(wf.on, dict) else {}
    if "workflow_dispatch" not in _triggers(wf.on):
        raise custom("Workflow", "Workflow does not have 'workflow_dispatch' trigger")
    spec = on.get("workflow_dispatch") or {}
    declared = spec.get("inputs") or {} if isinstance(spec, dict) else {}
    if given is None:
        given = {}
    if not isinstance(given, dict) or len(given) > MAX_INPUTS:
        raise ApiError(
            422,
            "Invalid request.\n\nFor 'properties/inputs', "
            "it is not a valid object of at most 25 properties.",
        )
    unexpected = sorted(k for k in given if k not in declared)
    if unexpected:
        raise ApiError(422, f"Unexpected inputs provided: {unexpected!r}".replace("'", '"'))
    inputs: dict[str, Any] = {}
    for name, opts in declared.items():
        opts = opts if isinstance(opts, dict) else {}
        if name in given:
            inputs[name] = given[name]
        elif opts.get("required") and "default" not in opts:
            raise ApiError(422, f"Required input '{name}' not provided")
        elif "default" in opts:
            inputs[name] = opts["default"]
    return inputs


def _title(wf: Workflow, inputs: Mapping[str, Any]) -> str:
    """``run-name`` with ``${{ inputs.X }}`` filled in (the only expression the emulator
    evaluates), or the workflow's name."""
    if wf.run_name is None:
        return wf.name
    title = wf.run_name
    for key, value in inputs.items():
        for form in (
            f"${{{{ inputs.{key} }}}}",
            f"${{{{inputs.{key}}}}}",
            f"${{{{ github.event.inputs.{key} }}}}",
        ):
            title = title.replace(form, str(value))
    return title


def _run_json(
    emu: Emulator,
    repo: Repo,
    run_id: int,
    wf: Workflow,
    *,
    head_sha: str,
    head_branch: str,
    event: str,
    actor: User,
    title: str,
) -> JSON:
    r = emu.render
    now = time.time()
    api = f"{r.base}/repos/{repo.full_name}/actions"
    repo_json = r.repo_lite(repo)
    git = gitdata.open_repo(repo.path)
    pulls = [r.pull_ref(repo, i) for i in open_pulls_for(repo, head_sha)]
    return {
        "id": run_id,
        "name": wf.name,
        "node_id": f"WFR_{run_id}",
        "head_branch": head_branch,
        "head_sha": head_sha,
        "path": wf.path,
        "display_title": title,
        "run_number": run_id % 1000,
        "event": event,
        "status": "queued",
        "conclusion": None,
        "workflow_id": wf.id,
        "check_suite_id": run_id + 1,
        "check_suite_node_id": f"CS_{run_id + 1}",
        "url": f"{api}/runs/{run_id}",
        "html_url": f"{r.base}/{repo.full_name}/actions/runs/{run_id}",
        "pull_requests": pulls,
        "created_at": iso(now),
        "updated_at": iso(now),
        "actor": r.user(actor),
        "triggering_actor": r.user(actor),
        "run_attempt": 1,
        "referenced_workflows": [],
        "run_started_at": iso(now),
        "jobs_url": f"{api}/runs/{run_id}/jobs",
        "logs_url": f"{api}/runs/{run_id}/logs",
        "check_suite_url": f"{r.base}/repos/{repo.full_name}/check-suites/{run_id + 1}",
        "artifacts_url": f"{api}/runs/{run_id}/artifacts",
        "cancel_url": f"{api}/runs/{run_id}/cancel",
        "rerun_url": f"{api}/runs/{run_id}/rerun",
        "previous_attempt_url": None,
        "workflow_url": f"{api}/workflows/{wf.id}",
        "head_commit": r.head_commit(git, head_sha) or {},
        "repository": repo_json,
        "head_repository": repo_json,
    }


def _job_json(emu: Emulator, repo: Repo, run: JSON, job_id: int, name: str) -> JSON:
    r = emu.render
    api = f"{r.base}/repos/{repo.full_name}/actions"
    now = iso(time.time())
    return {
        "id": job_id,
        "run_id": run["id"],
        "workflow_name": run["name"],
        "head_branch": run["head_branch"],
        "run_url": run["url"],
        "run_attempt": 1,
        "node_id": node_id("Repository", repo.id) + f"J{job_id}",
        "head_sha": run["head_sha"],
        "url": f"{api}/jobs/{job_id}",
        "html_url": f"{r.base}/{repo.full_name}/actions/runs/{run['id']}/job/{job_id}",
        "status": "queued",
        "conclusion": None,
        "created_at": now,
        "started_at": now,
        "completed_at": None,
        "name": name,
        "steps": [],
        "check_run_url": f"{r.base}/repos/{repo.full_name}/check-runs/{job_id}",
        "labels": ["ubuntu-latest"],
        "runner_id": None,
        "runner_name": None,
        "runner_group_id": None,
        "runner_group_name": None,
    }


def _send_run(emu: Emulator, repo: Repo, run: JSON, action: str, actor: User) -> None:
    wf = Workflow(run["workflow_id"], run["name"], run["path"], None, None)
    fields = {"workflow_run": dict(run), "workflow": workflow_json(emu, repo, wf)}
    emit(emu, "workflow_run", repo, actor, fields, action=action)


def _complete_job(job: JSON, conclusion: str, step: str) -> None:
    now = iso(time.time())
    job_conclusion = conclusion if conclusion in JOB_CONCLUSIONS else "failure"
    job.update(status="completed", conclusion=job_conclusion, completed_at=now)
    if job["runner_id"] is None:
        job.update(runner_id=1, runner_name="emulator", runner_group_id=1,
                   runner_group_name="Default")  # fmt: skip
    job["steps"] = [
        {"name": step, "status": "completed", "conclusion": job_conclusion, "number": 1,
         "started_at": job["started_at"], "completed_at": now}
    ]  # fmt: skip


def dispatch(emu: Emulator, repo: Repo, name_or_id: str, ref: str, given: Any, actor: User) -> JSON:
    """A ``workflow_dispatch``: check the workflow and its inputs, queue a run."""
    git = gitdata.open_repo(repo.path)
    commit = gitdata.resolve(git, ref)
    if commit is None:
        raise ApiError(422, f"No ref found for: {ref}")
    wf = load_workflow(repo, ref, name_or_id)
    inputs = _dispatch_inputs(wf, given)
    run_id = emu.world.next_id()
    branch = ref.removeprefix("refs/heads/")
    run = _run_json(emu, repo, run_id, wf, head_sha=str(commit.id), head_branch=branch,
                    event="workflow_dispatch", actor=actor, title=_title(wf, inputs))  # fmt: skip
    repo.workflow_runs[run_id] = run
    emu.run_states[run_id] = RunState(inputs=dict(inputs))
    _send_run(emu, repo, run, "requested", actor)
    return run


def start(emu: Emulator, repo: Repo, run: JSON, jobs: list[str]) -> list[JSON]:
    """The runner picks the run up: its jobs queue and start."""
    if run["status"] == "completed":
        raise ValueError(f"run {run['id']} is already completed")
    actor = emu.world.user(run["actor"]["login"])
    made = []
    for name in jobs:
        job = _job_json(emu, repo, run, emu.world.next_id(), name)
        repo.workflow_jobs.setdefault(run["id"], []).append(job)
        emit(emu, "workflow_job", repo, actor, {"workflow_job": dict(job)}, action="queued")
        job.update(status="in_progress", runner_id=1, runner_name="emulator", runner_group_id=1,
                   runner_group_name="Default")  # fmt: skip
        emit(emu, "workflow_job", repo, actor, {"workflow_job": dict(job)}, action="in_progress")
        made.append(job)
    run.update(status="in_progress", updated_at=iso(time.time()))
    _send_run(emu, repo, run, "in_progress", actor)
    return made


def finish(emu: Emulator, repo: Repo, run: JSON, conclusion: str, logs: Mapping[str, str]) -> bool:
    """The run ends with ``conclusion``; False when it had already ended (cancelled)."""
    if conclusion not in RUN_CONCLUSIONS:
        raise ValueError(f"unknown conclusion {conclusion!r}")
    if run["status"] == "completed":
        return False
    actor = emu.world.user(run["actor"]["login"])
    state = emu.run_states.setdefault(run["id"], RunState())
    for job in repo.workflow_jobs.get(run["id"], []):
        if job["status"] != "completed":
            _complete_job(job, conclusion, "Run selfheal")
            state.logs[job["id"]] = logs.get(job["name"], "")
            emit(emu, "workflow_job", repo, actor, {"workflow_job": dict(job)}, action="completed")
    run.update(status="completed", conclusion=conclusion, updated_at=iso(time.time()))
    _send_run(emu, repo, run, "completed", actor)
    return True


def cancel(emu: Emulator, repo: Repo, run: JSON, actor: User) -> None:
    """``POST .../cancel``: 409 for a run that is over, otherwise cancelled at once."""
    if run["status"] == "completed":
        raise ApiError(409, "Cannot cancel a workflow run that is completed.")
    state = emu.run_states.setdefault(run["id"], RunState())
    for job in repo.workflow_jobs.get(run["id"], []):
        if job["status"] != "completed":
            _complete_job(job, "cancelled", "Cancelled")
            state.logs.setdefault(job["id"], "The run was canceled.\n")
            emit(emu, "workflow_job", repo, actor, {"workflow_job": dict(job)}, action="completed")
    run.update(status="completed", conclusion="cancelled", updated_at=iso(time.time()))
    _send_run(emu, repo, run, "completed", actor)


def zip_files(files: Mapping[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content.encode() if isinstance(content, str) else content)
    return buffer.getvalue()


def upload_artifact(
    emu: Emulator, repo: Repo, run: JSON, name: str, files: Mapping[str, bytes | str]
) -> JSON:
    """What actions/upload-artifact does through the Actions runtime: only a running job can
    upload, and a name is unique within the run (v4 refuses a second upload of it)."""
    if run["status"] != "in_progress":
        raise ValueError(f"run {run['id']} is {run['status']}: only a running job uploads")
    state = emu.run_states.setdefault(run["id"], RunState())
    if any(a["name"] == name for a in state.artifacts):
        raise ValueError(f"an artifact named {name!r} already exists in run {run['id']}")
    blob = zip_files(files)
    artifact_id = emu.world.next_id()
    now = time.time()
    api = f"{emu.render.base}/repos/{repo.full_name}/actions"
    artifact: JSON = {
        "id": artifact_id,
        "node_id": f"MDg6QXJ0aWZhY3Q{artifact_id}",
        "name": name,
        "size_in_bytes": len(blob),
        "url": f"{api}/artifacts/{artifact_id}",
        "archive_download_url": f"{api}/artifacts/{artifact_id}/zip",
        "expired": False,
        "created_at": iso(now),
        "updated_at": iso(now),
        "expires_at": iso(now + ARTIFACT_DAYS * 86400),
        "digest": "sha256:" + hashlib.sha256(blob).hexdigest(),
        "workflow_run": {"id": run["id"], "repository_id": repo.id, "head_repository_id": repo.id,
                         "head_branch": run["head_branch"], "head_sha": run["head_sha"]},
    }  # fmt: skip
    state.artifacts.append(artifact)
    emu.artifact_blobs[artifact_id] = blob
    return artifact


def find_artifact(emu: Emulator, repo: Repo, artifact_id: int) -> JSON:
    for run_id in repo.workflow_runs:
        for artifact in emu.run_states.get(run_id, RunState()).artifacts:
            if artifact["id"] == artifact_id:
                return artifact
    raise not_found()


def find_job(repo: Repo, job_id: int) -> JSON:
    for jobs in repo.workflow_jobs.values():
        for job in jobs:
            if job["id"] == job_id:
                return job
    raise not_found()


def sign(emu: Emulator, content: bytes, content_type: str, lifetime: float = 60.0) -> str:
    """A short-lived URL on the emulator's storage path that serves ``content`` without
    authentication (as GitHub's redirects to blob storage do)."""
    key = secrets.token_urlsafe(24)
    emu.signed_blobs[key] = (content, content_type, time.time() + lifetime)
    return f"{emu.base_url}/_emulator/storage/{key}"


def workflow_completed(
    emu: Emulator,
    repo: Repo,
    head_sha: str,
    head_branch: str,
    conclusion: str,
    name: str,
    jobs: list[str],
    actor: User,
    annotations: Mapping[str, list[JSON]] | None = None,
    artifacts: Mapping[str, Mapping[str, bytes | str]] | None = None,
    logs: Mapping[str, str] | None = None,
) -> JSON:
    """A run of the repository's CI on a push that is already over: workflow_job.completed
    for each job, then workflow_run.completed. ``annotations``: by job name, the check-run
    annotations its job leaves (a test reporter's failing tests); ``artifacts``: by name, the
    files the run uploaded while it ran; ``logs``: by job name, the job's log."""
    path = ".github/workflows/ci.yml"
    wf = Workflow(zlib.crc32(f"{repo.id}:{name}".encode()) % 10**8, name, path, None, None)
    run_id = emu.world.next_id()
    run = _run_json(emu, repo, run_id, wf, head_sha=head_sha, head_branch=head_branch,
                    event="push", actor=actor, title=name)  # fmt: skip
    run["status"] = "in_progress"  # the run uploads while it runs
    repo.workflow_runs[run_id] = run
    for artifact, files in (artifacts or {}).items():
        upload_artifact(emu, repo, run, artifact, files)
    state = emu.run_states.setdefault(run_id, RunState())
    for job_name in jobs:
        job = _job_json(emu, repo, run, emu.world.next_id(), job_name)
        _complete_job(job, conclusion, "Run tests")
        repo.workflow_jobs.setdefault(run_id, []).append(job)
        state.logs[int(job["id"])] = (logs or {}).get(job_name, "")
        if annotations and job_name in annotations:
            repo.job_annotations[int(job["id"])] = [{"head_sha": head_sha}, *annotations[job_name]]
        emit(emu, "workflow_job", repo, actor, {"workflow_job": dict(job)}, action="completed")
    run.update(status="completed", conclusion=conclusion)
    _send_run(emu, repo, run, "completed", actor)
    repo.workflow_runs[run_id] = run
    return run
