"""The human-readable report: a table of findings, skipped files, errors and a summary line."""

from __future__ import annotations

import re
from collections.abc import Sequence

from selfheal.model.findings import Finding, sort_findings
from selfheal.report.summary import Report, summary_line

MAX_MESSAGE = 120
MAX_SKIPPED_SHOWN = 20
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
HEADERS = ("SEVERITY", "RULE", "LOCATION", "MESSAGE")


def _one_line(text: str, limit: int) -> str:
    """One line, without terminal control characters (paths and messages are untrusted)."""
    flat = " ".join(CONTROL.sub("?", part) for part in text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _location(finding: Finding) -> str:
    path = _one_line(finding.path, 200)
    return f"{path}:{finding.line}" if finding.line > 0 else path


def _table(findings: Sequence[Finding]) -> list[str]:
    rows = [
        (f.severity.label, f.rule_id, _location(f), _one_line(f.message, MAX_MESSAGE))
        for f in sort_findings(findings)
    ]
    widths = [max(len(row[i]) for row in [HEADERS, *rows]) for i in range(3)]
    lines = []
    for row in [HEADERS, *rows]:
        cells = [row[i].ljust(widths[i]) for i in range(3)]
        lines.append("  ".join([*cells, row[3]]).rstrip())
    return lines


def render_text(report: Report) -> str:
    findings, verdict, skipped, errors = (
        report.findings,
        report.verdict,
        report.skipped,
        report.errors,
    )
    lines: list[str] = []
    if verdict is not None:
        lines.append(f"Decision: {verdict.decision.value}  Risk: {verdict.risk.value}")
        lines.extend(f"  - {_one_line(reason, 200)}" for reason in verdict.reasons)
        lines.append("")
    if findings:
        lines.extend(_table(findings))
    else:
        lines.append("No findings.")
    if skipped:
        lines.append("")
        lines.append(f"Skipped ({len(skipped)}):")
        for path, reason in list(skipped)[:MAX_SKIPPED_SHOWN]:
            lines.append(f"  {_one_line(path, 200)}: {_one_line(reason, 200)}")
        if len(skipped) > MAX_SKIPPED_SHOWN:
            lines.append(f"  ... and {len(skipped) - MAX_SKIPPED_SHOWN} more")
    if errors:
        lines.append("")
        lines.append("Scanner errors (the scan is incomplete):")
        lines.extend(f"  {_one_line(error, 300)}" for error in errors)
    lines.append("")
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"
