"""Rate-limit accounting and fault switches, applied to every REST request.

Switches (all bounded; each serves its fault to the next ``count`` API requests):
- ``server_errors(count, status=502)``: 5xx bursts;
- ``secondary_rate_limit(count, retry_after, status=403)``: the abuse limit with Retry-After;
- ``exhaust_rate_limit(reset_in)``: primary limit at 0 until the reset time;
- ``slow(delay, count)``: delay responses.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from aiohttp import web

from .responses import ApiError

CORE_LIMIT = 5000
SEARCH_LIMIT = 30
ANON_LIMIT = 60
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID {rid}."
)
SECONDARY_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)
PRIMARY_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits"
)
SERVER_ERROR_BODIES = {
    500: "Server Error",
    502: "Server Error",
    503: "Service Unavailable",
    504: "We couldn't respond to your request in time.",
}


@dataclass
class Bucket:
    limit: int
    used: int = 0
    reset: float = field(default_factory=lambda: time.time() + 3600)

    def headers(self, resource: str) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.used)),
            "X-RateLimit-Used": str(self.used),
            "X-RateLimit-Reset": str(int(self.reset)),
            "X-RateLimit-Resource": resource,
        }

    def as_json(self) -> dict[str, int]:
        return {
            "limit": self.limit,
            "used": self.used,
            "remaining": max(0, self.limit - self.used),
            "reset": int(self.reset),
        }


@dataclass
class Faults:
    """Fault switches; ``served`` counts faults actually returned to clients."""

    errors_left: int = 0
    error_status: int = 502
    secondary_left: int = 0
    secondary_status: int = 403
    retry_after: int = 1
    exhausted_until: float = 0.0
    slow_left: int = 0
    delay: float = 0.0
    served: int = 0
    buckets: dict[tuple[str, str], Bucket] = field(default_factory=dict)

    # -- switches --------------------------------------------------------------------------
    def server_errors(self, count: int, status: int = 502) -> None:
        if status not in SERVER_ERROR_BODIES:
            raise ValueError(f"not a 5xx GitHub returns: {status}")
        self.errors_left, self.error_status = count, status

    def secondary_rate_limit(self, count: int = 1, retry_after: int = 1, status: int = 403) -> None:
        if status not in (403, 429):
            raise ValueError("secondary rate limits are 403 or 429")
        self.secondary_left, self.retry_after, self.secondary_status = count, retry_after, status

    def exhaust_rate_limit(self, reset_in: float = 60.0) -> None:
        self.exhausted_until = time.time() + reset_in

    def slow(self, delay: float, count: int = 1) -> None:
        self.slow_left, self.delay = count, delay

    def clear(self) -> None:
        self.errors_left = self.secondary_left = self.slow_left = 0
        self.exhausted_until = 0.0

    # -- accounting ------------------------------------------------------------------------
    def bucket(self, key: str, resource: str, anonymous: bool) -> Bucket:
        limit = SEARCH_LIMIT if resource == "search" else (ANON_LIMIT if anonymous else CORE_LIMIT)
        bucket = self.buckets.get((key, resource))
        if bucket is None or bucket.reset <= time.time():
            window = 60 if resource == "search" else 3600
            bucket = Bucket(limit=limit, reset=time.time() + window)
            self.buckets[(key, resource)] = bucket
        return bucket

    async def before(self, request_id: str) -> None:
        """Apply delay/5xx/secondary switches to one request (raises ApiError to fail it)."""
        if self.slow_left > 0:
            self.slow_left -= 1
            await asyncio.sleep(self.delay)
        if self.errors_left > 0:
            self.errors_left -= 1
            self.served += 1
            status = self.error_status
            raise ApiError(status, SERVER_ERROR_BODIES[status])
        if self.secondary_left > 0:
            self.secondary_left -= 1
            self.served += 1
            raise ApiError(
                self.secondary_status,
                SECONDARY_MESSAGE.format(rid=request_id),
                headers={"Retry-After": str(self.retry_after)},
                docs=SECONDARY_DOCS,
            )

    def charge(self, key: str, resource: str, anonymous: bool, who: str) -> dict[str, str]:
        """Count one request; raise the primary-limit 403 when the bucket is empty."""
        bucket = self.bucket(key, resource, anonymous)
        if self.exhausted_until > time.time():
            bucket.used = bucket.limit
            bucket.reset = self.exhausted_until
        if bucket.used >= bucket.limit:
            self.served += 1
            raise ApiError(
                403,
                f"API rate limit exceeded for {who}.",
                headers=bucket.headers(resource),
                docs=PRIMARY_DOCS,
            )
        bucket.used += 1
        return bucket.headers(resource)


def fault_free(request: web.Request) -> bool:
    """Git smart HTTP and the emulator's own control paths are not subject to API faults."""
    path = request.path
    return ".git/" in path or path.startswith("/_emulator")
