"""MemoryBudget: reservations wait for room, never fail, and a cancelled waiter gives back
whatever it was granted."""

from __future__ import annotations

import asyncio

import pytest

from selfheal.runtime.budget import MemoryBudget


async def _hold(budget: MemoryBudget, size: int, release: asyncio.Event, log: list[int]) -> None:
    async with budget.reserve(size):
        log.append(size)
        await release.wait()


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_reservation_that_does_not_fit_waits_for_room() -> None:
    budget = MemoryBudget(100)
    first, second = asyncio.Event(), asyncio.Event()
    log: list[int] = []
    tasks = [asyncio.create_task(_hold(budget, 70, first, log))]
    await _settle()
    tasks.append(asyncio.create_task(_hold(budget, 50, second, log)))
    await _settle()
    assert log == [70] and budget.waiting == 1 and budget.in_use == 70
    first.set()
    await _settle()
    assert log == [70, 50] and budget.waiting == 0 and budget.in_use == 50
    second.set()
    await asyncio.gather(*tasks)
    assert budget.in_use == 0


async def test_what_fits_is_granted_even_while_a_larger_one_waits() -> None:
    budget = MemoryBudget(100)
    release = asyncio.Event()
    log: list[int] = []
    tasks = [asyncio.create_task(_hold(budget, 60, release, log))]
    await _settle()
    tasks.append(asyncio.create_task(_hold(budget, 60, release, log)))  # waits
    tasks.append(asyncio.create_task(_hold(budget, 30, release, log)))  # fits beside the first
    await _settle()
    assert log == [60, 30] and budget.waiting == 1
    release.set()
    await asyncio.gather(*tasks)
    assert log == [60, 30, 60] and budget.in_use == 0


async def test_a_reservation_larger_than_the_budget_takes_all_of_it() -> None:
    budget = MemoryBudget(100)
    async with budget.reserve(10_000) as held:
        assert held == 100 and budget.in_use == 100
    assert budget.in_use == 0


@pytest.mark.parametrize("granted", [False, True])
async def test_a_cancelled_waiter_leaves_nothing_behind(granted: bool) -> None:
    budget = MemoryBudget(100)
    holder = budget.reserve(80)
    await holder.__aenter__()
    log: list[int] = []
    waiter = asyncio.create_task(_hold(budget, 80, asyncio.Event(), log))
    await _settle()
    assert budget.waiting == 1
    if granted:  # room is handed over, and the waiter is cancelled before it runs again
        await holder.__aexit__(None, None, None)
        assert budget.in_use == 80
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    if not granted:
        await holder.__aexit__(None, None, None)
    assert budget.in_use == 0 and budget.waiting == 0 and log == []
