"""Per-repository limits, the order of the queue and the budget check (pure, plain values).

- Limits per repository: how many of the bot's pull requests may be open at once, and how many
  new ones it may open in any hour. A security request skips the hourly limit (a fix for a
  vulnerability should not wait for a quiet hour) but never the limit on open PRs. The
  operator sets the limits; a repository may only tighten them (:func:`tighten`).
- The queue: priority 10 first, then the oldest request, then the lowest issue number.
- The budget: a request's limit is the repository's per-request budget (the operator's
  ceiling when the repository sets none) plus what an owner extended it by, never above the
  operator's ceiling. A request may go on while what it spent, plus what the next step is
  expected to cost, stays within its limit; at the limit it stops (as the state machine's
  budget guard does).

Times are seconds since the epoch and money is US dollars, as the caller measures them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

HOUR = 3600.0
SECURITY_TYPE = "security"


def _count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number of 0 or more, not {value!r}")
    return value


def _money(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite amount of dollars, not {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, not {value!r}")
    return float(value)


@dataclass(frozen=True)
class RepoLimits:
    max_open_prs: int = 3  # the bot's open PRs in the repository at once
    max_new_prs_per_hour: int = 5  # PRs the bot opens in any 60 minutes

    def __post_init__(self) -> None:
        _count("max_open_prs", self.max_open_prs)
        _count("max_new_prs_per_hour", self.max_new_prs_per_hour)


def tighten(operator: RepoLimits, repository: RepoLimits | None) -> RepoLimits:
    """The repository's limits where they are stricter than the operator's."""
    if repository is None:
        return operator
    return RepoLimits(
        max_open_prs=min(operator.max_open_prs, repository.max_open_prs),
        max_new_prs_per_hour=min(operator.max_new_prs_per_hour, repository.max_new_prs_per_hour),
    )


def is_security(change_type: str) -> bool:
    return change_type == SECURITY_TYPE


@dataclass(frozen=True)
class QueuedRequest:
    issue: int
    priority: int  # 1..10, 10 the most urgent
    queued_at: float
    change_type: str = "fix-bug"


def queue_order(items: Iterable[QueuedRequest]) -> list[QueuedRequest]:
    """Priority 10 first, then the oldest, then the lowest issue number."""
    return sorted(items, key=lambda q: (-q.priority, q.queued_at, q.issue))


@dataclass(frozen=True)
class LimitDecision:
    allowed: bool
    reason: str
    retry_after: float | None = None  # seconds until the hourly window frees a slot


def _in_last_hour(opened_at: Iterable[float], now: float) -> list[float]:
    """PRs opened in the hour up to ``now``; a time after ``now`` (clock skew) counts too."""
    return sorted(t for t in opened_at if t > now - HOUR)


def check_pr_limits(
    limits: RepoLimits,
    *,
    open_bot_prs: int,
    opened_at: Iterable[float],
    now: float,
    change_type: str,
) -> LimitDecision:
    """Whether a request of ``change_type`` may start now and open a PR. ``open_bot_prs`` is
    how many of the bot's PRs are open; ``opened_at`` when the bot opened its recent PRs."""
    _count("open_bot_prs", open_bot_prs)
    if open_bot_prs >= limits.max_open_prs:
        return LimitDecision(
            False,
            f"{open_bot_prs} of the bot's pull requests are open; the limit is "
            f"{limits.max_open_prs} at once",
        )
    recent = _in_last_hour(opened_at, now)
    if len(recent) < limits.max_new_prs_per_hour:
        return LimitDecision(True, "within the repository's limits")
    if is_security(change_type):
        return LimitDecision(True, "a security request skips the hourly limit")
    # the slot frees when enough of the recent PRs leave the window
    frees = recent[len(recent) - limits.max_new_prs_per_hour] if recent else now
    wait = max(0.0, frees + HOUR - now) if limits.max_new_prs_per_hour else None
    return LimitDecision(
        False,
        f"the bot opened {len(recent)} pull requests in the last hour; the limit is "
        f"{limits.max_new_prs_per_hour} an hour",
        wait,
    )


