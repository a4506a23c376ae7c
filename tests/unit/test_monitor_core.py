"""The monitor's pure core with plain values: events, fingerprints, rules, the issue, CI."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from selfheal import cli
from selfheal.changes.intake import parse_request
from selfheal.monitor import EVENT_SCHEMA, EVENTS_SCHEMA, EventError, ci, parse_event, parse_events
from selfheal.monitor import issue as render
from selfheal.monitor.fingerprint import (
    endpoint_path,
    fingerprint,
    in_app_frames,
    normalise_message,
)
from selfheal.monitor.rules import Limits, Step, Tracked, decide, fix_held, occurrences


def trace(prefix: str, line: int, value: str = "42") -> str:
    return (
        "Traceback (most recent call last):\n"
        f'  File "{prefix}/app/agents/worker.py", line {line}, in run\n'
        "    self.step()\n"
        f'  File "{prefix}/app/agents/worker.py", line {line + 7}, in step\n'
        "    parse(x)\n"
        f'  File "{prefix}/.venv/lib/python3.11/site-packages/yaml/__init__.py", line 81, in load\n'
        "    return loader.get_single_data()\n"
        f"ValueError: bad value {value}\n"
    )


def agent(**extra: Any) -> dict[str, Any]:
    return {"source": "agent", "agent_id": "planner", "error_type": "ValueError",
            "message": "bad value 42", **extra}  # fmt: skip


# ---- events ---------------------------------------------------------------------------------


def test_a_full_event_parses_and_matches_the_schema() -> None:
    data = agent(stack_trace=trace("/srv", 10), affected_files=["./app/agents/worker.py"],
                 severity="crash", timestamp="2026-02-09T15:30:00Z", run_id=17,
                 endpoint={"url": "https://api.example.com/v1/users/12", "method": "post",
                           "status": 503}, repository="acme/widgets", commit="abc1234")  # fmt: skip
    jsonschema.validate(data, EVENT_SCHEMA)
    event = parse_event(data)
    assert event.affected_files == ("app/agents/worker.py",)
    assert event.run_id == "17" and event.immediate
    assert event.endpoint is not None and event.endpoint.method == "POST"
    assert event.timestamp is not None and event.timestamp.year == 2026


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"error_type": "X"}, "source"),
        (agent(source="martian"), "source"),
        (agent(message=["not", "text"]), "message"),
        (agent(message="x" * 9_000), "message"),
        (agent(affected_files="app.py"), "affected_files"),
        (agent(affected_files=["a\nb"]), "affected_files"),
        (agent(severity="apocalyptic"), "severity"),
        (agent(timestamp="yesterday"), "timestamp"),
        (agent(endpoint={"url": "/x", "status": 999}), "endpoint.status"),
        (agent(endpoint={"url": "/x", "verb": "GET"}), "endpoint"),
        (agent(run_id="bad\nid"), "run_id"),
        (agent(repository="not a repo"), "repository"),
        (agent(surprise=1), "surprise"),
        ({"source": "test", "message": "boom"}, "test_id"),
        ({"source": "agent"}, "error_type"),
    ],
)
def test_a_bad_event_names_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(EventError) as caught:
        parse_event(data)
    assert field in [p.field for p in caught.value.problems]


def test_a_list_names_the_index_of_each_bad_event() -> None:
    with pytest.raises(EventError) as caught:
        parse_events([agent(), agent(severity="x"), "text"])
    assert [p.field for p in caught.value.problems] == ["[1].severity", "[2].event"]
    jsonschema.validate([agent(), agent()], EVENTS_SCHEMA)
    with pytest.raises(EventError):
        parse_events([])


# ---- fingerprints ---------------------------------------------------------------------------


def test_the_same_bug_from_two_machines_has_one_fingerprint() -> None:
    one = parse_event(agent(stack_trace=trace("/home/runner/work/w/w", 10, "42")))
    two = parse_event(agent(stack_trace=trace("/srv/deploy", 31, "97")))
    assert fingerprint(one) == fingerprint(two)
    assert fingerprint(one).value.startswith("v1:")
    assert in_app_frames(one.stack_trace) == ["agents/worker:step", "agents/worker:run"]


def test_different_agents_types_and_frames_differ() -> None:
    base = fingerprint(parse_event(agent(stack_trace=trace("/srv", 1))))
    other_agent = fingerprint(parse_event(agent(agent_id="critic", stack_trace=trace("/srv", 1))))
    other_type = fingerprint(
        parse_event(agent(error_type="KeyError", stack_trace=trace("/srv", 1)))
    )
    moved = trace("/srv", 1).replace("in step", "in other")
    other_frame = fingerprint(parse_event(agent(stack_trace=moved)))
    assert len({base, other_agent, other_type, other_frame}) == 4


def test_recursion_collapses() -> None:
    frame = '  File "/srv/app/tree.py", line {n}, in walk\n    walk(child)\n'
    deep = "Traceback:\n" + "".join(frame.format(n=i) for i in range(50)) + "RecursionError: x\n"
    shallow = "Traceback:\n" + frame.format(n=3) + "RecursionError: x\n"
    assert in_app_frames(deep) == ["app/tree:walk"]
    e1, e2 = parse_event(agent(stack_trace=deep)), parse_event(agent(stack_trace=shallow))
    assert fingerprint(e1) == fingerprint(e2)


def test_javascript_frames_are_read_innermost_first() -> None:
    js = ("TypeError: x is undefined\n    at render (/app/src/view.js:10:5)\n"
          "    at Object.run (/app/node_modules/lib/index.js:3:1)\n"
          "    at main (/app/src/main.js:2:1)\n")  # fmt: skip
    assert in_app_frames(js) == ["src/view:render", "src/main:main"]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("user 1234 not found", "user <n> not found"),
        ("request 3f2b1c4e-8d9a-4b7c-9e1f-0a2b3c4d5e6f failed", "request <uuid> failed"),
        ("at 2026-02-09T15:30:00Z it broke", "at <time> it broke"),
        ("connect to 10.0.0.12:5432 refused", "connect to <ip> refused"),
        ("GET https://api.example.com/v1/x?id=3 gave 500", "GET <url> gave <n>"),
        ("mail bob@example.com bounced", "mail <email> bounced"),
        ("cannot open /tmp/pytest-77/data.csv", "cannot open <tmp>"),
        ("key 'alpha-7' missing", "key <str> missing"),
        ("object at 0x7f3a2b1c", "object at <hex>"),
        ("commit deadbeef1234 is bad", "commit <hex> is bad"),
    ],
)
def test_messages_are_normalised(message: str, expected: str) -> None:
    assert normalise_message(message) == expected


def test_endpoint_identity_drops_ids_and_query_and_keeps_the_status_class() -> None:
    assert endpoint_path("https://x.io/v1/users/42/orders/9f8e7d6c5b?page=2") == (
        "/v1/users/{id}/orders/{id}"
    )

    def ep(url: str, status: int | None) -> str:
        event = {"source": "endpoint", "endpoint": {"url": url, "status": status}}
        return fingerprint(parse_event(event)).value

    assert ep("/v1/users/1", 500) == ep("/v1/users/2?x=1", 503)
    assert ep("/v1/users/1", 500) != ep("/v1/users/1", 404)
    assert ep("/v1/users/1", None) != ep("/v1/users/1", 500)


# ---- rules ----------------------------------------------------------------------------------

LIMITS = Limits(threshold=3, window_seconds=100.0, cooldown_seconds=50.0, hourly_cap=2,
                max_attempts=2)  # fmt: skip


def step(tracked: Tracked, **kw: Any) -> Step:
    args: dict[str, Any] = {"count": 1, "count_since_close": 1, "immediate": False,
                            "contains_fix": None, "now": 1_000.0, "filed_last_hour": 0,
                            "limits": LIMITS, **kw}  # fmt: skip
    return decide(tracked, **args)


def test_threshold_immediate_and_cap() -> None:
    assert step(Tracked(), count=2) is Step.WAIT
    assert step(Tracked(), count=3) is Step.FILE
    assert step(Tracked(), count=1, immediate=True) is Step.FILE
    assert step(Tracked(), count=3, filed_last_hour=2) is Step.CAPPED
    assert step(Tracked(issue_number=4, issue_open=True), count=9) is Step.UPDATE


def test_regressions_reopen_only_on_a_commit_with_the_fix() -> None:
    fixed = Tracked(issue_number=4, closed_at=900.0, fix_merged=True, attempts=1)
    assert step(fixed, contains_fix=True) is Step.REOPEN
    assert step(fixed, contains_fix=False) is Step.NOTE
    assert step(fixed, contains_fix=None) is Step.NOTE
    assert step(Tracked(4, False, 900.0, True, attempts=2), contains_fix=True) is Step.ASK


def test_cooldown_after_a_person_closed_it() -> None:
    closed = Tracked(issue_number=4, closed_at=980.0)
    assert step(closed, count_since_close=5) is Step.UPDATE  # within the cooldown
    later = Tracked(issue_number=4, closed_at=900.0)
    assert step(later, count_since_close=2) is Step.UPDATE
    assert step(later, count_since_close=3) is Step.REOPEN


def test_occurrences_window_and_fix_held() -> None:
    runs = [("a", 950.0), ("a", 960.0), ("b", 990.0), ("c", 800.0)]
    assert occurrences(runs, 1_000.0, 100.0) == 2
    assert fix_held(merged_at=500.0, last_seen=400.0, now=700.0, window=100.0)
    assert not fix_held(merged_at=500.0, last_seen=600.0, now=700.0, window=100.0)
    assert not fix_held(merged_at=650.0, last_seen=400.0, now=700.0, window=100.0)
    assert Limits().tightened(threshold=1).threshold == 3  # a repository cannot loosen it
    assert Limits().tightened(threshold=5, window_days=1).window_seconds == 86_400


# ---- the issue --------------------------------------------------------------------------


def test_the_body_is_a_request_the_intake_reads_only_from_the_app() -> None:
    event = parse_event(agent(stack_trace=trace("/srv", 3), affected_files=["app/agents/worker.py",
                              "/etc/passwd"], message="bad value 42 ``` <!-- x -->"))  # fmt: skip
    fp = fingerprint(event)
    rows = [render.Occurrence(1_000.0 + i, f"run-{i}", "agent") for i in range(12)]
    body = render.body(event, fp, rows, 12)
    assert render.marked_fingerprint(body) == fp.value
    parsed = parse_request(render.title(event, fp), body, app_authored=True)
    assert parsed.source == "app" and parsed.change_type == "fix-bug"
    assert parsed.target_paths == ("app/agents/worker.py",)  # /etc/passwd was dropped
    assert parsed.requester == "selfheal-monitor"
    assert parse_request("t", body, app_authored=False).source != "app"
    assert "| … | 2 earlier | | |" in body


def test_a_later_occurrence_replaces_only_the_table() -> None:
    event = parse_event(agent())
    fp = fingerprint(event)
    body = render.body(event, fp, [render.Occurrence(1.0, "r1", "agent")], 1)
    new = render.replace_table(body, render.table([render.Occurrence(2.0, "r2", "agent")], 4))
    assert "**Occurrences:** 4 distinct runs" in new and "r1" not in new
    assert new.replace(render.table([render.Occurrence(2.0, "r2", "agent")], 4), "") == (
        body.replace(render.table([render.Occurrence(1.0, "r1", "agent")], 1), "")
    )


# ---- CI -------------------------------------------------------------------------------------

JUNIT = b"""<?xml version="1.0"?>
<testsuites><testsuite name="pytest">
  <testcase classname="tests.test_api.TestUsers" name="test_get" file="tests/test_api.py">
    <failure message="assert 500 == 200" type="AssertionError">Traceback...
