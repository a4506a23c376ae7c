"""The ``gate`` job: the ``selfheal/security-gate`` check run on a pull request head.

The job (1) creates the check run in_progress, idempotently: the effect record
``check_run:<repo>:<sha>:<attempt>`` holds its id, and a retried job whose record is missing
looks for the run by ``external_id`` before creating one; (2) fetches base and head into the
cache clone (selfheal.git.clones); (3) reviews base...head under the policy of the base commit
and the config of the default branch; (4) completes the run, annotations in batches of 50. On a
retry it reads the run back from GitHub and skips batches and the completion already applied,
so a crash anywhere never duplicates anything. Any exception completes the run as ``failure``
with the (masked) reason: the gate fails closed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfheal import notify
from selfheal.gate.output import CheckOutput, error_output, gate_output, halted_output
from selfheal.gate.ruleset import rules_for
from selfheal.git.clones import branch_refspec, fetch
from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import is_bot_pr, repo_config, split
from selfheal.halt import is_halted
from selfheal.ledger import effects, gates, jobs
from selfheal.model.findings import Severity, Verdict
from selfheal.model.labels import HALT_LABEL
from selfheal.model.notifications import Notification
from selfheal.model.policy import Policy, PolicyError
from selfheal.model.repo_config import ConfigError, GateConfig, RepoConfig
from selfheal.reviewer.gitchanges import changeset_from_git
from selfheal.reviewer.reviewer import ReviewOptions, policy_at, review
from selfheal.reviewer.rules import Thresholds
from selfheal.runtime.context import BoundedCache, JobCancelled, JobContext
from selfheal.runtime.logs import mask
from selfheal.scanner.engine import ScanOptions

JOB_KIND = "gate"
EXTERNAL_PREFIX = "selfheal-gate:"


class GateError(Exception):
    """A reason the gate cannot evaluate (bad config, missing commit ...)."""


def timestamp() -> str:
    """Now, as GitHub's check-run times are written."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def check_run_key(repo: str, sha: str, attempt: str) -> str:
    """The effect record that holds the id of the check run of (repo, sha, attempt)."""
    return f"check_run:{repo}:{sha}:{attempt}"


def external_id(attempt: str) -> str:
    return f"{EXTERNAL_PREFIX}{attempt}"[:255]


async def recorded_check_id(ctx: JobContext, repo: str, sha: str, attempt: str) -> int | None:
    """The id of the check run a gate job recorded for (repo, sha, attempt), if any."""
    key = check_run_key(repo, sha, attempt)
    found = await ctx.ledger.aread(lambda c: effects.get_effect(c, key))
    return None if found is None or found.github_id is None else int(found.github_id)


async def read_check_run(
    gh: GitHubAPI, repo: str, sha: str, attempt: str, check_id: int | None
) -> dict[str, Any] | None:
    """The check run as GitHub has it: by its recorded id, else found by its external_id
    (a job that crashed before recording it); None when there is none."""
    owner, name = split(repo)
    if check_id is not None:
        return dict(await gh.call("checks.get", owner=owner, repo=name, check_run_id=check_id))
    wanted = external_id(attempt)
    runs = gh.paginate("checks.list_for_ref", owner=owner, repo=name, ref=sha, filter="all")
    async for run in runs:
        if run.get("external_id") == wanted:
            return dict(run)
    return None


async def ensure_check_run(
    ctx: JobContext, gh: GitHubAPI, pr: dict[str, Any], name: str
) -> tuple[gates.GateRun, dict[str, Any] | None]:
    """The gate run and its check run, created once per (repo, sha, attempt). The second
    value is the check run as GitHub has it, read back only when this job is a retry."""
    p = ctx.job.payload
    repo, sha, attempt = str(p["repository"]), str(p["head_sha"]), str(p["attempt"])
    check_id = await recorded_check_id(ctx, repo, sha, attempt)
    retry = ctx.job.attempts > 1
    remote = await read_check_run(gh, repo, sha, attempt, check_id) if retry else None
    if remote is not None:
        check_id = int(remote["id"])
    elif check_id is None:
        owner, repo_name = split(repo)
        created = await gh.call("checks.create", owner=owner, repo=repo_name, data={
            "name": name, "head_sha": sha, "status": "in_progress",
            "external_id": external_id(attempt), "started_at": timestamp(),
            "output": {"title": "Reviewing…", "summary": "The security gate is running."},
        })  # fmt: skip
        check_id = int(created["id"])
    key, base_sha = check_run_key(repo, sha, attempt), str(pr["base"]["sha"])

    def record(conn: Any) -> gates.GateRun:
        effects.record_effect(conn, key, "check_run", check_id, job_id=ctx.job.id,
                              data={"attempt": attempt, "pr": p["pr_number"]})  # fmt: skip
        run = gates.gate_run_for_check(conn, check_id)
        if run is None:
            run = gates.create_gate_run(conn, repo, sha, pr_number=int(p["pr_number"]),
                                        base_sha=base_sha, check_run_id=check_id,
                                        status="in_progress")  # fmt: skip
        return run

    return await ctx.ledger.awrite(record), remote


