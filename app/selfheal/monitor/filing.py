"""The ``monitor_sync`` job: a fingerprint's issue on GitHub brought up to date.

The job reads the fingerprint from the ledger and its issue fresh from GitHub, asks the pure
rules (:func:`selfheal.monitor.rules.decide`) what the latest occurrences lead to, and does
it: files a request issue through the App-filed path (the machine block that the request
intake honours only in the App's own issues), edits the occurrences table, reopens the issue
for a regression, or leaves one note. Before filing, the bot's own monitor issues, open and
closed, are searched for the fingerprint's marker, so a lost ledger never files a duplicate.
Every step is audited; nothing is filed while the repository is halted.
"""

from __future__ import annotations

import time
from typing import Any

import gidgethub

from selfheal import notify
from selfheal.config.settings import MonitorOptions
from selfheal.github.issue_state import marker as comment_marker
from selfheal.github.issue_state import upsert_marked_comment
from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import repo_config, split
from selfheal.halt import is_halted
from selfheal.ledger import effects, installations, jobs
from selfheal.ledger import monitor as store
from selfheal.model.labels import MONITOR_LABEL, REQUEST_LABEL, TYPE_PREFIX
from selfheal.model.notifications import Notification
from selfheal.model.repo_config import ConfigError, RepoConfig
from selfheal.monitor import issue as render
from selfheal.monitor.events import EventError, FailureEvent, parse_event
from selfheal.monitor.fingerprint import Fingerprint
from selfheal.monitor.ingest import SYNC_JOB
from selfheal.monitor.rules import (
    REVERT_WINDOW,
    Limits,
    MergedChange,
    Step,
    Tracked,
    decide,
    suspect_change,
)
from selfheal.runtime.context import JobContext, PermanentError

HOUR = 3600.0
CAPPED_RETRY = 300.0
ACTOR = "selfheal-monitor"
CONTAINED = frozenset({"ahead", "identical"})


async def monitored(job: jobs.Job, ctx: JobContext) -> tuple[str, GitHubAPI, RepoConfig] | None:
    """A monitor job's repository, its client and its configuration, or None when the
    repository's config is broken or turns the monitor off (the job then does nothing)."""
    repo = str(job.payload["repository"])
    ctx.repository, ctx.installation_id = repo, job.payload.get("installation_id")
    gh = await ctx.github()
    config = await repo_config(gh, repo, ctx.caches.config_text)
    if isinstance(config, ConfigError) or not config.monitor.enabled:
        return None
    return repo, gh, config


def limits_from(options: MonitorOptions) -> Limits:
    return Limits(
        threshold=options.threshold,
        window_seconds=options.window_days * 86_400,
        cooldown_seconds=options.cooldown_hours * HOUR,
        hourly_cap=options.hourly_cap,
        max_attempts=options.max_attempts,
    )


