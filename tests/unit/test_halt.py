"""The halt state cache: transitions applied atomically in the ledger's writer."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from pathlib import Path

from selfheal.halt.state import search_query, transition
from selfheal.ledger import Ledger


def test_search_query_quotes_the_label() -> None:
    assert search_query("acme/w", "ops: stop") == 'repo:acme/w is:issue is:open label:"ops: stop"'


def _add(conn: sqlite3.Connection, number: int) -> tuple[set[int], set[int]]:
    return transition(conn, "a/b", ("halt",), None, (number, True))


async def test_concurrent_toggles_are_all_kept_and_a_new_label_starts_over(
    tmp_path: Path,
) -> None:
    with Ledger.open(tmp_path / "l.db") as ledger:
        first = await ledger.awrite(lambda c: transition(c, "a/b", ("halt",), {7}, (1, True)))
        assert first == ({7}, {1, 7})  # no cache yet: the fallback (from search) is "before"
        results = await asyncio.gather(
            *(ledger.awrite(functools.partial(_add, number=n)) for n in range(10, 30))
        )
        assert len(results) == 20
        state = ledger.write(lambda c: transition(c, "a/b", ("halt",), None))[1]
        assert state == {1, 7, *range(10, 30)}
        removed = ledger.write(lambda c: transition(c, "a/b", ("halt",), None, (7, False)))
        assert 7 in removed[0] and 7 not in removed[1]
        other = ledger.write(lambda c: transition(c, "a/b", ("ops:stop",), set(), (3, True)))
        assert other == (set(), {3})  # a renamed lock label does not reuse the old cache