def cached_policy(
    policies: BoundedCache, repo: str, cache: Path, base_sha: str
) -> Policy | PolicyError:
    """The effective policy at ``base_sha`` (the PR's base commit), cached by SHA in the
    worker's ``policies`` cache."""
    result: Policy | PolicyError = policies.remember(
        (repo, base_sha), lambda: policy_at(cache, base_sha)
    )
    return result


def _review_sync(
    policies: BoundedCache, repo: str, cache: Path, base: str, head: str, options: ReviewOptions
) -> Verdict:
    changes = changeset_from_git(cache, base, head)
    scan = options.scan or ScanOptions()
    if scan.rules is None:  # load only the changed files' language rules: a faster semgrep
        scan = dataclasses.replace(scan, rules=rules_for(f.path for f in changes.files))
    options = dataclasses.replace(options, scan=scan)
    return review(changes, cached_policy(policies, repo, cache, base), options=options)


async def fetch_pr(ctx: JobContext, gh: GitHubAPI, pr: dict[str, Any], head_sha: str) -> Path:
    """Fetch the PR's base and head commits into the cache clone; returns its path.

    Both come from the base repository: its read-only ``refs/pull/N/head`` follows the PR's
    head, whether the head branch lives there, in a fork, or in a fork since deleted. The
    installation token is only ever sent to the base repository."""
    repo = str(pr["base"]["repo"]["full_name"])
    url = str(pr["base"]["repo"]["clone_url"])
    token = (await gh.credential.get())[1] if gh.credential is not None else None
    number, base_ref = int(pr["number"]), str(pr["base"]["ref"])
    specs = [branch_refspec(base_ref), f"+refs/pull/{number}/head:refs/selfheal/pull/{number}"]
    return await fetch(ctx.data_dir, repo, url, specs, token, [str(pr["base"]["sha"]), head_sha])


def review_options(
    config: RepoConfig,
    actor_kind: str,
    semgrep_engine: str | None = None,
    secret_engine: str | None = None,
    secret_engine_cache: Path | None = None,
) -> ReviewOptions:
    scan = ScanOptions(exclude=tuple(config.scan.exclude),
                       include_vendored=config.scan.include_vendored,
                       max_file_size=config.scan.max_file_size,
                       semgrep_engine=semgrep_engine,
                       secret_engine=secret_engine,
                       secret_engine_cache=secret_engine_cache)  # fmt: skip
    return ReviewOptions(
        actor_kind=actor_kind, scan=scan, thresholds=Thresholds(block_at=config.gate.fail_on)
    )


async def evaluate(
    ctx: JobContext, gh: GitHubAPI, pr: dict[str, Any], config: RepoConfig | ConfigError
) -> tuple[CheckOutput, Verdict | None]:
    if isinstance(config, ConfigError):
        raise GateError(f"bad repository configuration: {config}")
    repo, head_sha = str(ctx.job.payload["repository"]), str(ctx.job.payload["head_sha"])
    bot_pr = is_bot_pr(pr, await ctx.bot_login())
    scope = config.gate.actor_kind
    if (scope == "bot" and not bot_pr) or (scope == "humans" and bot_pr):
        title = f"Not checked: gate.actor_kind is {scope}"
        return CheckOutput("neutral", title, f"{title} in .github/selfheal.yml."), None
    if bot_pr and await is_halted(ctx, repo, gh=gh, label=config.halt_label):
        return halted_output(config.halt_label), None
    started = time.monotonic()
    cache = await fetch_pr(ctx, gh, pr, head_sha)
    fetched = time.monotonic()
    ctx.raise_if_cancelled()
    actor = "automation" if bot_pr else "human"
    options = review_options(
        config, actor, ctx.semgrep_engine, ctx.secret_engine, ctx.secret_engine_cache
    )
    base_sha = str(pr["base"]["sha"])
    verdict = await asyncio.to_thread(
        _review_sync, ctx.caches.policies, repo, cache, base_sha, head_sha, options
    )
    ctx.raise_if_cancelled()
    ctx.log.info("gate reviewed", extra={"repository": repo, "sha": head_sha,
                 "fetch_seconds": round(fetched - started, 3),
                 "review_seconds": round(time.monotonic() - fetched, 3),
                 "decision": verdict.decision.value})  # fmt: skip
    return gate_output(verdict, meta={"head": head_sha[:12], "base": base_sha[:12]}), verdict


