"""The monitor's section of the dashboard issue (pure): a repository's counts and its top
failing fingerprints in the window.

A failure's error type and message come from whoever reported it (an agent, a CI log, a
probe), so each goes into the body only through :func:`selfheal.model.markdown.inline_code`,
the escaper the rest of the dashboard uses: one bounded line of inline code, in which no
markdown, HTML, @mention, checkbox or hidden marker can appear. The fix-request issue is
shown as ``#N`` only; GitHub shows its title.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from selfheal.model.markdown import inline_code

TOP = 5  # fingerprints shown
SHORT_ID = 16  # "v1:" and 13 hex digits, as the web dashboard shows them
KIND_CHARS = 60
MESSAGE_CHARS = 100


@dataclass(frozen=True)
class TopFailure:
    fingerprint: str
    kind: str  # the exception type, or the source when there is none
    message: str
    occurrences: int  # in the window
    last_seen: float
    issue: int | None = None  # the fix-request issue, once one was filed


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _days(window_days: float) -> str:
    return "day" if window_days == 1 else f"{window_days:g} days"


def _line(rank: int, f: TopFailure) -> str:
    message = inline_code(f.message, MESSAGE_CHARS) if f.message.strip() else "(no message)"
    issue = f"fix request #{f.issue}" if f.issue else "no fix request yet"
    return (
        f"{rank}. {inline_code(f.fingerprint[:SHORT_ID])} {inline_code(f.kind or '-', KIND_CHARS)}"
        f" × {f.occurrences}: {message} · last seen {_when(f.last_seen)} · {issue}"
    )


def section(
    summary: Mapping[str, int], top: Sequence[TopFailure], window_days: float
) -> str | None:
    """The section's markdown; None when the monitor has seen nothing in the repository."""
    if not summary.get("errors"):
        return None
    lines = [
        "| distinct failures | occurrences | fix requests open | fix attempts |",
        "|---:|---:|---:|---:|",
        f"| {summary['errors']} | {summary['occurrences']} | {summary['open_issues']} "
        f"| {summary['attempts']} |",
        "",
    ]
    if not top:
        return "\n".join([*lines, f"No failures in the last {_days(window_days)}."])
    lines.append(f"Top failing fingerprints in the last {_days(window_days)}:")
    lines += [_line(rank, f) for rank, f in enumerate(top[:TOP], start=1)]
    return "\n".join(lines)
