"""OSV advisory records for PyPI: the in-memory model and its two serialised forms.

:func:`advisory_from_osv` reads a record in the OSV schema (only ``PyPI`` entries and
``ECOSYSTEM``/``SEMVER`` ranges are kept; explicit ``versions`` are kept only where the
ranges do not already cover them); :meth:`Advisory.to_compact` and
:func:`advisory_from_compact` convert to and from the compact form bundled with selfheal.
Pure: no I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from selfheal.model.findings import Severity
from selfheal.scanner.versions import build_affected_set, cvss3_base_score

SUMMARY_MAX = 240
RANGE_TYPES = frozenset({"ECOSYSTEM", "SEMVER"})
EVENT_KINDS = ("introduced", "fixed", "last_affected")
DB_SEVERITY = {
    "CRITICAL": Severity.CRITICAL,
    "HIGH": Severity.HIGH,
    "MODERATE": Severity.MEDIUM,
    "MEDIUM": Severity.MEDIUM,
    "LOW": Severity.LOW,
}


class AdvisoryDataError(Exception):
    """Advisory input that cannot be read or is not OSV data."""


def normalize_name(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


@dataclass(frozen=True, slots=True)
class Affected:
    package: str  # PEP 503 normalised
    ranges: tuple[tuple[tuple[str, str], ...], ...]  # per range: (event kind, version)
    versions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    aliases: tuple[str, ...]
    summary: str
    affected: tuple[Affected, ...]
    severity: tuple[tuple[str, str], ...] = ()  # (type, score) e.g. ("CVSS_V3", "CVSS:3.1/...")
    db_severity: str = ""  # database_specific.severity (GHSA style), if any
    withdrawn: str = ""
    published: str = ""
    modified: str = ""

    @property
    def level(self) -> Severity:
        """Severity from CVSS v3, else the database's own label, else HIGH."""
        scores = [s for t, v in self.severity if (s := cvss3_base_score(v)) is not None]
        if scores:
            top = max(scores)
            if top >= 9.0:
                return Severity.CRITICAL
            if top >= 7.0:
                return Severity.HIGH
            return Severity.MEDIUM if top >= 4.0 else Severity.LOW
        return DB_SEVERITY.get(self.db_severity.upper(), Severity.HIGH)

    def to_compact(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "aliases": list(self.aliases)}
        out["summary"] = self.summary
        out["affected"] = [
            {"package": a.package, "ranges": [[list(e) for e in r] for r in a.ranges]}
            | ({"versions": list(a.versions)} if a.versions else {})
            for a in self.affected
        ]
        if self.severity:
            out["severity"] = [list(s) for s in self.severity]
        for key in ("db_severity", "withdrawn", "published", "modified"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


def _summary(record: Mapping[str, Any]) -> str:
    text = " ".join(str(record.get("summary") or record.get("details") or "").split())
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1].rstrip() + "…"


def _affected_from_osv(entry: Mapping[str, Any]) -> Affected | None:
    pkg = entry.get("package") or {}
    if not isinstance(pkg, Mapping) or pkg.get("ecosystem") != "PyPI" or not pkg.get("name"):
        return None
    ranges: list[tuple[tuple[str, str], ...]] = []
    for rng in entry.get("ranges") or ():
        if not isinstance(rng, Mapping) or rng.get("type") not in RANGE_TYPES:
            continue
        events = tuple(
            (kind, str(ev[kind]))
            for ev in rng.get("events") or ()
            for kind in EVENT_KINDS
            if isinstance(ev, Mapping) and kind in ev
        )
        if events:
            ranges.append(events)
    covered = build_affected_set(ranges, ())
    versions = tuple(
        str(v) for v in entry.get("versions") or () if not covered.contains_text(str(v))
    )
    return Affected(normalize_name(str(pkg["name"])), tuple(ranges), versions)


def advisory_from_osv(record: Any, where: str) -> Advisory | None:
    """One OSV record -> an :class:`Advisory` (None when it has no PyPI package)."""
    if not isinstance(record, Mapping) or not isinstance(record.get("id"), str):
        raise AdvisoryDataError(f"{where}: not an OSV record (no string 'id')")
    if not isinstance(record.get("affected", []), list):
        raise AdvisoryDataError(f"{where}: {record['id']}: 'affected' must be a list")
    affected = tuple(a for e in record.get("affected", []) if (a := _affected_from_osv(e)))
    if not affected:
        return None
    severity = tuple(
        (str(s.get("type", "")), str(s.get("score", "")))
        for s in record.get("severity") or ()
        if isinstance(s, Mapping)
    )
    dbs = record.get("database_specific")
    return Advisory(
        id=record["id"],
        aliases=tuple(str(a) for a in record.get("aliases") or ()),
        summary=_summary(record),
        affected=affected,
        severity=severity,
        db_severity=str(dbs.get("severity") or "") if isinstance(dbs, Mapping) else "",
        withdrawn=str(record.get("withdrawn") or ""),
        published=str(record.get("published") or ""),
        modified=str(record.get("modified") or ""),
    )


def advisory_from_compact(rec: Mapping[str, Any]) -> Advisory:
    return Advisory(
        id=rec["id"],
        aliases=tuple(rec.get("aliases", ())),
        summary=rec.get("summary", ""),
        affected=tuple(
            Affected(
                a["package"],
                tuple(tuple((k, v) for k, v in r) for r in a.get("ranges", ())),
                tuple(a.get("versions", ())),
            )
            for a in rec["affected"]
        ),
        severity=tuple((t, s) for t, s in rec.get("severity", ())),
        db_severity=rec.get("db_severity", ""),
        withdrawn=rec.get("withdrawn", ""),
        published=rec.get("published", ""),
        modified=rec.get("modified", ""),
    )