async def finish(
    ctx: JobContext,
    gh: GitHubAPI,
    run: gates.GateRun,
    output: CheckOutput,
    verdict: Verdict | None,
    remote: dict[str, Any] | None,
) -> None:
    """Send the batches and the completion (skipping what a crashed attempt already sent),
    then record the run, its findings and an audit entry."""
    owner, name = split(run.repository)
    applied = int(((remote or {}).get("output") or {}).get("annotations_count") or 0)
    sent = 0
    for body in output.progress_updates():
        sent += len(body["output"]["annotations"])
        if sent > applied:
            await gh.call("checks.update", owner=owner, repo=name, check_run_id=run.check_run_id,
                          data=body)  # fmt: skip
    if (remote or {}).get("status") != "completed":
        await gh.call("checks.update", owner=owner, repo=name, check_run_id=run.check_run_id,
                      data={**output.completion(), "completed_at": timestamp()})  # fmt: skip
    risk = verdict.risk.value if verdict is not None else None
    details = {"pr": run.pr_number, "sha": run.head_sha, "conclusion": output.conclusion,
               "risk": risk, "check_run": run.check_run_id, "title": output.title}  # fmt: skip

    def record(conn: Any) -> None:
        gates.update_gate_run(conn, run.id, status="completed", conclusion=output.conclusion,
                              risk=risk, title=output.title)  # fmt: skip
        if verdict is not None:
            gates.add_findings(conn, run.id, verdict.findings)

    await ctx.ledger.awrite(record)
    await ctx.audit("selfheal", "gate.completed", details)
    ctx.metrics.record_gate_conclusion(output.conclusion)


@dataclass(frozen=True)
class GateOutcome:
    """A completed gate run, as the features that wait for it see it."""

    repository: str
    pr_number: int
    head_sha: str
    conclusion: str
    title: str


# Told when a gate run completes: ``await listener(ctx, outcome)``. The registry wires them.
GateListener = Callable[[JobContext, GateOutcome], Awaitable[None]]


def gate_job(
    listeners: Sequence[GateListener] = (),
) -> Callable[[jobs.Job, JobContext], Awaitable[None]]:
    """The ``gate`` job kind, telling ``listeners`` each run's outcome once it completed."""
    chosen = tuple(listeners)

    async def gate(job: jobs.Job, ctx: JobContext) -> None:
        outcome = await run_gate(job, ctx)
        if outcome is not None:
            for listener in chosen:
                await listener(ctx, outcome)

    return gate


async def run_gate(job: jobs.Job, ctx: JobContext) -> GateOutcome | None:
    """One gate run; returns its outcome (None when the run had completed already)."""
    p = job.payload
    repo = str(p["repository"])
    ctx.repository = repo
    ctx.installation_id = p.get("installation_id")
    gh = await ctx.github()
    owner, name = split(repo)
    pr = await gh.call("pulls.get", owner=owner, repo=name, pull_number=int(p["pr_number"]))
    default_branch = str(pr["base"]["repo"].get("default_branch") or "")
    config = await repo_config(gh, repo, ctx.caches.config_text, default_branch)
    check_name = (config.gate if isinstance(config, RepoConfig) else GateConfig()).check_name
    run, remote = await ensure_check_run(ctx, gh, pr, check_name)
    if run.status == "completed":
        return None
    verdict: Verdict | None = None
    try:
        output, verdict = await evaluate(ctx, gh, pr, config)
    except (JobCancelled, asyncio.CancelledError):
        if ctx.cancelled.is_set():  # halted: say so on the check before the job stops
            label = config.halt_label if isinstance(config, RepoConfig) else HALT_LABEL
            await asyncio.shield(finish(ctx, gh, run, halted_output(label), None, remote))
        raise  # shutdown or a lost lease: the retry completes the same check run
    except Exception as exc:  # fail closed, with the reason and never a secret
        ctx.log.warning("gate failed closed: %s", type(exc).__name__)
        output = error_output(mask(f"{type(exc).__name__}: {exc}"))
    await finish(ctx, gh, run, output, verdict, remote)
    await _notify_critical(ctx, repo, pr, verdict)
    return GateOutcome(repo, run.pr_number or 0, run.head_sha, output.conclusion, output.title)


async def _notify_critical(
    ctx: JobContext, repo: str, pr: dict[str, Any], verdict: Verdict | None
) -> None:
    """A critical finding on a PR is notified (rule ids and paths, never the matched text)."""
    critical = [f for f in (verdict.findings if verdict else ()) if f.severity is Severity.CRITICAL]
    if not critical:
        return
    places = sorted({f"{f.rule_id} in {f.path}" for f in critical})
    note = Notification(
        "finding.critical", repo, f"{len(critical)} critical finding(s) on PR #{pr['number']}",
        str(pr.get("html_url") or ""), {"pr": pr["number"], "findings": places[:20]},
    )  # fmt: skip
    await notify.emit(ctx, note)