class Sync:
    """One sync of one fingerprint."""

    def __init__(
        self, ctx: JobContext, gh: GitHubAPI, tracked: store.Tracked, limits: Limits, bot: str
    ) -> None:
        self.ctx, self.gh, self.tracked, self.limits, self.bot = ctx, gh, tracked, limits, bot
        self.repo = tracked.repository
        self.owner, self.name = split(self.repo)
        self.fp = Fingerprint(tracked.fingerprint, tracked.identity, tracked.signature)
        self.event: FailureEvent = parse_event(tracked.sample)

    async def find_issue(self) -> dict[str, Any] | None:
        """The fingerprint's issue: the one the ledger knows, or the bot's monitor issue
        (open or closed) that carries its marker."""
        if self.tracked.issue_number is not None:
            try:
                found = await self.gh.call("issues.get", owner=self.owner, repo=self.name,
                                           issue_number=self.tracked.issue_number)  # fmt: skip
                return dict(found)
            except gidgethub.BadRequest as exc:
                if exc.status_code not in (404, 410):
                    raise
        async for item in self.gh.paginate(
            "issues.list_for_repo", owner=self.owner, repo=self.name, state="all",
            creator=self.bot, labels=MONITOR_LABEL,
        ):  # fmt: skip
            if "pull_request" not in item and render.marked_fingerprint(item.get("body")) == (
                self.fp.value
            ):
                return dict(item)
        return None

    async def rows(self, now: float) -> tuple[list[render.Occurrence], int]:
        since = now - self.limits.window_seconds
        found = await self.ctx.ledger.aread(
            lambda c: (store.occurrences(c, self.tracked.id, since=since, limit=render.TABLE_ROWS),
                       store.count_since(c, self.tracked.id, since))
        )  # fmt: skip
        return [render.Occurrence(o.at, o.run, o.source, o.commit_sha) for o in found[0]], found[1]

    async def contains_fix(self, issue_number: int) -> tuple[bool, bool | None]:
        """(whether the bot's fix merged, whether the latest occurrence's commit contains
        it: None when it cannot be told)."""
        fix = await self.ctx.ledger.aread(lambda c: store.merged_fix(c, self.repo, issue_number))
        if fix is None:
            return False, None
        merged_at, sha = fix
        latest = await self.ctx.ledger.aread(
            lambda c: store.occurrences(c, self.tracked.id, since=merged_at, limit=1)
        )
        if not latest or not latest[0].commit_sha or not sha:
            return True, None
        try:
            compared = await self.gh.call(
                "repos.compare_commits", owner=self.owner, repo=self.name, base=sha,
                head=latest[0].commit_sha,
            )  # fmt: skip
        except gidgethub.BadRequest as exc:
            if exc.status_code in (404, 422):
                return True, False  # a commit GitHub does not know cannot hold the fix
            raise
        return True, str(compared.get("status")) in CONTAINED

    async def step(self, issue: dict[str, Any] | None, now: float) -> tuple[Step, Tracked]:
        closed_at = _epoch(issue.get("closed_at")) if issue else None
        number = int(issue["number"]) if issue else None
        merged, contains = (False, None) if number is None else await self.contains_fix(number)
        tracked = Tracked(issue_number=number, issue_open=bool(issue and issue["state"] == "open"),
                          closed_at=closed_at, fix_merged=merged,
                          attempts=self.tracked.attempts)  # fmt: skip
        _, count = await self.rows(now)
        since_close = count
        if closed_at is not None:
            since_close = await self.ctx.ledger.aread(
                lambda c: store.count_since(c, self.tracked.id, closed_at)
            )
        filed = await self.ctx.ledger.aread(lambda c: store.filed_since(c, self.repo, now - HOUR))
        step = decide(tracked, count=count, count_since_close=since_close,
                      immediate=self.tracked.immediate, contains_fix=contains, now=now,
                      filed_last_hour=filed, limits=self.limits)  # fmt: skip
        return step, tracked

    async def suspect(self) -> MergedChange | None:
        """The merged bot change this new failure appeared right after, if any."""
        first = self.tracked.first_seen
        found = await self.ctx.ledger.aread(
            lambda c: store.merged_changes(c, self.repo, first - REVERT_WINDOW)
        )
        changes = [MergedChange(n, at, targets) for n, at, targets in found]
        return suspect_change(first, self.event.affected_files, changes)

    def _data(
        self, suspect: MergedChange | None, occurrences: list[render.Occurrence], total: int
    ) -> dict[str, Any]:
        if suspect is None:
            kind = TYPE_PREFIX + render.change_type(self.event)
            return {"title": render.title(self.event, self.fp),
                    "body": render.body(self.event, self.fp, occurrences, total),
                    "labels": [REQUEST_LABEL, kind, MONITOR_LABEL]}  # fmt: skip
        return {"title": render.revert_title(self.event, self.fp, suspect.issue_number),
                "body": render.revert_body(self.event, self.fp, occurrences, total,
                                           suspect.issue_number, suspect.targets),
                "labels": [REQUEST_LABEL, TYPE_PREFIX + "fix-bug", MONITOR_LABEL]}  # fmt: skip

    async def file(self, now: float) -> int:
        occurrences, total = await self.rows(now)
        first_filing = self.tracked.attempts == 0 and self.event.source != "security"
        suspect = await self.suspect() if first_filing else None
        created = await self.gh.call("issues.create", owner=self.owner, repo=self.name,
                                     data=self._data(suspect, occurrences, total))  # fmt: skip
        number = int(created["number"])
        if suspect is not None:
            text = (f"**selfheal monitor** · a new failure appeared right after this change "
                    f"merged, in a file it touched: #{number} asks to revert it.")  # fmt: skip
            await self.gh.call("issues.create_comment", owner=self.owner, repo=self.name,
                               issue_number=suspect.issue_number, data={"body": text})  # fmt: skip
        await self.ctx.ledger.awrite(
            lambda c: store.set_issue(c, self.tracked.id, issue_number=number, state="open",
                                      attempt=True, now=now)
        )  # fmt: skip
        details = {"issue": number, "fingerprint": self.fp.value, "occurrences": total}
        await self.ctx.audit(ACTOR, "monitor.filed", details, request=number)
        # the fingerprint and counts only: never the failure's message or stack trace
        await notify.emit(self.ctx, Notification(
            "monitor.issue_filed", self.repo,
            f"a failure seen {total} time(s) became fix request #{number}",
            str(created.get("html_url") or ""), details,
        ))  # fmt: skip
        return number

    async def update_table(self, issue: dict[str, Any], now: float) -> None:
        occurrences, total = await self.rows(now)
        old = str(issue.get("body") or "")
        new = render.replace_table(old, render.table(occurrences, total))
        if new != old:
            await self.gh.call("issues.update", owner=self.owner, repo=self.name,
                               issue_number=int(issue["number"]), data={"body": new})  # fmt: skip

    async def reopen(self, issue: dict[str, Any], now: float) -> None:
        number = int(issue["number"])
        await self.gh.call("issues.update", owner=self.owner, repo=self.name,
                           issue_number=number, data={"state": "open"})  # fmt: skip
        await self.update_table({**issue, "state": "open"}, now)
        await self.ctx.ledger.awrite(
            lambda c: store.set_issue(c, self.tracked.id, issue_number=number, state="open",
                                      attempt=True, now=now)
        )  # fmt: skip
        await self.note(
            number, "The failure recurred after this issue was closed (on a commit that "
            "contains the fix, when one merged): reopened.",
        )  # fmt: skip
        await self.ctx.audit(ACTOR, "monitor.reopened", {"issue": number,
                             "fingerprint": self.fp.value}, request=number)  # fmt: skip

    async def note(self, number: int, text: str) -> None:
        """The monitor's one note on the issue, edited in place."""
        await upsert_marked_comment(self.gh, self.repo, number, comment_marker("monitor-note"),
                                    f"**selfheal monitor** · {text}", self.bot)  # fmt: skip

    async def carry_out(self, step: Step, issue: dict[str, Any] | None, now: float) -> None:
        if step is Step.FILE:
            await self.file(now)
        elif step is Step.CAPPED:
            await self.ctx.ledger.awrite(
                lambda c: jobs.enqueue(c, SYNC_JOB, {"fingerprint_id": self.tracked.id,
                                       "repository": self.repo},
                                       key=f"{SYNC_JOB}:{self.tracked.id}:capped",
                                       repository=self.repo, run_after=now + CAPPED_RETRY)
            )  # fmt: skip
            await self.ctx.audit(ACTOR, "monitor.capped", {"fingerprint": self.fp.value})
        elif issue is not None:
            await self._on_issue(step, issue, now)

    async def _on_issue(self, step: Step, issue: dict[str, Any], now: float) -> None:
        number = int(issue["number"])
        state = str(issue.get("state") or "open")
        await self.ctx.ledger.awrite(
            lambda c: store.set_issue(c, self.tracked.id, issue_number=number, state=state,
                                      closed_at=_epoch(issue.get("closed_at")), now=now)
        )  # fmt: skip
        if step is Step.REOPEN:
            await self.reopen(issue, now)
            return
        await self.update_table(issue, now)
        if step is Step.NOTE:
            await self.note(number, "The failure was seen again after the fix merged, on a "
                            "commit that does not contain the fix (or with no commit to "
                            "tell): the issue stays closed.")  # fmt: skip
        elif step is Step.ASK:
            await self.note(number, f"The failure keeps coming back after "
                            f"{self.tracked.attempts} fix attempts: a person needs to look "
                            "at it. The monitor will not file or reopen it again.")  # fmt: skip


