"""Ingestion: failure events in, occurrences recorded, sync jobs queued.

:class:`Ingest` is the sink the API's ``POST /api/monitor/events`` hands its events to
(``await sink.record(events, reporter=token_name, repository=bound_repo)``), and the entry
point of every other source (CI webhooks, JUnit reports, probes). One call is one ledger
transaction: each event is parsed and fingerprinted (pure), its run recorded once per
(fingerprint, run), and a fingerprint that reached its threshold (or is a crash or a security
finding), or that has an issue to update, gets one ``monitor_sync`` job; the flag that queued
it stops a burst of reports from queueing more. The job does the GitHub work.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from selfheal.ledger import Ledger, jobs
from selfheal.ledger import monitor as store
from selfheal.monitor.events import (
    EventError,
    FailureEvent,
    Problem,
    event_json,
    parse_events,
)
from selfheal.monitor.fingerprint import Fingerprint, fingerprint
from selfheal.monitor.rules import Limits

SYNC_JOB = "monitor_sync"


@dataclass(frozen=True)
class Prepared:
    event: FailureEvent
    fp: Fingerprint
    repository: str
    run: str


def _prepare(
    events: Sequence[FailureEvent], reporter: str, repository: str | None
) -> list[Prepared]:
    out: list[Prepared] = []
    problems: list[Problem] = []
    for index, event in enumerate(events):
        repo = repository or event.repository
        if repository and event.repository and event.repository.lower() != repository.lower():
            problems.append(Problem(f"[{index}].repository", "is not the caller's repository"))
            continue
        if not repo:
            problems.append(Problem(f"[{index}].repository", "is required (owner/name)"))
            continue
        # A report without a run id is its own run.
        run = event.run_id or f"{reporter}:{secrets.token_hex(8)}"
        out.append(Prepared(event, fingerprint(event), repo, run))
    if problems:
        raise EventError(problems)
    return out


def _needs_sync(
    conn: sqlite3.Connection, fp_id: int, immediate: bool, limits: Limits, now: float
) -> bool:
    row = conn.execute(
        "SELECT issue_state, dirty FROM monitor_fingerprints WHERE id = ?", (fp_id,)
    ).fetchone()
    if row["dirty"]:
        return False  # a sync job is queued already
    if row["issue_state"] == "none" and not immediate:
        if store.count_since(conn, fp_id, now - limits.window_seconds) < limits.threshold:
            return False
    return store.mark_dirty(conn, fp_id)


def record_batch(
    conn: sqlite3.Connection,
    batch: Sequence[Prepared],
    *,
    reporter: str,
    limits: Limits,
    now: float,
    max_attempts: int = 5,
) -> tuple[int, int]:
    """Record ``batch`` in one transaction; (new occurrences, sync jobs queued)."""
    recorded = queued = 0
    for item in batch:
        event = item.event
        fp_id = store.upsert(
            conn, item.repository, item.fp.value, identity=item.fp.identity,
            signature=item.fp.signature, sample=event_json(event), immediate=event.immediate,
            at=now,
        )  # fmt: skip
        if not store.add_occurrence(conn, fp_id, item.run, at=now, source=event.source,
                                    commit=event.commit, reporter=reporter):  # fmt: skip
            continue
        recorded += 1
        if _needs_sync(conn, fp_id, event.immediate, limits, now):
            jobs.enqueue(conn, SYNC_JOB, {"fingerprint_id": fp_id, "repository": item.repository},
                         key=f"{SYNC_JOB}:{fp_id}", repository=item.repository,
                         max_attempts=max_attempts, now=now)  # fmt: skip
            queued += 1
    store.set_state(conn, "last_check", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)))
    return recorded, queued


class Ingest:
    """The monitor's sink: ``await ingest.record(events, reporter=..., repository=...)``."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        limits: Limits | None = None,
        notify: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ledger = ledger
        self.limits = limits or Limits()
        self.notify = notify
        self.clock = clock

    def prepare(
        self, events: Any, *, reporter: str, repository: str | None = None
    ) -> list[Prepared]:
        """Parse and fingerprint (pure); raises :class:`EventError` naming each bad field."""
        items = list(events) if isinstance(events, Sequence) and not isinstance(
            events, str | bytes | Mapping) else events  # fmt: skip
        return _prepare(parse_events(items), reporter, repository)

    async def record(self, events: Any, *, reporter: str, repository: str | None = None) -> int:
        """Record ``events`` (one event mapping or a list); returns how many were new
        occurrences (a run reported again counts once). Raises :class:`EventError`."""
        batch = self.prepare(events, reporter=reporter, repository=repository)
        now = self.clock()
        recorded, queued = await self.ledger.awrite(
            lambda c: record_batch(c, batch, reporter=reporter, limits=self.limits, now=now)
        )
        if queued and self.notify is not None:
            self.notify()
        return recorded
