"""The JSON report: a stable, documented object (see docs/scanning.md, "JSON format").

Top-level keys, in order: ``version`` (format version, an integer; bumped only on
incompatible changes), ``tool`` {name, version}, ``findings`` (``Finding.to_dict()``, most
severe first), ``skipped`` [{path, reason}], ``errors`` [str], ``summary`` {total,
by_severity, files_scanned, skipped, errors, advisories, complete}, ``meta`` {str: str} and,
when the reviewer produced one, ``verdict`` (``Verdict.to_dict()``).
"""

from __future__ import annotations

import json
from typing import Any

from selfheal import __version__
from selfheal.model.findings import sort_findings
from selfheal.report.summary import Report, counts_by_severity, meta_int

FORMAT_VERSION = 1


def report_object(report: Report) -> dict[str, Any]:
    findings, skipped, errors, meta = report.findings, report.skipped, report.errors, report.meta
    data: dict[str, Any] = {
        "version": FORMAT_VERSION,
        "tool": {"name": "selfheal", "version": __version__},
        "findings": [f.to_dict() for f in sort_findings(findings)],
        "skipped": [{"path": path, "reason": reason} for path, reason in skipped],
        "errors": list(errors),
        "summary": {
            "total": len(findings),
            "by_severity": counts_by_severity(findings),
            "files_scanned": meta_int(meta, "files_scanned"),
            "skipped": len(skipped),
            "errors": len(errors),
            "advisories": meta.get("advisories", ""),
            "complete": not errors,
        },
        "meta": dict(meta),
    }
    if report.verdict is not None:
        data["verdict"] = report.verdict.to_dict()
    return data


def render_json(report: Report) -> str:
    obj = report_object(report)
    return json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n"
