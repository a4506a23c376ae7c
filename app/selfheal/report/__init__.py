"""Render findings and verdicts as text, JSON, SARIF, markdown and workflow annotations.

``render(fmt, findings, verdict=..., skipped=..., errors=..., meta=...)`` is the one entry
point; ``meta`` carries facts such as ``files_scanned`` and ``advisories`` (the advisory data
description) as strings. ``check_run_annotations`` builds the check-run API objects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from selfheal.model.findings import Finding, Verdict
from selfheal.report.annotations import batches, check_run_annotations, render_annotations
from selfheal.report.jsonfmt import render_json
from selfheal.report.markdown import render_markdown
from selfheal.report.sarif import render_sarif
from selfheal.report.summary import Report
from selfheal.report.text import render_text

RENDERERS: dict[str, Callable[[Report], str]] = {
    "text": render_text,
    "json": render_json,
    "sarif": render_sarif,
    "markdown": render_markdown,
    "annotations": render_annotations,
}
FORMATS = tuple(RENDERERS)

__all__ = ["FORMATS", "Report", "batches", "check_run_annotations", "render"]


def render(
    fmt: str,
    findings: Sequence[Finding],
    *,
    verdict: Verdict | None = None,
    skipped: Sequence[tuple[str, str]] = (),
    errors: Sequence[str] = (),
    meta: Mapping[str, str] = {},
) -> str:
    """The report in ``fmt`` (one of :data:`FORMATS`); ValueError for an unknown format."""
    try:
        renderer = RENDERERS[fmt]
    except KeyError:
        raise ValueError(
            f"unknown format {fmt!r} (expected one of: {', '.join(FORMATS)})"
        ) from None
    return renderer(Report(findings, verdict, skipped, errors, meta))
