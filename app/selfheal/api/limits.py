"""Per-token limits: a request rate (a token bucket) and a cap on calls in flight.

Pure bookkeeping over a clock the caller passes: :meth:`Limiter.acquire` says whether a call
may start now and, when not, after how many seconds to try again (the ``Retry-After``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class _Bucket:
    tokens: float
    at: float
    in_flight: int = 0


@dataclass
class Limiter:
    rate: float  # calls per second, sustained
    burst: int  # calls at once above the rate
    concurrency: int  # calls in flight at once
    max_keys: int = 10_000
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def _bucket(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:  # forget idle, full buckets first
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        refill = (now - bucket.at) * self.rate
        bucket.tokens = min(float(self.burst), bucket.tokens + max(refill, 0.0))
        bucket.at = now
        return bucket

    def _prune(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if b.in_flight == 0]:
            del self._buckets[key]

    def acquire(self, key: str, now: float) -> int | None:
        """None when the call may start (then call :meth:`release`), else the seconds to wait."""
        bucket = self._bucket(key, now)
        if bucket.in_flight >= self.concurrency:
            return 1
        if bucket.tokens < 1.0:
            return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))
        bucket.tokens -= 1.0
        bucket.in_flight += 1
        return None

    def release(self, key: str) -> None:
        bucket = self._buckets.get(key)
        if bucket is not None and bucket.in_flight > 0:
            bucket.in_flight -= 1
