"""app.github.ratelimit: the retry decision table, case by case (pure, no I/O)."""

from __future__ import annotations

import random

import pytest

from selfheal.github.ratelimit import Decision, Failure, RetryPolicy, backoff, classify, decide

POLICY = RetryPolicy(max_attempts=4, max_total=30, max_reset_wait=20, max_wait=10)
NOW = 1_700_000_000.0


def _decide(
    method: str,
    status: int | None,
    headers: dict[str, str],
    attempt: int = 1,
    waited: float = 0.0,
    message: str = "",
) -> Decision:
    failure = classify(status, headers, message)
    return decide(
        POLICY,
        method=method,
        failure=failure,
        status=status,
        headers=headers,
        attempt=attempt,
        waited=waited,
        now=NOW,
        rng=random.Random(7),
    )


@pytest.mark.parametrize(
    ("status", "headers", "message", "expected"),
    [
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"}, "", Failure.PRIMARY),
        (429, {"x-ratelimit-remaining": "0"}, "", Failure.PRIMARY),
        (403, {"retry-after": "3", "x-ratelimit-remaining": "0"}, "", Failure.SECONDARY),
        (
            403,
            {"x-ratelimit-remaining": "12"},
            "You have exceeded a secondary rate limit",
            Failure.SECONDARY,
        ),
        (429, {}, "", Failure.SECONDARY),
        (
            403,
            {"x-ratelimit-remaining": "12"},
            "Resource not accessible by integration",
            Failure.OTHER,
        ),
        (502, {}, "", Failure.SERVER),
        (404, {}, "", Failure.OTHER),
        (None, {}, "", Failure.CONNECTION),
    ],
)
def test_classify(
    status: int | None, headers: dict[str, str], message: str, expected: Failure
) -> None:
    assert classify(status, headers, message) is expected


def test_primary_waits_until_the_reset_within_the_bound() -> None:
    decision = _decide(
        "GET", 403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 5)}
    )
    assert decision.retry and decision.delay == pytest.approx(6.0)


def test_primary_past_the_bound_gives_up_at_once() -> None:
    decision = _decide(
        "GET", 403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 3600)}
    )
    assert not decision.retry and decision.give_up
    assert "primary rate limit" in decision.reason and "3601s" in decision.reason


def test_secondary_honours_retry_after_and_its_bound() -> None:
    assert _decide("POST", 403, {"retry-after": "7"}).delay == 7.0
    too_long = _decide("POST", 403, {"retry-after": "11"})
    assert too_long.give_up and "Retry-After 11s" in too_long.reason


def test_secondary_without_retry_after_backs_off_exponentially() -> None:
    policy = RetryPolicy(secondary_backoff=1.0, max_wait=100, max_total=1000, max_attempts=10)
    delays = [
        decide(
            policy,
            method="GET",
            failure=Failure.SECONDARY,
            status=429,
            headers={},
            attempt=n,
            waited=0,
            now=NOW,
        ).delay
        for n in (1, 2, 3)
    ]
    assert delays == [1.0, 2.0, 4.0]


def test_server_errors_back_off_with_jitter_within_the_cap() -> None:
    rng = random.Random(1)
    values = [
        backoff(RetryPolicy(backoff_base=1.0, backoff_cap=4.0), n, rng) for n in (1, 2, 3, 4, 5)
    ]
    assert 0.5 <= values[0] <= 1.0
    assert all(v <= 4.0 for v in values)
    assert 2.0 <= values[4] <= 4.0


@pytest.mark.parametrize(
    ("status", "retried"), [(500, False), (502, True), (503, True), (504, False)]
)
def test_post_is_retried_only_when_github_cannot_have_processed_it(
    status: int, retried: bool
) -> None:
    decision = _decide("POST", status, {})
    assert decision.retry is retried
    if not retried:
        assert decision.give_up and "POST" in decision.reason
    assert _decide("PATCH", status, {}).retry


def test_connection_errors_retry_reads_but_not_ambiguous_posts() -> None:
    assert _decide("GET", None, {}).retry
    assert not _decide("POST", None, {}).retry
    connect = decide(
        POLICY,
        method="POST",
        failure=Failure.CONNECT,
        status=None,
        headers={},
        attempt=1,
        waited=0,
        now=NOW,
    )
    assert connect.retry


def test_attempt_and_total_time_bounds_stop_everything() -> None:
    last = _decide("GET", 502, {}, attempt=POLICY.max_attempts)
    assert last.give_up and "after 4 attempts" in last.reason
    late = _decide("GET", 403, {"retry-after": "5"}, waited=POLICY.max_total - 1)
    assert late.give_up and "total" in late.reason


def test_client_errors_are_not_retried_nor_given_up() -> None:
    decision = _decide("GET", 404, {})
    assert not decision.retry and not decision.give_up
