"""Markdown for a GitHub job summary or a check-run summary (at most 65,535 characters).

Every piece of text that comes from a scanned repository (paths, messages, rule ids, reasons)
goes through :func:`escape`: markdown punctuation is backslash-escaped and ``<``, ``>``, ``&``
and ``@`` become HTML entities, so a file name or a message can neither inject HTML nor
links, tables or mentions. When the findings table does not fit, it is cut with a note.
"""

from __future__ import annotations

import re

from selfheal.model.findings import Finding, sort_findings
from selfheal.report.summary import Report, counts_by_severity, summary_line

MAX_CHARS = 65_535
# Inline syntax that can start emphasis, code, links/images, table cells or strikethrough.
# (Block syntax such as "#" or "-" only works at the start of a line, and a cell never is.)
MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]|~])")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_CELL = 300
MAX_SKIPPED_SHOWN = 50
ICONS = {"approve": "✅", "needs_approval": "⚠️", "block": "⛔"}
TITLE = "selfheal scan"


def escape(text: str, limit: int = MAX_CELL) -> str:
    """Safe inline markdown for untrusted text: one line, no HTML, no markdown syntax."""
    flat = CONTROL.sub(" ", text).strip()
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    flat = MARKDOWN_SPECIALS.sub(r"\\\1", flat)
    return (
        flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("@", "&#64;")
    )


def _location(finding: Finding) -> str:
    path = escape(finding.path)
    return f"{path}:{finding.line}" if finding.line > 0 else path


def _row(finding: Finding) -> str:
    ids = ", ".join(finding.cwe + finding.owasp)
    cells = (
        finding.severity.label,
        escape(finding.rule_id),
        _location(finding),
        escape(finding.message),
        escape(ids),
    )
    return "| " + " | ".join(cells) + " |\n"


def _header(report: Report) -> list[str]:
    findings, verdict, errors, meta = report.findings, report.verdict, report.errors, report.meta
    title = escape(meta.get("title", TITLE), 100)
    out: list[str] = []
    if verdict is not None:
        icon = ICONS.get(verdict.decision.value, "")
        out.append(
            f"## {icon} {title}: {verdict.decision.value.replace('_', ' ')} "
            f"(risk: {verdict.risk.value})\n\n"
        )
        out.extend(f"- {escape(reason)}\n" for reason in verdict.reasons)
        if verdict.reasons:
            out.append("\n")
    else:
        status = "❌ scan incomplete" if errors else ("🔍 findings" if findings else "✅ clean")
        out.append(f"## {title}: {status}\n\n")
    counts = counts_by_severity(findings)
    out.append("| Severity | Count |\n|---|---:|\n")
    out.extend(f"| {label} | {n} |\n" for label, n in counts.items())
    out.append("\n")
    return out


def render_markdown(report: Report, *, max_chars: int = MAX_CHARS) -> str:
    findings, skipped, errors = report.findings, report.skipped, report.errors
    head = "".join(_header(report))
    tail: list[str] = []
    if errors:
        tail.append("### Scanner errors (the scan is incomplete)\n\n")
        tail.extend(f"- {escape(error)}\n" for error in errors)
        tail.append("\n")
    if skipped:
        tail.append(f"### Not scanned ({len(skipped)})\n\n")
        tail.extend(f"- {escape(p)}: {escape(r)}\n" for p, r in list(skipped)[:MAX_SKIPPED_SHOWN])
        if len(skipped) > MAX_SKIPPED_SHOWN:
            tail.append(f"- … and {len(skipped) - MAX_SKIPPED_SHOWN} more\n")
        tail.append("\n")
    tail.append(escape(summary_line(report), 1000) + "\n")
    footer = "".join(tail)
    if len(head) + len(footer) > max_chars:  # pathological: drop the details, keep the head
        footer = footer[-min(len(footer), 1000) :]
    body = ""
    if findings:
        ordered = sort_findings(findings)
        table = "### Findings\n\n| Severity | Rule | Location | Message | CWE / OWASP |\n"
        table += "|---|---|---|---|---|\n"
        note_room = 200
        budget = max_chars - len(head) - len(footer) - note_room
        rows: list[str] = []
        used = len(table)
        for finding in ordered:
            row = _row(finding)
            if used + len(row) > budget:
                break
            rows.append(row)
            used += len(row)
        body = table + "".join(rows)
        if len(rows) < len(ordered):
            body += (
                f"\n_{len(ordered) - len(rows)} more findings not shown (summary limit "
                f"{max_chars} characters); see the SARIF or JSON report._\n"
            )
        body += "\n"
    text = head + body + footer
    return text[:max_chars]