E  assert 500 == 200</failure></testcase>
  <testcase classname="tests.test_api" name="test_ok"/>
  <testcase classname="tests.test_db" name="test_connect"><error message="boom"/></testcase>
</testsuite></testsuites>"""


def test_junit_failures_become_test_events() -> None:
    failures = ci.parse_junit(JUNIT)
    assert [f.test_id for f in failures] == [
        "tests/test_api.py::TestUsers::test_get",
        "tests.test_db.test_connect",
    ]
    events = ci.junit_events(failures, run="77.1", commit="abc1234", repository="acme/w")
    assert [e["run_id"] for e in events] == ["77.1", "77.1"]
    assert parse_events(events)[0].affected_files == ("tests/test_api.py",)


@pytest.mark.parametrize(
    "bad",
    [
        b"<!DOCTYPE x [<!ENTITY a 'aaaa'>]><testsuite>&a;</testsuite>",
        b"<testsuite><testcase>",
        b"<html/>",
    ],
)
def test_hostile_or_broken_junit_is_refused(bad: bytes) -> None:
    with pytest.raises(ci.JUnitError):
        ci.parse_junit(bad)


@pytest.mark.parametrize(
    ("conclusion", "branch", "timed_out", "expected"),
    [
        ("failure", "main", False, True),
        ("failure", "release", False, True),
        ("failure", "feature/x", False, False),
        ("failure", "selfheal/12-fix", False, False),
        ("timed_out", "main", False, False),
        ("timed_out", "main", True, True),
        ("cancelled", "main", True, False),
        ("action_required", "main", True, False),
    ],
)
def test_which_runs_count(conclusion: str, branch: str, timed_out: bool, expected: bool) -> None:
    assert ci.counts(conclusion, branch, "main", branches=["release"],
                     count_timed_out=timed_out) is expected  # fmt: skip


# ---- the grouping fixture and the command -------------------------------------------------

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "monitor" / "grouping.jsonl"


def test_the_labelled_fixture_groups_with_precision_and_recall_of_095() -> None:
    rows = [json.loads(line) for line in FIXTURE.read_text("utf-8").splitlines() if line]
    labelled = [(row.pop("group"), fingerprint(parse_event(row)).value) for row in rows]
    pairs = list(itertools.combinations(labelled, 2))
    grouped = [(a[0] == b[0]) for a, b in pairs if a[1] == b[1]]
    same = [(a[1] == b[1]) for a, b in pairs if a[0] == b[0]]
    assert len(rows) >= 60 and len(same) >= 60
    assert sum(grouped) / len(grouped) >= 0.95  # precision
    assert sum(same) / len(same) >= 0.95  # recall


def test_the_command_prints_one_fingerprint_per_line_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = [agent(), {"source": "endpoint", "endpoint": {"url": "/v1/x/1", "status": 500}},
              agent(message="bad value 7")]  # fmt: skip
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n\n")
    assert cli.main(["monitor", "fingerprint", "--input", str(path)]) == 0
    printed = capsys.readouterr().out.split()
    expected = [fingerprint(parse_event(e)).value for e in events]
    assert printed == expected and printed[0] == printed[2] != printed[1]
    path.write_text(json.dumps(agent()) + "\n{not json\n" + json.dumps({"source": "x"}) + "\n")
    assert cli.main(["monitor", "fingerprint", "--input", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "line 2:" in captured.err and "line 3: source" in captured.err


def test_the_suspect_change_is_the_latest_merged_right_before_that_touched_the_files() -> None:
    from selfheal.monitor.rules import MergedChange, suspect_change

    changes = [MergedChange(4, 1_000.0, ("app/a.py",)), MergedChange(7, 2_000.0, ("app/a.py",)),
               MergedChange(9, 2_500.0, ("docs/x.md",))]  # fmt: skip
    assert suspect_change(2_100.0, ["app/a.py"], changes) == changes[1]
    assert suspect_change(1_500.0, ["app/a.py"], changes) == changes[0]
    assert suspect_change(2_100.0, ["app/b.py"], changes) is None  # not a file it touched
    assert suspect_change(900.0, ["app/a.py"], changes) is None  # seen before the merge
    assert suspect_change(2_000.0 + 90_000, ["app/a.py"], changes) is None  # long after


def _zip(files: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_junit_reports_are_the_bounded_xml_files_of_an_artifact() -> None:
    report = b'<testsuite><testcase name="t"><failure message="x"/></testcase></testsuite>'
    big = b"<testsuite>" + b" " * (ci.MAX_JUNIT_BYTES + 1) + b"</testsuite>"  # compresses well
    blob = _zip({"a.xml": report, "notes.txt": b"not xml", "dir/b.XML": report, "big.xml": big})
    assert ci.junit_reports(blob, 10) == [report, report]  # the oversized one is never read
    assert ci.junit_reports(blob, 1) == [report]
    assert ci.junit_reports(b"not a zip", 10) == []
    assert ci.junit_reports(b"", 10) == []
