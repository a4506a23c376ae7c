"""Check runs and check suites."""

from __future__ import annotations

from typing import Any

import pygit2

from .. import gitdata
from ..state import CheckRun, CheckSuite, Issue, Repo, iso
from .base import JSON, node_id
from .pulls import PullsRender

SUITE_ONLY = {"check_runs_url", "head_commit", "latest_check_runs_count", "repository"}


class ChecksRender(PullsRender):
    def check_run(self, r: Repo, run: CheckRun, pulls: list[Issue], *, hook: bool = False) -> JSON:
        api = f"{self.base}/repos/{r.full_name}/check-runs/{run.id}"
        output = dict(run.output)
        output["annotations_count"] = len(run.annotations)
        output["annotations_url"] = f"{api}/annotations"
        return {
            "id": run.id,
            "node_id": node_id("CheckRun", run.id),
            "head_sha": run.head_sha,
            "external_id": run.external_id,
            "url": api,
            "html_url": f"{self.base}/{r.full_name}/runs/{run.id}",
            "details_url": run.details_url or f"{self.base}/{r.full_name}/runs/{run.id}",
            "status": run.status,
            "conclusion": run.conclusion,
            "started_at": iso(run.started_at),
            "completed_at": iso(run.completed_at) if run.completed_at else None,
            "output": output,
            "name": run.name,
            "check_suite": {"id": run.suite.id},
            "app": self.app(run.suite.app, hook=hook),
            "pull_requests": [self.pull_ref(r, i) for i in pulls],
        }

    def check_run_event(self, r: Repo, run: CheckRun, pulls: list[Issue], suite: JSON) -> JSON:
        data = self.check_run(r, run, pulls, hook=True)
        data["check_suite"] = {k: v for k, v in suite.items() if k not in SUITE_ONLY}
        return data

    def check_suite(
        self,
        r: Repo,
        s: CheckSuite,
        runs: list[CheckRun],
        pulls: list[Issue],
        git: Any,
        *,
        hook: bool = False,
    ) -> JSON:
        status, conclusion = suite_status(runs)
        data: JSON = {
            "id": s.id,
            "node_id": node_id("CheckSuite", s.id),
            "head_branch": s.head_branch,
            "head_sha": s.head_sha,
            "status": status,
            "conclusion": conclusion,
            "url": f"{self.base}/repos/{r.full_name}/check-suites/{s.id}",
            "before": s.before,
            "after": s.head_sha,
            "pull_requests": [self.pull_ref(r, i) for i in pulls],
            "app": self.app(s.app, hook=hook),
            "repository": self.repo(r),
            "created_at": iso(s.created_at),
            "updated_at": iso(s.updated_at),
            "rerequestable": True,
            "runs_rerequestable": True,
            "latest_check_runs_count": len(runs),
            "check_runs_url": f"{self.base}/repos/{r.full_name}/check-suites/{s.id}/check-runs",
            "head_commit": self.head_commit(git, s.head_sha),
        }
        if hook:
            del data["repository"], data["rerequestable"], data["runs_rerequestable"]
        return data

    def head_commit(self, git: pygit2.Repository, sha: str) -> JSON | None:
        obj = gitdata.lookup(git, sha)
        if not isinstance(obj, pygit2.Commit):
            return None
        return {
            "id": sha,
            "tree_id": str(obj.tree_id),
            "message": obj.message,
            "timestamp": iso(obj.commit_time),
            "author": {"name": obj.author.name, "email": obj.author.email},
            "committer": {"name": obj.committer.name, "email": obj.committer.email},
        }


def suite_status(runs: list[CheckRun]) -> tuple[str, str | None]:
    """A suite is completed when all its runs are; its conclusion is the worst run's."""
    if not runs:
        return "queued", None
    if any(run.status != "completed" for run in runs):
        return ("in_progress" if any(r.status == "in_progress" for r in runs) else "queued"), None
    order = [
        "action_required",
        "cancelled",
        "timed_out",
        "failure",
        "stale",
        "neutral",
        "skipped",
        "success",
    ]
    worst = min((order.index(run.conclusion or "neutral") for run in runs), default=7)
    return "completed", order[worst]
