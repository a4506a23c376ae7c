"""Security findings as monitor events: the scanner's continuous mode.

A push to a default branch, and the scheduler every ``SELFHEAL_MONITOR_SCAN_HOURS``, queue a
``monitor_scan`` job for the branch's head. The job fetches it into the worker's cache clone,
scans it with the one scan pipeline, and hands each finding at or above the repository's
``scan.fail_on`` to the monitor as a ``security`` event. A security event is filed at once,
and its fingerprint carries the finding's own fingerprint, so each finding gets one issue
however many pushes and scans see it again (they only update its table).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from selfheal.git.clones import branch_refspec, fetch
from selfheal.git.worktrees import export_tree
from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import split
from selfheal.ledger import jobs
from selfheal.model.findings import Finding
from selfheal.model.repo_config import RepoConfig
from selfheal.monitor.filing import limits_from, monitored
from selfheal.monitor.ingest import Ingest
from selfheal.runtime.context import JobContext
from selfheal.scanner.engine import scan_path
from selfheal.scanner.pipeline import ScanOptions

SCAN_JOB = "monitor_scan"
MAX_FINDINGS = 100


def finding_event(finding: Finding, repo: str, sha: str) -> dict[str, Any]:
    """A finding as a failure event (its fingerprint is the event's test id, so one finding
    is one monitor fingerprint)."""
    return {
        "source": "security", "repository": repo, "severity": "high",
        "error_type": finding.rule_id[:200], "message": finding.message[:8_000],
        "affected_files": [finding.path], "test_id": f"finding:{finding.fingerprint}"[:512],
        "run_id": f"scan-{sha[:40]}", "commit": sha,
    }  # fmt: skip


def _scan_sync(cache: Path, sha: str, options: ScanOptions) -> list[Finding]:
    with tempfile.TemporaryDirectory(prefix="selfheal-monitor-scan-") as tmp:
        work = Path(tmp) / "tree"
        export_tree(cache, sha, work)
        report = scan_path(work, options)
    return list(report.findings)


async def _token(gh: GitHubAPI) -> str | None:
    return (await gh.credential.get())[1] if gh.credential is not None else None


def _wanted(findings: list[Finding], config: RepoConfig) -> list[Finding]:
    return [f for f in findings if f.severity >= config.scan.fail_on][:MAX_FINDINGS]


async def run_scan(job: jobs.Job, ctx: JobContext) -> None:
    """The ``monitor_scan`` job: scan a default branch's head, report its findings."""
    p = job.payload
    found = await monitored(job, ctx)
    if found is None:
        return
    repo, gh, config = found
    owner, name = split(repo)
    info = await gh.call("repos.get", owner=owner, repo=name)
    branch, url = str(info["default_branch"]), str(info["clone_url"])
    sha = str(p.get("sha") or "") or str(
        (await gh.call("repos.get_branch", owner=owner, repo=name, branch=branch))["commit"]["sha"]
    )
    cache = await fetch(ctx.data_dir, repo, url, [branch_refspec(branch)], await _token(gh), [sha])
    scan = config.scan
    options = ScanOptions(exclude=scan.exclude, include_vendored=scan.include_vendored,
                          max_file_size=scan.max_file_size,
                          semgrep_engine=ctx.semgrep_engine)  # fmt: skip
    findings = _wanted(await asyncio.to_thread(_scan_sync, cache, sha, options), config)
    if not findings:
        return
    limits = limits_from(ctx.worker.config.monitor).tightened(
        config.monitor.threshold, config.monitor.window_days
    )
    sink = Ingest(ctx.ledger, limits=limits, notify=ctx.worker.notify)
    await sink.record([finding_event(f, repo, sha) for f in findings], reporter="scan",
                      repository=repo)  # fmt: skip


def queue_scan(conn: Any, repo: str, installation: int | None, sha: str | None) -> None:
    jobs.enqueue(conn, SCAN_JOB, {"repository": repo, "installation_id": installation, "sha": sha},
                 key=f"{SCAN_JOB}:{repo.lower()}:{sha or 'head'}", repository=repo)  # fmt: skip
