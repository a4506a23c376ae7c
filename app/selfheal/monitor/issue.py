"""The monitor's request issue (pure): title, body, marker and occurrences table.

The body carries the App's machine block (the request the intake honours only in an issue
the App wrote), the error, one representative stack trace and the affected files (each quoted
as untrusted data: they come from whoever reported the failure), the occurrences table
between two hidden markers, and a hidden fingerprint marker by which the monitor finds its
issue again among the bot's open and closed issues. A later occurrence replaces the table and
nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from selfheal.changes.intake import (
    normalise_target,
    quote_untrusted,
    render_machine_block,
    sanitize,
)
from selfheal.monitor.events import FailureEvent
from selfheal.monitor.fingerprint import Fingerprint, exception_type

MARKER = re.compile(r"<!-- selfheal:monitor fingerprint=(v\d+:[0-9a-f]{8,64})(?: [^>]*)? -->")
TABLE_START = "<!-- selfheal:occurrences -->"
TABLE_END = "<!-- /selfheal:occurrences -->"
TABLE_ROWS = 10
MAX_TITLE = 120
NORMAL_PRIORITY = 5
HIGH_PRIORITY = 9


@dataclass(frozen=True)
class Occurrence:
    at: float
    run: str
    source: str
    commit: str | None = None


def marker(fp: str) -> str:
    return f"<!-- selfheal:monitor fingerprint={fp} -->"


def marked_fingerprint(body: str | None) -> str | None:
    """The fingerprint in a monitor issue's hidden marker (None when there is none)."""
    found = MARKER.search(body or "")
    return found.group(1) if found else None


def change_type(event: FailureEvent) -> str:
    return "security" if event.source == "security" else "fix-bug"


def priority(event: FailureEvent) -> int:
    return HIGH_PRIORITY if event.immediate else NORMAL_PRIORITY


def targets(event: FailureEvent) -> list[str]:
    """The affected files that are valid request targets (the others are dropped)."""
    out: list[str] = []
    for path in event.affected_files:
        try:
            clean = normalise_target(path)
        except ValueError:
            continue
        if clean not in out:
            out.append(clean)
    return out


def _flat(text: str) -> str:
    """One line of reported text for a title or a table cell: no invisible or bidirectional
    characters, no markdown code spans or HTML."""
    return " ".join(sanitize(text).replace("`", "'").replace("<", "‹").split())


def title(event: FailureEvent, fp: Fingerprint) -> str:
    what = exception_type(event) or event.source
    where = event.test_id or (event.endpoint.url if event.endpoint else None) or event.agent_id
    summary = event.message.strip().splitlines()[0][:80] if event.message.strip() else ""
    text = _flat(f"[monitor] {what}" + (f" in {where}" if where else "") +
                 (f": {summary}" if summary else ""))  # fmt: skip
    return text[:MAX_TITLE]


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def table(occurrences: Sequence[Occurrence], total: int) -> str:
    """The occurrences section: the count and the latest rows, between the table markers."""
    rows = sorted(occurrences, key=lambda o: o.at, reverse=True)[:TABLE_ROWS]
    lines = [TABLE_START, f"**Occurrences:** {total} distinct runs", "",
             "| seen (UTC) | run | source | commit |", "|---|---|---|---|"]  # fmt: skip
    for o in rows:
        commit = f"`{o.commit[:12]}`" if o.commit else "-"
        lines.append(f"| {_when(o.at)} | `{_flat(o.run)[:60]}` | {o.source} | {commit} |")
    if total > len(rows):
        lines.append(f"| … | {total - len(rows)} earlier | | |")
    lines.append(TABLE_END)
    return "\n".join(lines)


def replace_table(body: str, new_table: str) -> str:
    """``body`` with its occurrences section replaced (appended when it has none)."""
    start, end = body.find(TABLE_START), body.find(TABLE_END)
    if start == -1 or end == -1 or end < start:
        return body.rstrip("\n") + "\n\n" + new_table + "\n"
    return body[:start] + new_table + body[end + len(TABLE_END) :]


def description(event: FailureEvent, fp: Fingerprint) -> str:
    """The request's description for the coder: the monitor's own words, with the reported
    text quoted as untrusted data."""
    parts = [
        f"The selfheal monitor saw this failure repeatedly ({fp.identity}). Fix its cause "
        "in the affected files; do not silence the error or weaken the test.",
        quote_untrusted(f"{exception_type(event)}: {event.message}"[:4_000], "the failure report"),
    ]
    if event.stack_trace.strip():
        parts.append(quote_untrusted(event.stack_trace[-6_000:], "the failure's stack trace"))
    return "\n\n".join(parts)


def revert_title(event: FailureEvent, fp: Fingerprint, suspect: int) -> str:
    rest = title(event, fp).removeprefix("[monitor] ")
    return _flat(f"[monitor] Revert #{suspect}: {rest}")[:MAX_TITLE]


def revert_body(
    event: FailureEvent, fp: Fingerprint, occurrences: Sequence[Occurrence], total: int,
    suspect: int, targets_of_suspect: Sequence[str],
) -> str:  # fmt: skip
    """A request to revert the bot's change of issue ``suspect``: a new failure in the files
    it touched appeared right after it merged."""
    report = quote_untrusted(f"{exception_type(event)}: {event.message}"[:4_000],
                             "the failure report")  # fmt: skip
    description = (
        f"Revert the change that selfheal made for #{suspect}: right after it merged, a new "
        f"failure ({fp.identity}) appeared in the files it touched. Restore those files to "
        f"their state before that change.\n\n{report}"
    )
    block = render_machine_block("fix-bug", description, list(targets_of_suspect), HIGH_PRIORITY,
                                 requester="selfheal-monitor")  # fmt: skip
    lines = [
        marker(fp.value),
        f"The selfheal monitor asks to revert the change made for #{suspect}: this failure "
        "first appeared right after it merged, in a file it touched. The revert is a request "
        "like any other and goes through the same pre-review and gate.",
        "",
        f"- fingerprint: `{fp.value}`",
        f"- the change: #{suspect}",
        "",
        "### Error",
        "",
        quote_untrusted(event.message or "(no message)", "the failure report", limit=4_000),
        "",
        table(occurrences, total),
        "",
        "### Request",
        "",
        block,
        "",
    ]
    return "\n".join(lines)


def body(
    event: FailureEvent, fp: Fingerprint, occurrences: Sequence[Occurrence], total: int
) -> str:
    files = targets(event)
    block = render_machine_block(change_type(event), description(event, fp), files,
                                 priority(event), requester="selfheal-monitor")  # fmt: skip
    lines = [
        marker(fp.value),
        f"The selfheal monitor filed this request: the failure below reached its threshold"
        f"{' at once (a crash or a security finding)' if event.immediate else ''}.",
        "",
        f"- fingerprint: `{fp.value}`",
        f"- identity: `{_flat(fp.identity)[:200]}`",
        f"- error: `{_flat(exception_type(event) or '-')[:100]}`",
        "",
        "### Error",
        "",
        quote_untrusted(event.message or "(no message)", "the failure report", limit=4_000),
    ]
    if event.stack_trace.strip():
        trace = quote_untrusted(event.stack_trace, "the failure report", limit=8_000)
        lines += ["", "### Stack trace", "", trace]
    lines += ["", "### Affected files", ""]
    lines += [f"- `{path}`" for path in files] or ["(none reported)"]
    lines += ["", table(occurrences, total), "", "### Request", "", block, ""]
    return "\n".join(lines)
