"""GitHub annotations: workflow commands for Actions logs, and check-run annotation objects.

Workflow commands follow GitHub's "Workflow commands for GitHub Actions": in the message,
``%``, CR and LF are percent-encoded; in a property value ``:`` and ``,`` are encoded too.
Because line breaks are encoded, untrusted text can never start a command of its own.
Check-run annotations respect the API's limits (title 255 characters, message and raw_details
64 KB); the gate sends them 50 per request.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from selfheal.model.findings import Finding, Severity, sort_findings
from selfheal.report.summary import Report

COMMANDS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "notice",
    Severity.INFO: "notice",
}
CHECK_LEVELS = {
    Severity.CRITICAL: "failure",
    Severity.HIGH: "failure",
    Severity.MEDIUM: "warning",
    Severity.LOW: "notice",
    Severity.INFO: "notice",
}
MAX_TITLE = 255
MAX_BLOB_BYTES = 64 * 1024
BATCH_SIZE = 50


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _title(finding: Finding) -> str:
    ids = ", ".join(finding.cwe)
    title = f"{finding.rule_id} ({finding.severity.label}{', ' + ids if ids else ''})"
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1] + "…"


def _limit_bytes(text: str, limit: int = MAX_BLOB_BYTES) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 4].decode("utf-8", errors="ignore") + " …"


def workflow_command(finding: Finding) -> str:
    """``::error file=...,line=...,endLine=...,title=...::message`` for one finding."""
    start = max(finding.line, 1)
    props = [f"file={escape_property(finding.path)}", f"line={start}"]
    end = max(finding.end_line, start)
    if end > start:
        props.append(f"endLine={end}")
    if finding.line > 0 and finding.column > 0 and end == start:
        props.append(f"col={finding.column}")
        if finding.end_column > finding.column:
            props.append(f"endColumn={finding.end_column}")
    props.append(f"title={escape_property(_title(finding))}")
    return f"::{COMMANDS[finding.severity]} {','.join(props)}::{escape_data(finding.message)}"


def render_annotations(report: Report) -> str:
    """One workflow command per finding (skipped files, errors and meta are not shown)."""
    return "".join(workflow_command(f) + "\n" for f in sort_findings(report.findings))


def check_run_annotations(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """Annotation objects for ``POST/PATCH /repos/{owner}/{repo}/check-runs``."""
    out: list[dict[str, Any]] = []
    for finding in sort_findings(findings):
        start = max(finding.line, 1)
        end = max(finding.end_line, start)
        details = {
            "rule_id": finding.rule_id,
            "severity": finding.severity.label,
            "category": finding.category.value,
            "cwe": list(finding.cwe),
            "owasp": list(finding.owasp),
            "snippet": finding.snippet,
            "fingerprint": finding.fingerprint,
        }
        annotation: dict[str, Any] = {
            "path": finding.path,
            "start_line": start,
            "end_line": end,
            "annotation_level": CHECK_LEVELS[finding.severity],
            "title": _title(finding),
            "message": _limit_bytes(finding.message or finding.rule_id),
            "raw_details": _limit_bytes(json.dumps(details, ensure_ascii=False, default=str)),
        }
        if finding.line > 0 and finding.column > 0 and end == start:
            annotation["start_column"] = finding.column
            annotation["end_column"] = max(finding.end_column, finding.column)
        out.append(annotation)
    return out


def batches(
    annotations: Sequence[dict[str, Any]], size: int = BATCH_SIZE
) -> list[list[dict[str, Any]]]:
    """Split annotations into the API's groups of at most 50 per request."""
    return [list(annotations[i : i + size]) for i in range(0, len(annotations), size)]
