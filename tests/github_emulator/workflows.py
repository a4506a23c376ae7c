"""GitHub Actions as seen by an App: a simulated workflow run finishing sends
workflow_job.completed for each job, then workflow_run.completed (shapes after the
@octokit/webhooks examples; the repository inside is the minimal repository object)."""

from __future__ import annotations

import time
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import gitdata
from .events import emit, open_pulls_for
from .serializers import node_id
from .state import Repo, User, iso

if TYPE_CHECKING:
    from .emulator import Emulator

JSON = dict[str, Any]


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
) -> JSON:
    r = emu.render
    now = time.time()
    run_id = emu.world.next_id()
    api = f"{r.base}/repos/{repo.full_name}/actions"
    workflow_id = zlib.crc32(f"{repo.id}:{name}".encode()) % 10**8
    repo_json = r.repo_lite(repo)
    for job in jobs:
        job_id = emu.world.next_id()
        wj = {
            "id": job_id,
            "run_id": run_id,
            "workflow_name": name,
            "head_branch": head_branch,
            "run_url": f"{api}/runs/{run_id}",
            "run_attempt": 1,
            "node_id": node_id("Repository", repo.id) + f"J{job_id}",
            "head_sha": head_sha,
            "url": f"{api}/jobs/{job_id}",
            "html_url": f"{r.base}/{repo.full_name}/actions/runs/{run_id}/job/{job_id}",
            "status": "completed",
            "conclusion": conclusion,
            "created_at": iso(now),
            "started_at": iso(now),
            "completed_at": iso(now),
            "name": job,
            "steps": [
                {
                    "name": "Run tests",
                    "status": "completed",
                    "conclusion": conclusion,
                    "number": 1,
                    "started_at": iso(now),
                    "completed_at": iso(now),
                }
            ],
            "check_run_url": f"{r.base}/repos/{repo.full_name}/check-runs/{job_id}",
            "labels": ["ubuntu-latest"],
            "runner_id": 1,
            "runner_name": "emulator",
            "runner_group_id": 1,
            "runner_group_name": "Default",
        }
        repo.workflow_jobs.setdefault(run_id, []).append(wj)
        if annotations and job in annotations:  # e.g. a test reporter's failing tests
            repo.job_annotations[job_id] = [{"head_sha": head_sha}, *annotations[job]]
        emit(emu, "workflow_job", repo, actor, {"workflow_job": wj}, action="completed")
    pulls = [r.pull_ref(repo, i) for i in open_pulls_for(repo, head_sha)]
    git = gitdata.open_repo(repo.path)
    head_commit = r.head_commit(git, head_sha) or {}
    wr: JSON = {
        "id": run_id,
        "name": name,
        "node_id": f"WFR_{run_id}",
        "head_branch": head_branch,
        "head_sha": head_sha,
        "path": ".github/workflows/ci.yml",
        "display_title": name,
        "run_number": run_id % 1000,
        "event": "push",
        "status": "completed",
        "conclusion": conclusion,
        "workflow_id": workflow_id,
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
        "workflow_url": f"{api}/workflows/{workflow_id}",
        "head_commit": head_commit,
        "repository": repo_json,
        "head_repository": repo_json,
    }
    workflow = {
        "id": workflow_id,
        "node_id": f"W_{workflow_id}",
        "name": name,
        "path": ".github/workflows/ci.yml",
        "state": "active",
        "created_at": iso(now),
        "updated_at": iso(now),
        "url": f"{api}/workflows/{workflow_id}",
        "html_url": f"{r.base}/{repo.full_name}/actions/workflows/ci.yml",
        "badge_url": f"{r.base}/{repo.full_name}/workflows/{name}/badge.svg",
    }
    emit(
        emu,
        "workflow_run",
        repo,
        actor,
        {"workflow_run": wr, "workflow": workflow},
        action="completed",
    )
    repo.workflow_runs[run_id] = wr
    return wr
