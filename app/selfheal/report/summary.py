"""Counts and one-line summaries shared by every report format (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from selfheal.model.findings import Finding, Severity, Verdict

SEVERITIES_DESC = tuple(sorted(Severity, reverse=True))


@dataclass(frozen=True)
class Report:
    """What every format renders: the findings, the reviewer's verdict when there is one,
    the files not scanned (path, reason), scanner errors and facts such as
    ``files_scanned`` and ``advisories`` (``meta``, strings)."""

    findings: Sequence[Finding]
    verdict: Verdict | None = None
    skipped: Sequence[tuple[str, str]] = ()
    errors: Sequence[str] = ()
    meta: Mapping[str, str] = field(default_factory=dict)


def counts_by_severity(findings: Sequence[Finding]) -> dict[str, int]:
    """{"critical": n, "high": n, ...} with every severity present, most severe first."""
    counts = Counter(f.severity for f in findings)
    return {s.label: counts.get(s, 0) for s in SEVERITIES_DESC}


def meta_int(meta: Mapping[str, str], key: str) -> int | None:
    value = meta.get(key)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def summary_line(report: Report) -> str:
    """E.g. ``3 findings (1 critical, 2 high); 12 files scanned, 1 skipped; 0 errors``."""
    findings, skipped, errors, meta = report.findings, report.skipped, report.errors, report.meta
    counts = counts_by_severity(findings)
    detail = ", ".join(f"{n} {label}" for label, n in counts.items() if n)
    total = len(findings)
    parts = [f"{total} finding{'s' if total != 1 else ''}" + (f" ({detail})" if detail else "")]
    scanned = meta_int(meta, "files_scanned")
    files = f"{scanned} files scanned, " if scanned is not None else ""
    parts.append(f"{files}{len(skipped)} skipped")
    if meta.get("advisories"):
        parts.append(f"advisories: {meta['advisories']}")
    parts.append(f"{len(errors)} scanner error{'s' if len(errors) != 1 else ''}")
    return "; ".join(parts)
