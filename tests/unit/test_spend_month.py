"""A repository's spend in a calendar month (real SQLite): what the monthly cap and the
dashboard issue count."""

from __future__ import annotations

import calendar
import sqlite3
from pathlib import Path

import pytest

from selfheal.ledger import Ledger, requests, spend


def at(text: str) -> float:
    """Epoch seconds of ``year,month,day,hour,minute,second`` in UTC."""
    year, month, day, hour, minute, second = (int(x) for x in text.split(","))
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))


@pytest.mark.parametrize(
    ("when", "month", "start"),
    [
        ("2026,12,31,23,59,59", "2026-12", "2026,12,1,0,0,0"),
        ("2027,1,1,0,0,0", "2027-01", "2027,1,1,0,0,0"),
        ("2024,2,29,12,0,0", "2024-02", "2024,2,1,0,0,0"),
    ],
)
def test_the_month_is_the_utc_calendar_month(when: str, month: str, start: str) -> None:
    assert spend.month_of(at(when)) == (month, at(start))


def call(request_id: str, cost: float, when: float) -> spend.Call:
    return spend.Call(request_id, "coding_agent", "claude-sonnet-4-5", 10, 10, 0, 0, 0, cost, when)


def test_a_repositorys_spend_counts_its_calls_since_the_start(tmp_path: Path) -> None:
    ledger = Ledger.open(tmp_path / "ledger.db")
    try:
        start = at("2026,12,1,0,0,0")

        def fill(conn: sqlite3.Connection) -> None:
            one, _ = requests.create_request(conn, "acme/widgets", 1, requester="alice")
            two, _ = requests.create_request(conn, "acme/widgets", 2, requester="alice")
            other, _ = requests.create_request(conn, "acme/other", 1, requester="alice")
            for row in (call(one.id, 0.50, start - 1),  # November: not counted
                        call(one.id, 0.25, start),  # the first second of December
                        call(two.id, 1.00, start + 86_400),
                        call(other.id, 9.00, start + 10)):  # another repository  # fmt: skip
                spend.record_call(conn, row)

        ledger.write(fill)
        found = ledger.read(lambda c: spend.repository_spend(c, "acme/widgets", start))
        assert found == pytest.approx(1.25)
        assert ledger.read(lambda c: spend.repository_spend(c, "ACME/Widgets", start)) == found
        assert ledger.read(lambda c: spend.repository_spend(c, "acme/none", start)) == 0.0
        assert ledger.read(lambda c: spend.repository_spend(c, "acme/widgets", 0)) == (
            pytest.approx(1.75)
        )
    finally:
        ledger.close()
