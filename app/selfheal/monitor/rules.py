"""When a fingerprint becomes an issue, and what a later occurrence does to it (pure).

The edges (:mod:`selfheal.monitor.filing`) read a :class:`Tracked` from the ledger and GitHub,
ask :func:`decide`, and carry the :class:`Step` out. The rules:

- an occurrence is one distinct run (``run_id``, which carries the attempt) within the window
  (default 7 days); a report without a run id is its own run;
- with no issue yet, the fingerprint is filed at the threshold (default 3), or at once for a
  crash or a security finding, unless this hour's cap of new issues is reached (the job waits
  and tries again);
- while its issue is open, a later occurrence edits the issue's occurrences table;
- after the bot's fix merged, a recurrence on a commit that contains the fix reopens the issue
  (a regression), unless the fingerprint used up its fix attempts, when a person is asked;
  a recurrence on a commit without the fix, or with no commit to tell, leaves a note;
- after a person closed the issue without a fix, occurrences within the cooldown only update
  the table; past the cooldown, reaching the threshold again reopens it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

DAY = 86_400.0


@dataclass(frozen=True)
class Limits:
    threshold: int = 3
    window_seconds: float = 7 * DAY
    cooldown_seconds: float = DAY
    hourly_cap: int = 5  # new monitor issues per repository per hour
    max_attempts: int = 3  # fix requests (filed or reopened) per fingerprint

    def __post_init__(self) -> None:
        if self.threshold < 1 or self.hourly_cap < 1 or self.max_attempts < 1:
            raise ValueError("the monitor's threshold, hourly cap and attempts must be positive")
        if self.window_seconds <= 0 or self.cooldown_seconds < 0:
            raise ValueError("the monitor's window must be positive and its cooldown not negative")

    def tightened(self, threshold: int | None = None, window_days: float | None = None) -> Limits:
        """The repository's choice, which may only make the monitor quieter: a threshold at
        least the operator's, a window at most the operator's."""
        return Limits(
            threshold=max(self.threshold, threshold or self.threshold),
            window_seconds=min(self.window_seconds, (window_days or 1e9) * DAY),
            cooldown_seconds=self.cooldown_seconds,
            hourly_cap=self.hourly_cap,
            max_attempts=self.max_attempts,
        )


class Step(enum.StrEnum):
    WAIT = "wait"  # below the threshold
    FILE = "file"  # open a request issue
    CAPPED = "capped"  # would file, but this hour's cap is reached
    UPDATE = "update"  # edit the occurrences table
    REOPEN = "reopen"  # a regression, or a recurrence past the cooldown
    NOTE = "note"  # a recurrence that is not shown to be a regression
    ASK = "ask"  # out of fix attempts: a person decides


@dataclass(frozen=True)
class Tracked:
    """What is known of a fingerprint's issue."""

    issue_number: int | None = None
    issue_open: bool = False
    closed_at: float | None = None
    fix_merged: bool = False  # the bot's fix for it merged
    attempts: int = 0


def occurrences(runs: Iterable[tuple[str, float]], now: float, window: float) -> int:
    """Distinct runs seen within ``window`` seconds before ``now``."""
    return len({run for run, at in runs if now - window <= at <= now + 60})


def decide(
    tracked: Tracked,
    *,
    count: int,
    count_since_close: int,
    immediate: bool,
    contains_fix: bool | None,
    now: float,
    filed_last_hour: int,
    limits: Limits,
) -> Step:
    """What a new occurrence of a fingerprint leads to (see the module's rules)."""
    if tracked.issue_number is None:
        if not immediate and count < limits.threshold:
            return Step.WAIT
        return Step.CAPPED if filed_last_hour >= limits.hourly_cap else Step.FILE
    if tracked.issue_open:
        return Step.UPDATE
    if tracked.fix_merged:
        if contains_fix is not True:
            return Step.NOTE
        return Step.ASK if tracked.attempts >= limits.max_attempts else Step.REOPEN
    closed = tracked.closed_at if tracked.closed_at is not None else now
    if now - closed < limits.cooldown_seconds:
        return Step.UPDATE
    if not immediate and count_since_close < limits.threshold:
        return Step.UPDATE
    return Step.ASK if tracked.attempts >= limits.max_attempts else Step.REOPEN


@dataclass(frozen=True)
class MergedChange:
    issue_number: int
    merged_at: float
    targets: tuple[str, ...]


REVERT_WINDOW = DAY  # "right after" a merged bot change


def suspect_change(
    first_seen: float,
    affected_files: Iterable[str],
    changes: Iterable[MergedChange],
    within: float = REVERT_WINDOW,
) -> MergedChange | None:
    """The merged bot change a new failure most likely came from: the latest one merged at
    most ``within`` seconds before the failure first appeared that touched one of its files."""
    files = set(affected_files)
    suspects = [
        c
        for c in changes
        if c.merged_at <= first_seen <= c.merged_at + within and files & set(c.targets)
    ]
    return max(suspects, key=lambda c: c.merged_at, default=None)


def fix_held(merged_at: float | None, last_seen: float, now: float, window: float) -> bool:
    """A merged fix counts as successful once the window passed with no recurrence."""
    return merged_at is not None and last_seen <= merged_at and now - merged_at >= window