def _epoch(value: Any) -> float | None:
    if not value:
        return None
    from datetime import datetime

    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def release(conn: Any, job: jobs.Job, reason: str) -> None:
    """The dead-letter hook of ``monitor_sync``: clear the fingerprint's flag, so the next
    report queues a fresh sync instead of waiting on a job that will never run."""
    conn.execute(
        "UPDATE monitor_fingerprints SET dirty = 0 WHERE id = ?",
        (int(job.payload.get("fingerprint_id") or 0),),
    )


def _follow_up(conn: Any, job: jobs.Job, fp_id: int, repo: str) -> None:
    """Run in the transaction that marks the job done: reports that arrived while it ran
    flagged the fingerprint but found this job still running, so they queued nothing; queue
    the next sync for them here."""
    row = conn.execute("SELECT dirty FROM monitor_fingerprints WHERE id = ?", (fp_id,)).fetchone()
    if row is not None and row["dirty"]:
        jobs.enqueue(conn, SYNC_JOB, {"fingerprint_id": fp_id, "repository": repo},
                     key=f"{SYNC_JOB}:{fp_id}:after:{job.id}", repository=repo)  # fmt: skip


async def run_sync(job: jobs.Job, ctx: JobContext) -> None:
    """The ``monitor_sync`` job."""
    fp_id = int(job.payload["fingerprint_id"])
    tracked = await ctx.ledger.awrite(lambda c: store.take(c, fp_id))
    if tracked is None:
        return
    ctx.when_done(lambda c: _follow_up(c, job, fp_id, tracked.repository))
    repo = tracked.repository
    inst = job.payload.get("installation_id") or await ctx.ledger.aread(
        lambda c: installations.installation_for(c, repo)
    )
    if inst is None:
        raise PermanentError(f"selfheal is not installed on {repo}")
    ctx.repository, ctx.installation_id = repo, int(inst)
    gh = await ctx.github()
    limits = limits_from(ctx.worker.config.monitor)
    config = await repo_config(gh, repo, ctx.caches.config_text)
    if not isinstance(config, ConfigError):  # a broken config: the operator's limits hold
        limits = limits.tightened(config.monitor.threshold, config.monitor.window_days)
    try:
        sync = Sync(ctx, gh, tracked, limits, await ctx.bot_login())
    except EventError as exc:
        raise PermanentError(f"the fingerprint's sample does not parse: {exc}") from None
    now = time.time()
    issue = await sync.find_issue()
    step, _ = await sync.step(issue, now)
    if step in (Step.FILE, Step.REOPEN) and await is_halted(ctx, repo, gh=gh):
        await ctx.audit(ACTOR, "monitor.halted", {"fingerprint": tracked.fingerprint})
        return
    if step is Step.ASK:
        key = f"monitor-ask:{repo.lower()}:{tracked.fingerprint}:{tracked.attempts}"
        if await ctx.ledger.aread(lambda c: effects.get_effect(c, key)) is not None:
            step = Step.UPDATE
        else:
            await ctx.ledger.awrite(lambda c: effects.record_effect(c, key, "monitor-ask", None))
    await sync.carry_out(step, issue, now)
