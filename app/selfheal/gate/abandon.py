"""Closing the check run of a gate job that died, so the gate still fails closed.

A ``gate`` job that runs out of attempts (GitHub down for longer than its retries, a worker
killed on the last attempt) may leave its check run ``in_progress``. When such a job is dead-
lettered, the ledger enqueues a ``gate_abandon`` job in the same transaction (the gate
feature's ``dead_letter`` hook, :func:`enqueue_abandon`). That job finds the check run (the
effect record, or GitHub by ``external_id``) and, unless it already completed, completes it as
``failure`` with the reason, and audits ``gate.abandoned``. It retries on its own schedule,
with twice the attempts, so it outlasts an outage the gate job did not. It never creates a
check run: no run means nothing was left open; a run that completed (a gate stopped by a halt
says so before it dies) is left as it is.
"""

from __future__ import annotations

import sqlite3
from http import HTTPStatus
from typing import Any

import gidgethub

from selfheal.gate.job import read_check_run, recorded_check_id, timestamp
from selfheal.gate.output import error_output
from selfheal.github.repo import split
from selfheal.ledger import gates, jobs
from selfheal.runtime.context import JobContext
from selfheal.runtime.logs import mask

ABANDON_KIND = "gate_abandon"
FIELDS = ("repository", "installation_id", "pr_number", "head_sha", "attempt")


def enqueue_abandon(conn: sqlite3.Connection, job: jobs.Job, reason: str) -> None:
    """The dead-letter hook of ``gate`` jobs."""
    p = job.payload
    if not all(p.get(name) for name in ("repository", "head_sha", "attempt")):
        return  # not a gate payload we could act on (the reason is on the dead job)
    payload = {name: p.get(name) for name in FIELDS} | {"reason": reason, "gate_job": job.id}
    key = f"gate-abandon:{p['repository']}:{p['head_sha']}:{p['attempt']}"
    jobs.enqueue(conn, ABANDON_KIND, payload, key=key, repository=str(p["repository"]),
                 max_attempts=2 * job.max_attempts)  # fmt: skip


async def run_gate_abandon(job: jobs.Job, ctx: JobContext) -> None:
    """The ``gate_abandon`` job kind."""
    p = job.payload
    repo, sha, attempt = str(p["repository"]), str(p["head_sha"]), str(p["attempt"])
    ctx.repository, ctx.installation_id = repo, p.get("installation_id")
    gh = await ctx.github()
    check_id = await recorded_check_id(ctx, repo, sha, attempt)
    remote: dict[str, Any] | None
    try:
        remote = await read_check_run(gh, repo, sha, attempt, check_id)
    except gidgethub.BadRequest as exc:
        if exc.status_code not in (HTTPStatus.NOT_FOUND, HTTPStatus.GONE):
            raise
        remote = None  # the repository or the run is gone (or no longer visible to the App)
    if remote is None:
        ctx.log.info("gate job died before creating its check run", extra={"repository": repo})
        return
    owner, name = split(repo)
    check_id = int(remote["id"])
    reason = mask(f"the gate job stopped for good: {p.get('reason') or 'unknown reason'}")
    output = error_output(reason)
    closing = remote.get("status") != "completed"
    if closing:
        await gh.call("checks.update", owner=owner, repo=name, check_run_id=check_id,
                      data={**output.completion(), "completed_at": timestamp()})  # fmt: skip
        ctx.metrics.record_gate_conclusion(output.conclusion)
        conclusion, title = output.conclusion, output.title
    else:  # completed by the dying job itself (e.g. "halted"): only the ledger may lag
        conclusion = str(remote.get("conclusion") or "")
        title = str((remote.get("output") or {}).get("title") or "")

    def record(conn: sqlite3.Connection) -> None:
        run = gates.gate_run_for_check(conn, check_id)
        if run is not None and run.status != "completed":
            gates.update_gate_run(conn, run.id, status="completed", conclusion=conclusion,
                                  title=title)  # fmt: skip

    await ctx.ledger.awrite(record)
    if not closing:
        ctx.log.info("the dead gate job's check run had completed", extra={"check_run": check_id})
        return
    await ctx.audit("selfheal", "gate.abandoned", {
        "pr": p.get("pr_number"), "sha": sha, "check_run": check_id, "gate_job": p.get("gate_job"),
        "reason": reason,
    })  # fmt: skip
