"""Per-repository limits, the queue's order and the budget check, with plain values."""

from __future__ import annotations

import math

import pytest

from selfheal.changes import limits as lim
from selfheal.changes.limits import HOUR, QueuedRequest, RepoLimits

NOW = 1_750_000_000.0


def test_the_queue_takes_priority_10_first_then_the_oldest() -> None:
    queue = [
        QueuedRequest(issue=1, priority=3, queued_at=NOW - 900),
        QueuedRequest(issue=2, priority=10, queued_at=NOW - 10),
        QueuedRequest(issue=3, priority=10, queued_at=NOW - 60),
        QueuedRequest(issue=5, priority=7, queued_at=NOW - 30),
        QueuedRequest(issue=4, priority=7, queued_at=NOW - 30),
    ]
    assert [q.issue for q in lim.queue_order(queue)] == [3, 2, 4, 5, 1]


def _check(open_prs: int, opened: list[float], change_type: str = "fix-bug",
           limits: RepoLimits | None = None) -> lim.LimitDecision:  # fmt: skip
    return lim.check_pr_limits(
        limits or RepoLimits(max_open_prs=3, max_new_prs_per_hour=2),
        open_bot_prs=open_prs,
        opened_at=opened,
        now=NOW,
        change_type=change_type,
    )


def test_within_the_limits() -> None:
    decision = _check(2, [NOW - 30])
    assert decision.allowed and decision.retry_after is None


def test_the_open_pr_limit_holds_back_even_security_requests() -> None:
    for change_type in ("fix-bug", "security"):
        decision = _check(3, [], change_type)
        assert not decision.allowed
        assert "3 of the bot's pull requests are open; the limit is 3" in decision.reason


def test_the_hourly_limit_and_when_it_frees() -> None:
    opened = [NOW - 3000, NOW - 1200, NOW - 600, NOW - HOUR, NOW - 7200]
    decision = _check(0, opened)
    assert not decision.allowed
    assert "3 pull requests in the last hour; the limit is 2 an hour" in decision.reason
    # two of the three in the window must leave: the second oldest does at NOW - 1200 + HOUR
    assert decision.retry_after == pytest.approx(HOUR - 1200)


def test_a_security_request_skips_the_hourly_limit() -> None:
    decision = _check(0, [NOW - 10, NOW - 20, NOW - 30], "security")
    assert decision.allowed and "security" in decision.reason


def test_the_window_is_the_last_hour_and_skewed_clocks_count() -> None:
    assert _check(0, [NOW - HOUR, NOW - HOUR - 1]).allowed  # exactly an hour ago is out
    assert not _check(0, [NOW + 5, NOW - 1]).allowed  # a time ahead of ours is in


def test_a_zero_hourly_limit_never_frees() -> None:
    decision = _check(0, [], limits=RepoLimits(max_open_prs=3, max_new_prs_per_hour=0))
    assert not decision.allowed and decision.retry_after is None


def test_the_next_request_to_start() -> None:
    queue = [
        QueuedRequest(1, 9, NOW - 100, "dependency"),
        QueuedRequest(2, 4, NOW - 50, "security"),
        QueuedRequest(3, 6, NOW - 500, "security"),
    ]
    limits = RepoLimits(max_open_prs=2, max_new_prs_per_hour=1)
    free = lim.next_to_start(queue, limits, open_bot_prs=0, opened_at=[], now=NOW)
    assert free is not None and free.issue == 1
    busy_hour = lim.next_to_start(queue, limits, open_bot_prs=0, opened_at=[NOW - 5], now=NOW)
    assert busy_hour is not None and busy_hour.issue == 3  # the most urgent security request
    full = lim.next_to_start(queue, limits, open_bot_prs=2, opened_at=[], now=NOW)
    assert full is None
    assert lim.next_to_start([], limits, open_bot_prs=0, opened_at=[], now=NOW) is None


def test_a_repository_can_tighten_the_operators_limits_but_not_loosen_them() -> None:
    operator = RepoLimits(max_open_prs=3, max_new_prs_per_hour=5)
    assert lim.tighten(operator, None) == operator
    assert lim.tighten(operator, RepoLimits(1, 10)) == RepoLimits(1, 5)
    assert lim.tighten(operator, RepoLimits(9, 2)) == RepoLimits(3, 2)


@pytest.mark.parametrize("value", [-1, True, 1.5])
def test_limits_must_be_whole_numbers(value: object) -> None:
    with pytest.raises(ValueError, match="whole number"):
        RepoLimits(max_open_prs=value)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="whole number"):
        _check(value, [])  # type: ignore[arg-type]


