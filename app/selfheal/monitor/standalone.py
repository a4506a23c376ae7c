"""The monitor without the App (pure): counts kept in a hidden marker in the issue itself.

With only a workflow's ``GITHUB_TOKEN`` there is no ledger, so each fingerprint's issue carries
its own state: a second hidden marker lists the distinct runs seen (``run@epoch``, the latest
:data:`MAX_RUNS`), from which the occurrences within the window are counted and the table is
drawn. Such issues are labelled ``selfheal:source/monitor`` only, never ``selfheal:request``:
a maintainer who wants the fix adds that label, and the request intake then counts the issue
as written by the App (see ``changes.authorisation.monitor_issue_author``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from selfheal.monitor import issue as render
from selfheal.monitor.events import FailureEvent
from selfheal.monitor.fingerprint import Fingerprint

RUNS = re.compile(r"<!-- selfheal:runs ([^>]{0,20000}) -->")
RUN = re.compile(r"([A-Za-z0-9_.:@/()=,#+-]{1,200})@([0-9]{1,12})")
MAX_RUNS = 50


def runs_in(body: str | None) -> list[tuple[str, float]]:
    """The runs recorded in an issue's marker, oldest first."""
    found = RUNS.search(body or "")
    if not found:
        return []
    return [(m.group(1), float(m.group(2))) for m in RUN.finditer(found.group(1))]


def runs_marker(runs: Sequence[tuple[str, float]]) -> str:
    kept = list(runs)[-MAX_RUNS:]
    return "<!-- selfheal:runs " + " ".join(f"{r}@{int(at)}" for r, at in kept) + " -->"


def add_run(runs: Sequence[tuple[str, float]], run: str, at: float) -> list[tuple[str, float]]:
    """``runs`` with ``run`` added once (a run reported again keeps its first time)."""
    clean = run.replace(" ", "_").replace("@", "_")[:200]
    if any(r == clean for r, _ in runs):
        return list(runs)
    return [*runs, (clean, at)][-MAX_RUNS:]


def table_for(
    runs: Sequence[tuple[str, float]], source: str, now: float, window: float
) -> tuple[str, int]:
    """The occurrences table and the count within the window."""
    recent = [(r, at) for r, at in runs if now - window <= at <= now + 60]
    rows = [render.Occurrence(at, r, source) for r, at in recent]
    return render.table(rows, len(recent)), len(recent)


def new_body(event: FailureEvent, fp: Fingerprint, run: str, now: float, window: float) -> str:
    runs = add_run([], run, now)
    text, count = table_for(runs, event.source, now, window)
    body = render.body(event, fp, [], count)
    return render.replace_table(body, text) + runs_marker(runs) + "\n"


def updated_body(body: str, source: str, run: str, now: float, window: float) -> tuple[str, int]:
    """An issue's body with ``run`` recorded: the runs marker and the table replaced."""
    runs = add_run(runs_in(body), run, now)
    text, count = table_for(runs, source, now, window)
    updated = render.replace_table(body, text)
    marker = runs_marker(runs)
    if RUNS.search(updated):
        updated = RUNS.sub(lambda _: marker, updated, count=1)
    else:
        updated = updated.rstrip("\n") + "\n" + marker + "\n"
    return updated, count
