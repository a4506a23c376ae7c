"""Version arithmetic for advisory matching: OSV affected ranges and PEP 440 / Poetry bounds.

Pure functions over :mod:`packaging`. An OSV ``affected`` entry becomes an
:class:`AffectedSet` (intervals plus explicit versions); a declared requirement becomes a
:class:`Bounds` (lowest and highest admitted versions). ``app.scan.deps`` combines the two
with the matching rule documented in ``docs/dependencies.md``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

CVSS3_WEIGHTS: dict[str, dict[str, float]] = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
CVSS3_PR = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}
POETRY_OP = re.compile(r"^\s*([\^~])(?!=)\s*([0-9][^\s,]*)\s*$")


def parse_version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


@dataclass(frozen=True, slots=True)
class Interval:
    """``[low, high)`` (``high_inclusive`` for OSV ``last_affected``); ``None`` = unbounded."""

    low: Version | None
    high: Version | None
    high_inclusive: bool = False

    def contains(self, v: Version) -> bool:
        if self.low is not None and v < self.low:
            return False
        if self.high is None:
            return True
        return v <= self.high if self.high_inclusive else v < self.high

    def contains_just_above(self, v: Version) -> bool:
        """True when the versions immediately above ``v`` lie in the interval."""
        if self.low is not None and v < self.low:
            return False
        return self.high is None or v < self.high

    def contains_just_below(self, v: Version) -> bool:
        """True when the versions immediately below ``v`` lie in the interval."""
        if self.low is not None and v <= self.low:
            return False
        return self.high is None or v <= self.high


@dataclass(frozen=True, slots=True)
class AffectedSet:
    """The versions one advisory affects for one package."""

    intervals: tuple[Interval, ...]
    versions: frozenset[Version]
    raw_versions: frozenset[str]  # explicit versions that are not PEP 440 (compared as text)
    fixed: tuple[str, ...]
    fixed_parsed: tuple[Version | None, ...] = ()

    def first_fixed_after(self, version: Version | None) -> str | None:
        """The lowest fixed version above ``version`` (any fixed one when unknown)."""
        for text, parsed in zip(self.fixed, self.fixed_parsed, strict=True):
            if version is None or (parsed is not None and parsed > version):
                return text
        return None

    def contains(self, v: Version) -> bool:
        return v in self.versions or any(i.contains(v) for i in self.intervals)

    def contains_text(self, text: str) -> bool:
        v = parse_version(text)
        return self.contains(v) if v is not None else text in self.raw_versions

    def contains_just_above(self, v: Version) -> bool:
        return any(i.contains_just_above(v) for i in self.intervals)

    def contains_just_below(self, v: Version) -> bool:
        return any(i.contains_just_below(v) for i in self.intervals)


def intervals_from_events(events: Sequence[tuple[str, str]]) -> tuple[list[Interval], list[str]]:
    """Turn one OSV ECOSYSTEM range's events into intervals; also return its fixed versions.

    Events are sorted by version (``introduced: 0`` first), as the OSV schema prescribes.
    A range with an unparseable version is dropped (the explicit ``versions`` list still
    applies).
    """
    parsed: list[tuple[Version | None, int, str, str]] = []
    for order, (kind, text) in enumerate(events):
        if kind == "introduced" and text == "0":
            parsed.append((None, order, kind, text))
            continue
        v = parse_version(text)
        if v is None:
            return [], []
        parsed.append((v, order, kind, text))
    parsed.sort(key=lambda e: (e[0] is not None, e[0] or Version("0"), e[1]))
    intervals: list[Interval] = []
    fixed: list[str] = []
    start: Version | None = None
    open_ = False
    for v, _, kind, text in parsed:
        if kind == "introduced" and not open_:
            start, open_ = v, True
        elif kind in ("fixed", "last_affected") and open_:
            intervals.append(Interval(start, v, high_inclusive=kind == "last_affected"))
            open_ = False
        if kind == "fixed":
            fixed.append(text)
    if open_:
        intervals.append(Interval(start, None))
    return intervals, fixed


def build_affected_set(
    ranges: Iterable[Sequence[tuple[str, str]]], versions: Iterable[str]
) -> AffectedSet:
    intervals: list[Interval] = []
    fixed: list[str] = []
    for events in ranges:
        got, fixes = intervals_from_events(events)
        intervals.extend(got)
        fixed.extend(f for f in fixes if f not in fixed)
    parsed: set[Version] = set()
    raw: set[str] = set()
    for text in versions:
        v = parse_version(text)
        if v is None:
            raw.add(text)
        else:
            parsed.add(v)
    fixed.sort(key=lambda t: parse_version(t) or Version("0"))
    return AffectedSet(
        tuple(intervals),
        frozenset(parsed),
        frozenset(raw),
        tuple(fixed),
        tuple(parse_version(t) for t in fixed),
    )


@dataclass(frozen=True, slots=True)
class Bounds:
    """What a declared requirement admits: an exact pin, or a lower and an upper bound."""

    pin: str | None = None  # the exact version text for == / === / lock files
    lower: Version | None = None
    lower_inclusive: bool = True
    upper: Version | None = None
    upper_inclusive: bool = False
    specifier: SpecifierSet | None = None


def _bump(v: Version, keep: int) -> Version:
    """The next release after the first ``keep`` components: ``_bump(1.4.2, 2) == 1.5``."""
    parts = list(v.release[:keep]) or [0]
    parts[-1] += 1
    return Version(".".join(str(p) for p in parts))


def _tighten_lower(cur: Bounds, v: Version, inclusive: bool) -> tuple[Version, bool]:
    if cur.lower is None or v > cur.lower or (v == cur.lower and not inclusive):
        return v, inclusive
    return cur.lower, cur.lower_inclusive


def _tighten_upper(cur: Bounds, v: Version, inclusive: bool) -> tuple[Version, bool]:
    if cur.upper is None or v < cur.upper or (v == cur.upper and not inclusive):
        return v, inclusive
    return cur.upper, cur.upper_inclusive


def bounds_from_specifier(spec: SpecifierSet) -> Bounds:
    """Lowest and highest admitted versions of a PEP 440 specifier set."""
    b = Bounds(specifier=spec)
    for s in spec:
        op, text = s.operator, s.version
        if op in ("==", "===") and "*" not in text:
            return Bounds(pin=text, specifier=spec)
        base = parse_version(text.rstrip(".*").rstrip("."))
        if base is None:
            continue
        lo = hi = None
        if op == "==":  # prefix match, e.g. ==1.2.*
            n = len(text.rstrip(".*").split("."))
            lo, hi = (base, True), (_bump(base, n), False)
        elif op == "~=":
            lo, hi = (base, True), (_bump(base, max(len(base.release) - 1, 1)), False)
        elif op in (">=", ">"):
            lo = (base, op == ">=")
        elif op in ("<=", "<"):
            hi = (base, op == "<=")
        if lo is not None:
            low, low_inc = _tighten_lower(b, *lo)
            b = Bounds(None, low, low_inc, b.upper, b.upper_inclusive, spec)
        if hi is not None:
            up, up_inc = _tighten_upper(b, *hi)
            b = Bounds(None, b.lower, b.lower_inclusive, up, up_inc, spec)
    return b


def poetry_to_pep440(constraint: str) -> list[str]:
    """Translate one Poetry constraint into PEP 440 specifier strings, one per ``||`` branch.

    ``^1.2.3`` -> ``>=1.2.3,<2.0.0``; ``^0.2`` -> ``>=0.2,<0.3``; ``~1.2.3`` -> ``>=1.2.3,<1.3``;
    a bare ``1.2.3`` -> ``==1.2.3``; ``*`` -> no constraint.
    """
    branches: list[str] = []
    for branch in re.split(r"\|\|?", constraint):
        parts: list[str] = []
        for piece in re.split(r",|\s+(?=[<>=!~^])", branch.strip()):
            piece = piece.strip()
            if not piece or piece == "*":
                continue
            m = POETRY_OP.match(piece)
            if m:
                v = Version(m.group(2).rstrip(".*"))
                rel = list(v.release)
                if m.group(1) == "^":
                    nz = next((i for i, p in enumerate(rel) if p != 0), len(rel) - 1)
                    upper = _bump(v, nz + 1)
                else:
                    upper = _bump(v, 2 if len(rel) >= 2 else 1)
                parts += [f">={m.group(2)}", f"<{upper}"]
            elif piece[0].isdigit():
                parts.append(f"=={piece}")
            else:
                parts.append(piece.replace(" ", ""))
        branches.append(",".join(parts))
    return branches


def parse_specifier(text: str) -> SpecifierSet | None:
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        return None


def cvss3_base_score(vector: str) -> float | None:
    """The CVSS 3.x base score of a vector string, or None when it is not a v3 vector."""
    if not vector.startswith("CVSS:3."):
        return None
    metrics = dict(p.split(":", 1) for p in vector.split("/")[1:] if ":" in p)
    try:
        scope_changed = metrics["S"] == "C"
        iss = 1 - (
            (1 - CVSS3_WEIGHTS["C"][metrics["C"]])
            * (1 - CVSS3_WEIGHTS["I"][metrics["I"]])
            * (1 - CVSS3_WEIGHTS["A"][metrics["A"]])
        )
        exploit = (
            8.22
            * CVSS3_WEIGHTS["AV"][metrics["AV"]]
            * CVSS3_WEIGHTS["AC"][metrics["AC"]]
            * CVSS3_PR[metrics["S"]][metrics["PR"]]
            * CVSS3_WEIGHTS["UI"][metrics["UI"]]
        )
    except KeyError:
        return None
    if scope_changed:
        impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15
    else:
        impact = 6.42 * iss
    if impact <= 0:
        return 0.0
    raw = impact + exploit
    total = min(1.08 * raw, 10.0) if scope_changed else min(raw, 10.0)
    return math.ceil(total * 10 - 1e-9) / 10
