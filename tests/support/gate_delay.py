"""A slow gate, for the tests that must catch a gate job mid-run (a halt, a ``kill -9``).

Production code has no test hook: this wraps :func:`selfheal.gate.job.fetch_pr`, the step
after the gate's halt check, with a wait that still honours the job's cancellation. In
process, a test calls :func:`slow_down` with pytest's ``monkeypatch``; a server subprocess
loads the ``selfheal_gate_delay`` plugin (tests/fixtures/appcore/plugins), which reads the
seconds from ``SELFHEAL_TEST_GATE_DELAY``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from selfheal.gate import job as gate_job
from selfheal.runtime.context import JobContext

DELAY_ENV = "SELFHEAL_TEST_GATE_DELAY"

Fetch = Callable[..., Awaitable[Path]]


class Delay:
    """How long the gate waits before fetching; set ``seconds`` to 0 to let it go on."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


def slowed(fetch: Fetch, delay: Delay) -> Fetch:
    async def slow_fetch(ctx: JobContext, *args: Any) -> Path:
        started = time.monotonic()
        while time.monotonic() - started < delay.seconds:
            ctx.raise_if_cancelled()
            await asyncio.sleep(0.05)
        return await fetch(ctx, *args)

    return slow_fetch


def slow_down(monkeypatch: pytest.MonkeyPatch, seconds: float) -> Delay:
    """Make every gate job in this process wait ``seconds`` before fetching."""
    delay = Delay(seconds)
    monkeypatch.setattr(gate_job, "fetch_pr", slowed(gate_job.fetch_pr, delay))
    return delay
