"""The JSON report: a stable, documented object (see docs/scanning.md, "JSON format").

Top-level keys, in order: ``version`` (format version, an integer; bumped only on
incompatible changes), ``tool`` {name, version}, ``findings`` (``Finding.to_dict()``, most
severe first), ``skipped`` [{path, reason}], ``errors`` [str], ``summary`` {total,
by_severity, files_scanned, skipped, errors, advisories, complete}, ``meta`` {str: str} and,
when the reviewer produced one, ``verdict`` (``Verdict.to_dict()``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from app import __version__
from app.findings import Finding, Verdict, sort_findings
from app.report.summary import counts_by_severity, meta_int

FORMAT_VERSION = 1


def report_object(
    findings: Sequence[Finding],
    *,
    verdict: Verdict | None = None,
    skipped: Sequence[tuple[str, str]] = (),
    errors: Sequence[str] = (),
    meta: Mapping[str, str] = {},
) -> dict[str, Any]:
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
    if verdict is not None:
        data["verdict"] = verdict.to_dict()
    return data


def render_json(
    findings: Sequence[Finding],
    *,
    verdict: Verdict | None = None,
    skipped: Sequence[tuple[str, str]] = (),
    errors: Sequence[str] = (),
    meta: Mapping[str, str] = {},
) -> str:
    obj = report_object(findings, verdict=verdict, skipped=skipped, errors=errors, meta=meta)
    return json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n"