def test_a_requests_budget() -> None:
    assert lim.request_budget(20.0) == 20.0
    assert lim.request_budget(20.0, 5.0) == 5.0
    assert lim.request_budget(20.0, 5.0, 3.0) == 8.0  # an owner extended it
    assert lim.request_budget(20.0, 5.0, 30.0) == 20.0  # never above the ceiling
    assert lim.request_budget(4.0, 5.0) == 4.0  # the repository cannot raise it


@pytest.mark.parametrize(
    ("spent", "limit", "estimate", "allowed", "words"),
    [
        (0.0, 5.0, 0.0, True, "$0.00 of $5.00 spent"),
        (4.99, 5.0, 0.0, True, "$4.99 of $5.00 spent"),
        (5.0, 5.0, 0.0, False, "the budget is used up: $5.00 of $5.00"),
        (7.5, 5.0, 0.0, False, "used up: $7.50 of $5.00"),
        (3.0, 5.0, 2.0, True, "$3.00 of $5.00 spent"),
        (3.0, 5.0, 2.5, False, "would cost about $2.50; $2.00 of the $5.00 budget is left"),
        (0.0, 0.0, 0.0, False, "used up"),
    ],
)
def test_the_budget_check(
    spent: float, limit: float, estimate: float, allowed: bool, words: str
) -> None:
    decision = lim.check_budget(spent, limit, estimate)
    assert decision.allowed is allowed
    assert words in decision.reason
    assert decision.remaining_usd == pytest.approx(max(0.0, limit - spent))


@pytest.mark.parametrize("bad", [-0.01, math.nan, math.inf, True])
def test_money_must_be_a_finite_non_negative_amount(bad: float) -> None:
    with pytest.raises(ValueError):
        lim.check_budget(bad, 5.0)
    with pytest.raises(ValueError):
        lim.request_budget(5.0, bad)
    with pytest.raises(ValueError):
        lim.spent([0.1, bad])


def test_many_small_costs_add_up_exactly() -> None:
    costs = [0.1] * 50
    assert sum(costs) != 5.0  # plain float addition drifts
    assert lim.spent(costs) == 5.0
    assert not lim.check_budget(lim.spent(costs), 5.0).allowed


def test_may_start_gives_the_free_slot_to_the_most_urgent_request() -> None:
    limits = RepoLimits(max_open_prs=2, max_new_prs_per_hour=10)
    urgent = QueuedRequest(issue=7, priority=10, queued_at=50.0)
    old = QueuedRequest(issue=3, priority=5, queued_at=10.0)
    young = QueuedRequest(issue=4, priority=5, queued_at=20.0)
    queue = [young, old, urgent]
    # one PR open: one slot left, and it is the urgent request's
    args = {"open_bot_prs": 1, "opened_at": [], "now": 100.0}
    assert lim.may_start(urgent, queue, limits, **args).allowed  # type: ignore[arg-type]
    held = lim.may_start(old, queue, limits, **args)  # type: ignore[arg-type]
    assert not held.allowed and "1 more urgent or older" in held.reason
    # no PR open: two slots, for the urgent and then the oldest request
    free = {"open_bot_prs": 0, "opened_at": [], "now": 100.0}
    assert lim.may_start(old, queue, limits, **free).allowed  # type: ignore[arg-type]
    assert not lim.may_start(young, queue, limits, **free).allowed  # type: ignore[arg-type]


def test_may_start_lets_a_security_request_past_the_hourly_limit_only() -> None:
    limits = RepoLimits(max_open_prs=5, max_new_prs_per_hour=1)
    fix = QueuedRequest(issue=1, priority=5, queued_at=1.0)
    sec = QueuedRequest(issue=2, priority=1, queued_at=2.0, change_type="security")
    recent = [HOUR - 10.0]
    now = HOUR
    held = lim.may_start(fix, [fix, sec], limits, open_bot_prs=0, opened_at=recent, now=now)
    assert not held.allowed and held.retry_after == pytest.approx(HOUR - 10.0)
    assert lim.may_start(sec, [fix, sec], limits, open_bot_prs=0, opened_at=recent, now=now).allowed
    full = lim.may_start(sec, [sec], limits, open_bot_prs=5, opened_at=[], now=now)
    assert not full.allowed and "5 of the bot's pull requests are open" in full.reason
