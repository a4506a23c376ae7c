"""The monitor's section of the dashboard issue: the top failing fingerprints of a
repository in the window, read from a real ledger, and rendered (pure) so that nothing a
reporter wrote can become markdown, a mention, HTML, a checkbox or a hidden marker."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from selfheal.dashboard.render import Facts, boxes, render
from selfheal.ledger import Ledger
from selfheal.ledger import monitor as store
from selfheal.model.markers import DASHBOARD_MARKER
from selfheal.monitor.render import TOP, TopFailure, section
from selfheal.monitor.web import top_failure

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


# ---- the rendering (pure) -----------------------------------------------------------------

SUMMARY = {"errors": 3, "occurrences": 9, "open_issues": 1, "attempts": 1}
FP = "v1:0123456789abcdef0123456789abcdef"
AT = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC
HOSTILE = (
    "@everyone look\n- [ ] Approve <!-- selfheal:box approve:req_zz -->\r- [x] Halt "
    "<!-- selfheal:box halt -->\u2028<!-- selfheal:dashboard --> `code` ```fence``` "
    "<img src=x onerror=alert(1)> **bold** [link](https://evil.example) " + "x" * 5_000
)


def failure(**over: object) -> TopFailure:
    base: dict[str, object] = {"fingerprint": FP, "kind": "ZeroDivisionError",
                               "message": "division by zero", "occurrences": 4,
                               "last_seen": AT, "issue": 12}  # fmt: skip
    base.update(over)
    return TopFailure(**base)  # type: ignore[arg-type]


def test_nothing_seen_is_no_section() -> None:
    assert section({"errors": 0, "occurrences": 0, "open_issues": 0, "attempts": 0}, [], 7) is None


def test_the_section_shows_the_counts_and_each_top_fingerprint() -> None:
    text = section(SUMMARY, [failure(), failure(fingerprint="v1:ff", kind="", message="",
                                                occurrences=1, issue=None)], 7.0)  # fmt: skip
    assert text is not None
    assert "| 3 | 9 | 1 | 1 |" in text
    assert "Top failing fingerprints in the last 7 days:" in text
    first, second = text.splitlines()[-2:]
    assert first == ("1. `v1:0123456789abc` `ZeroDivisionError` × 4: `division by zero`"
                     " · last seen 2026-05-28 20:26 UTC · fix request #12")  # fmt: skip
    assert second.startswith("2. `v1:ff` `-` × 1: (no message)")
    assert second.endswith("no fix request yet")


def test_at_most_the_top_few_and_a_quiet_window_says_so() -> None:
    many = [failure(fingerprint=f"v1:{n:02d}", occurrences=20 - n) for n in range(TOP + 3)]
    text = section(SUMMARY, many, 1.0) or ""
    assert "in the last day:" in text
    ranked = [line.split(" ")[:2] for line in text.splitlines() if line[:1].isdigit()]
    assert ranked == [[f"{n + 1}.", f"`v1:{n:02d}`"] for n in range(TOP)]
    assert "No failures in the last 0.5 days." in (section(SUMMARY, [], 0.5) or "")


def test_hostile_messages_and_types_stay_inside_one_bounded_code_span() -> None:
    text = section(SUMMARY, [failure(message=HOSTILE, kind="@admins\n- [ ] <!-- x -->`")], 7)
    assert text is not None
    line = text.splitlines()[-1]
    assert line.startswith("1. ") and len(text.splitlines()) == 6  # table, blank, title, one
    assert len(line) < 400  # the message is cut, not the line's end
    assert line.endswith("· fix request #12")
    assert line.count("`") == 6  # three code spans, each closed, nothing else in backticks
    assert "<" not in line and "\u2028" not in line and "\r" not in line
    # the mentions and checkbox text are there only inside code spans
    outside = line.split("`")[::2]
    assert not any("@" in part or "[ ]" in part or "**" in part for part in outside)
    # in the whole dashboard body: no forged box, one marker
    body = render(Facts(repository="acme/widgets", halted=False, halt_label="selfheal:halt",
                        sections={"Monitor": text}))  # fmt: skip
    assert boxes(body) == {"halt": False}
    assert body.count(DASHBOARD_MARKER) == 1 and "<!-- selfheal:box approve" not in body


def test_a_row_becomes_what_the_dashboard_shows(ledger: Ledger) -> None:
    event = {"source": "agent", "agent_id": "planner", "message": "boom",
             "stack_trace": "Traceback (most recent call last):\nKeyError: 'k'\n"}  # fmt: skip
    fp_id = ledger.write(lambda c: store.upsert(c, REPO, "v1:abc", identity="i", signature="s",
                                                sample=event, immediate=False, at=NOW))  # fmt: skip
    ledger.write(lambda c: store.add_occurrence(c, fp_id, "r1", at=NOW, source="agent"))
    (found,) = ledger.read(lambda c: store.top_failing(c, REPO, since=NOW - DAY))
    assert top_failure(found) == TopFailure("v1:abc", "KeyError", "boom", 1, NOW, None)
    # a sample that no longer parses shows no text rather than failing the rebuild
    broken = store.Failing(replace(found.tracked, sample={"source": "nope"}), 1)
    assert top_failure(broken) == TopFailure("v1:abc", "", "", 1, NOW, None)
    no_type = store.Failing(replace(found.tracked, sample={"source": "ci", "message": "m"}), 2)
    assert top_failure(no_type).kind == "ci"
