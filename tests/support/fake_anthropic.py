"""The fake Anthropic Messages API of the tests: the demo's scripted Messages API
(:mod:`selfheal.demo.messages`, spoken to by the real anthropic SDK) with a test key and
one more kind of step, :class:`Hold`, that keeps a call in flight while a test stops the
server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from selfheal.demo.messages import (
    MAX_WAIT,
    Failure,
    Reply,
    ScriptedMessagesAPI,
    Step,
    Turn,
    finish,
    wire_problem,
)

__all__ = [
    "API_KEY",
    "MAX_WAIT",
    "Failure",
    "FakeAnthropic",
    "Hold",
    "Turn",
    "fake_anthropic",
    "finish",
    "wire_problem",
]  # fmt: skip

API_KEY = "sk-ant-api03-" + "fake" * 20 + "AA"  # the shape of a key; test-only
MAX_HOLD = 60.0


@dataclass
class Hold:
    """Keep the request waiting until ``release`` is set (at most MAX_HOLD seconds), then
    answer ``then`` (a test stops the server while a call is in flight)."""

    release: threading.Event
    then: Turn | Failure = field(default_factory=lambda: Failure(500, "api_error", "held"))


class FakeAnthropic(ScriptedMessagesAPI):
    def __init__(self, script: list[Step] | None = None, key: str = API_KEY) -> None:
        super().__init__(script, key=key)
        self.held = 0
        self.holds: list[threading.Event] = []

    async def resolve(self, step: object) -> Reply:
        if isinstance(step, Hold):
            self.held += 1
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, step.release.wait, MAX_HOLD)
            return step.then
        return await super().resolve(step)

    def start(self) -> FakeAnthropic:
        super().start()
        return self

    def stop(self) -> None:
        for step in self.script:
            if isinstance(step, Hold):
                step.release.set()
        for event in self.holds:
            event.set()
        super().stop()


@contextmanager
def fake_anthropic(*script: Step) -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic(list(script)).start()
    try:
        yield fake
    finally:
        fake.stop()
