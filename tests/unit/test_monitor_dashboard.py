"""The monitor's section of the dashboard issue: the top failing fingerprints of a
repository in the window, read from a real ledger."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from selfheal.ledger import Ledger
from selfheal.ledger import monitor as store

REPO = "acme/widgets"
NOW = 1_800_000_000.0
DAY = 86_400.0


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "ledger.db") as opened:
        yield opened


def seen(ledger: Ledger, fp: str, *ages: float, repository: str = REPO) -> int:
    """A fingerprint with one occurrence (one run) ``age`` seconds before NOW for each age."""

    def write(conn: sqlite3.Connection) -> int:
        fp_id = store.upsert(conn, repository, fp, identity=f"agent:{fp}",
                             signature=f"KeyError|{fp}", sample={"source": "agent"},
                             immediate=False, at=NOW - max(ages))  # fmt: skip
        for n, age in enumerate(ages):
            store.add_occurrence(conn, fp_id, f"run-{fp}-{n}", at=NOW - age,
                                 source="agent")  # fmt: skip
        return fp_id

    return ledger.write(write)


def top(ledger: Ledger, repository: str = REPO, window: float = 7 * DAY,
        limit: int = 5) -> list[tuple[str, int]]:  # fmt: skip
    found = ledger.read(lambda c: store.top_failing(c, repository, since=NOW - window,
                                                    limit=limit))  # fmt: skip
    return [(f.tracked.fingerprint, f.recent) for f in found]


def test_the_most_occurrences_in_the_window_come_first(ledger: Ledger) -> None:
    seen(ledger, "v1:aaa", 10, 20)
    seen(ledger, "v1:bbb", 5, 6, 7)
    seen(ledger, "v1:ccc", 30)
    assert top(ledger) == [("v1:bbb", 3), ("v1:aaa", 2), ("v1:ccc", 1)]


def test_only_occurrences_inside_the_window_count(ledger: Ledger) -> None:
    # many old runs, one recent: the recent count ranks it, not the total
    seen(ledger, "v1:old", 8 * DAY, 9 * DAY, 10 * DAY, 11 * DAY, 60)
    seen(ledger, "v1:new", 100, 200)
    seen(ledger, "v1:gone", 8 * DAY, 9 * DAY)  # nothing in the window: left out
    assert top(ledger) == [("v1:new", 2), ("v1:old", 1)]
    assert top(ledger, window=12 * DAY) == [("v1:old", 5), ("v1:new", 2), ("v1:gone", 2)]
    (old,) = [f for f in ledger.read(lambda c: store.top_failing(c, REPO, since=NOW - DAY))
              if f.tracked.fingerprint == "v1:old"]  # fmt: skip
    assert old.tracked.total == 5 and old.recent == 1


def test_a_tie_goes_to_the_most_recently_seen(ledger: Ledger) -> None:
    seen(ledger, "v1:early", 50, 500)
    seen(ledger, "v1:late", 10, 900)
    assert top(ledger) == [("v1:late", 2), ("v1:early", 2)]


def test_only_the_repositorys_own_fingerprints_and_case_does_not_matter(ledger: Ledger) -> None:
    seen(ledger, "v1:mine", 10)
    seen(ledger, "v1:theirs", 10, 20, 30, repository="acme/other")
    assert top(ledger, "ACME/Widgets") == [("v1:mine", 1)]
    assert top(ledger, "acme/other") == [("v1:theirs", 3)]
    assert top(ledger, "acme/none") == []


def test_the_limit_holds(ledger: Ledger) -> None:
    for n in range(8):
        seen(ledger, f"v1:{n:03d}", *[10.0 + k for k in range(n + 1)])
    assert top(ledger, limit=3) == [("v1:007", 8), ("v1:006", 7), ("v1:005", 6)]
    assert len(top(ledger)) == 5


def test_the_row_keeps_the_issue_and_last_seen(ledger: Ledger) -> None:
    fp_id = seen(ledger, "v1:filed", 10, 99)
    ledger.write(lambda c: store.set_issue(c, fp_id, issue_number=12, state="open",
                                           attempt=True, now=NOW))  # fmt: skip
    (found,) = ledger.read(lambda c: store.top_failing(c, REPO, since=NOW - DAY))
    assert found.tracked.issue_number == 12 and found.tracked.last_seen == NOW - 10
