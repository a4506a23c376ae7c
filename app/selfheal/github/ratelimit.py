"""When to retry a GitHub request, and for how long to wait: a pure decision function.

The client asks :func:`decide` after every failed attempt. The answer is either "retry
after ``delay`` seconds" or "stop": ``give_up`` set means the failure was one we retry
(rate limits, 5xx, connection errors) but a bound was reached, so the client raises
``GitHubGaveUp``; otherwise the response is returned to gidgethub, which raises its own
exception (``BadRequest`` for a 404 or 422, for example).

Retry policy (documented in docs/github-client.md):

=====================================  =============================================
failure                                what happens
=====================================  =============================================
primary limit (403/429, remaining 0)   wait until ``X-RateLimit-Reset`` (+1 s) if that
                                       is within ``max_reset_wait``, else give up
secondary limit (403/429 with          wait ``Retry-After`` if within ``max_wait``;
``Retry-After`` or the "secondary      without it, exponential backoff
rate limit" / "abuse" message; any     (``secondary_backoff`` * 2^n)
other 429)
5xx                                    reads, PUT, PATCH, DELETE: backoff with full
                                       jitter; POST only on 502/503 (rejected before
                                       processing), never on 500/504 (may have
                                       been applied: a retry could duplicate it)
connection error / timeout             reads and idempotent writes: backoff; POST only
                                       when the connection was never made
anything else (4xx)                    not retried
=====================================  =============================================

Every path is bounded by ``max_attempts`` and by ``max_total`` seconds of waiting.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

SECONDARY_MARKERS = ("secondary rate limit", "abuse detection", "abuse rate limit")
POST_RETRYABLE_5XX = frozenset({502, 503})


class Failure(Enum):
    PRIMARY = "primary rate limit"
    SECONDARY = "secondary rate limit"
    SERVER = "server error"
    CONNECTION = "connection error"
    CONNECT = "could not connect"
    OTHER = "client error"


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for retries; the defaults suit a bot (tests pass small values)."""

    max_attempts: int = 5
    max_total: float = 120.0
    max_reset_wait: float = 60.0
    max_wait: float = 60.0
    backoff_base: float = 1.0
    backoff_cap: float = 20.0
    secondary_backoff: float = 60.0
    request_timeout: float = 30.0


@dataclass(frozen=True)
class Decision:
    retry: bool
    delay: float = 0.0
    give_up: bool = False
    reason: str = ""


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.title())
    return value


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text.strip())
    except ValueError:
        return None


def classify(status: int | None, headers: Mapping[str, str], message: str = "") -> Failure:
    """Which kind of failure a response (or ``status=None``: a connection error) is."""
    if status is None:
        return Failure.CONNECTION
    if status in (403, 429):
        remaining = _number(_header(headers, "x-ratelimit-remaining"))
        retry_after = _header(headers, "retry-after")
        lowered = message.lower()
        if retry_after is not None or any(m in lowered for m in SECONDARY_MARKERS):
            return Failure.SECONDARY
        if remaining == 0:
            return Failure.PRIMARY
        return Failure.SECONDARY if status == 429 else Failure.OTHER
    if status >= 500:
        return Failure.SERVER
    return Failure.OTHER


def backoff(policy: RetryPolicy, attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter for the ``attempt``-th failure (1-based)."""
    ceiling = min(policy.backoff_cap, policy.backoff_base * (2 ** (attempt - 1)))
    return (rng or random).uniform(ceiling / 2, ceiling)


def decide(
    policy: RetryPolicy,
    *,
    method: str,
    failure: Failure,
    status: int | None,
    headers: Mapping[str, str],
    attempt: int,
    waited: float,
    now: float,
    rng: random.Random | None = None,
) -> Decision:
    """Retry or stop after the ``attempt``-th failed attempt, having ``waited`` seconds so far.

    ``now`` is the wall-clock epoch time (for ``X-RateLimit-Reset``)."""
    label = failure.value if status is None else f"{failure.value} (HTTP {status})"
    if failure is Failure.OTHER:
        return Decision(retry=False, reason=label)
    if method == "POST" and (
        (failure is Failure.SERVER and status not in POST_RETRYABLE_5XX)
        or failure is Failure.CONNECTION
    ):
        return Decision(retry=False, give_up=True, reason=f"{label}; a POST is not retried")
    if failure is Failure.PRIMARY:
        reset = _number(_header(headers, "x-ratelimit-reset")) or now
        delay = max(0.0, reset - now) + 1.0
        if delay > policy.max_reset_wait:
            return Decision(
                retry=False,
                give_up=True,
                reason=f"{label}: resets in {delay:.0f}s (bound {policy.max_reset_wait:.0f}s)",
            )
    elif failure is Failure.SECONDARY:
        after = _number(_header(headers, "retry-after"))
        delay = after if after is not None else policy.secondary_backoff * (2 ** (attempt - 1))
        if delay > policy.max_wait:
            return Decision(
                retry=False,
                give_up=True,
                reason=f"{label}: Retry-After {delay:.0f}s, past the {policy.max_wait:.0f}s bound",
            )
    else:
        delay = backoff(policy, attempt, rng)
    if attempt >= policy.max_attempts:
        return Decision(retry=False, give_up=True, reason=f"{label} after {attempt} attempts")
    if waited + delay > policy.max_total:
        return Decision(
            retry=False,
            give_up=True,
            reason=f"{label}: waiting would pass the {policy.max_total:.0f}s total bound",
        )
    return Decision(retry=True, delay=delay, reason=label)
