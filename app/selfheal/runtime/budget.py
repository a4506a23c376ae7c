"""A byte budget for request bodies held in memory at the same time.

The webhook handler reserves a body's declared size before reading it and gives it back when
the delivery is answered. A reservation that does not fit waits until enough is given back; it
is never refused, because GitHub does not resend a failed delivery by itself. A reservation that
fits is granted at once, even while larger ones wait; waiters are woken in arrival order, each
as soon as it fits. No reservation asks for more than the whole budget, so none waits forever.

Only asyncio, no aiohttp: each waiter gets a future from the running loop, so one budget
works under any event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator


class MemoryBudget:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a memory budget needs at least one byte")
        self.capacity = capacity
        self.in_use = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def waiting(self) -> int:
        """How many reservations are waiting."""
        return sum(1 for _, future in self._waiters if not future.done())

    @contextlib.asynccontextmanager
    async def reserve(self, size: int) -> AsyncIterator[int]:
        """Hold ``size`` bytes (at most the whole budget) for the ``async with`` block."""
        size = min(max(size, 0), self.capacity)
        await self._acquire(size)
        try:
            yield size
        finally:
            self._release(size)

    async def _acquire(self, size: int) -> None:
        if self.in_use + size <= self.capacity:
            self.in_use += size
            return
        entry = (size, asyncio.get_running_loop().create_future())
        self._waiters.append(entry)
        try:
            await entry[1]
        except BaseException:
            if entry[1].done() and not entry[1].cancelled():
                self._release(size)  # granted, but cancelled before it could be used
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(entry)
            raise

    def _release(self, size: int) -> None:
        self.in_use -= size
        for entry in list(self._waiters):
            wanted, future = entry
            if future.done():
                self._waiters.remove(entry)
            elif self.in_use + wanted <= self.capacity:
                self._waiters.remove(entry)
                self.in_use += wanted
                future.set_result(None)