def next_to_start(
    queue: Iterable[QueuedRequest],
    limits: RepoLimits,
    *,
    open_bot_prs: int,
    opened_at: Sequence[float],
    now: float,
) -> QueuedRequest | None:
    """The first request in queue order that the limits let start now, if any: while the
    hourly limit holds the others back, the most urgent security request goes first."""
    for item in queue_order(queue):
        decision = check_pr_limits(
            limits,
            open_bot_prs=open_bot_prs,
            opened_at=opened_at,
            now=now,
            change_type=item.change_type,
        )
        if decision.allowed:
            return item
    return None


@dataclass(frozen=True)
class BudgetDecision:
    allowed: bool
    limit_usd: float
    spent_usd: float
    reason: str

    @property
    def remaining_usd(self) -> float:
        return max(0.0, self.limit_usd - self.spent_usd)


def spent(costs: Iterable[float]) -> float:
    """The sum of a request's recorded costs, without float drift over many small ones."""
    return math.fsum(_money("a cost", c) for c in costs)


def request_budget(
    operator_ceiling_usd: float,
    repository_usd: float | None = None,
    extended_usd: float = 0.0,
) -> float:
    """A request's limit: the repository's budget (or the ceiling), plus an owner's
    extensions, never above the operator's ceiling."""
    ceiling = _money("the operator's ceiling", operator_ceiling_usd)
    base = ceiling if repository_usd is None else min(_money("the budget", repository_usd), ceiling)
    return min(base + _money("the extension", extended_usd), ceiling)


def check_budget(spent_usd: float, limit_usd: float, estimate_usd: float = 0.0) -> BudgetDecision:
    """Whether the request may take its next step, expected to cost ``estimate_usd``."""
    used = _money("spent", spent_usd)
    limit = _money("the limit", limit_usd)
    estimate = _money("the estimate", estimate_usd)
    if used >= limit:
        reason = f"the budget is used up: ${used:.2f} of ${limit:.2f}"
        return BudgetDecision(False, limit, used, reason)
    if used + estimate > limit:
        reason = (
            f"the next step would cost about ${estimate:.2f}; ${limit - used:.2f} of the "
            f"${limit:.2f} budget is left"
        )
        return BudgetDecision(False, limit, used, reason)
    return BudgetDecision(True, limit, used, f"${used:.2f} of ${limit:.2f} spent")


def may_start(
    item: QueuedRequest,
    queue: Iterable[QueuedRequest],
    limits: RepoLimits,
    *,
    open_bot_prs: int,
    opened_at: Sequence[float],
    now: float,
) -> LimitDecision:
    """Whether ``item`` (one of ``queue``) may start now: the limits allow a request of its
    type, and enough slots are free for it after the requests ahead of it in queue order
    (priority, then age) that may start too."""
    own = check_pr_limits(limits, open_bot_prs=open_bot_prs, opened_at=opened_at, now=now,
                          change_type=item.change_type)  # fmt: skip
    if not own.allowed:
        return own
    ahead = 0
    for other in queue_order(queue):
        if other == item:
            break
        decision = check_pr_limits(limits, open_bot_prs=open_bot_prs + ahead,
                                   opened_at=opened_at, now=now,
                                   change_type=other.change_type)  # fmt: skip
        if decision.allowed:
            ahead += 1
    if ahead == 0:
        return own
    after = check_pr_limits(limits, open_bot_prs=open_bot_prs + ahead,
                            opened_at=[*opened_at, *[now] * ahead], now=now,
                            change_type=item.change_type)  # fmt: skip
    if after.allowed:
        return own
    return LimitDecision(
        False, f"{ahead} more urgent or older request(s) take the free slots first: "
        f"{after.reason}", after.retry_after,
    )  # fmt: skip


def money(usd: float) -> str:
    """Dollars to the cent, or to a hundredth of a cent below one cent (for the comments)."""
    return f"${usd:.4f}" if 0 < usd < 0.01 else f"${usd:.2f}"
