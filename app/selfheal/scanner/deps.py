"""Known-vulnerable dependencies: parse dependency files and match them against advisories.

Matching rule (documented in ``docs/dependencies.md``):

* an exact pin (``==``, ``===``, any lock file) is reported when the version lies in an
  advisory's affected ranges or its explicit ``versions`` list;
* a range is reported ("range admits vulnerable versions") when its lowest admitted
  version is affected, or when it has an upper bound and the newest versions it admits
  are affected; a range with neither bound (a bare name, ``!=`` only) is not evaluated;
* URL, VCS, editable and local-path requirements cannot be matched: they are listed in
  :attr:`DependencyScan.unknown`; those that fetch code from a URL or VCS also give an
  ``info`` finding (rule ``dependency-unverified``), local paths (the project's own code)
  give none;
* withdrawn advisories never match.

Files that cannot be parsed, and includes that cannot be followed, become error entries
(``DependencyScan.errors``; ``scan_dependencies`` returns them as ``scanner-error``
findings so a gate fails closed) while the rest of the scan continues.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from packaging.version import Version

from selfheal.model.findings import Category, Finding, Severity, Source
from selfheal.scanner.advisories import Advisory, AdvisoryDB
from selfheal.scanner.depfiles import Dependency, DepFileError, Include, is_dependency_file
from selfheal.scanner.manifests import parse_dependency_file
from selfheal.scanner.secrets import mask_secrets
from selfheal.scanner.versions import (
    AffectedSet,
    Bounds,
    bounds_from_specifier,
    parse_specifier,
    parse_version,
)

__all__ = ["DependencyScan", "analyse_dependencies", "is_dependency_file", "scan_dependencies"]

RULE_ID = "dependency-vulnerable"
ERROR_RULE_ID = "dependency-file-error"
UNVERIFIED_RULE_ID = "dependency-unverified"
CWE = ("CWE-1395",)
OWASP = ("A06:2021",)
MAX_INCLUDE_DEPTH = 16

Reader = Callable[[str], str | None]


@dataclass
class DependencyScan:
    findings: list[Finding] = field(default_factory=list)
    errors: list[DepFileError] = field(default_factory=list)
    dependencies: list[Dependency] = field(default_factory=list)

    @property
    def unknown(self) -> list[Dependency]:
        """Dependencies whose version cannot be known (URL, VCS, editable, local path)."""
        return [d for d in self.dependencies if d.unknown]


def _range_reason(b: Bounds, aset: AffectedSet) -> str:
    """Why a ranged requirement admits vulnerable versions, or "" when it does not."""
    if b.lower is not None and b.upper is not None and b.lower > b.upper:
        return ""
    if b.lower is not None:
        admitted = True
        if b.lower_inclusive:
            admitted = b.specifier is None or b.specifier.contains(b.lower, prereleases=True)
            if admitted and aset.contains(b.lower):
                return f"its lowest admitted version {b.lower} is affected"
        if (not b.lower_inclusive or not admitted) and aset.contains_just_above(b.lower):
            return f"the versions just above {b.lower} are affected"
    if b.upper is not None:
        if b.upper_inclusive and aset.contains(b.upper):
            return f"its highest admitted version {b.upper} is affected"
        if not b.upper_inclusive and aset.contains_just_below(b.upper):
            return f"the newest versions it admits (below {b.upper}) are affected"
    return ""


@dataclass(frozen=True, slots=True)
class _Query:
    """A dependency prepared for matching: an exact version, or the bounds of its ranges."""

    pinned_text: str | None
    pinned: Version | None
    ranges: tuple[tuple[str, Bounds], ...]  # (the alternative as written, its bounds)


@dataclass(frozen=True, slots=True)
class _Hit:
    reason: str  # "" for an exact version
    version: Version | None  # the version the first fixed version is counted from
    declared: str  # the pinned version, or the range that admits vulnerable versions


def _query(dep: Dependency) -> _Query:
    if dep.pinned is not None:
        return _Query(dep.pinned, parse_version(dep.pinned), ())
    ranges: list[tuple[str, Bounds]] = []
    for alternative in dep.alternatives:
        spec = parse_specifier(alternative)
        if spec is None:
            continue
        bounds = bounds_from_specifier(spec)
        if bounds.pin is not None:
            version = parse_version(bounds.pin)
            if len(dep.alternatives) == 1 or version is None:
                return _Query(bounds.pin, version, ())
            bounds = Bounds(None, version, True, version, True, spec)  # one of several
        ranges.append((alternative, bounds))
    return _Query(None, None, tuple(ranges))


def _match(query: _Query, aset: AffectedSet) -> _Hit | None:
    if query.pinned_text is not None:
        if query.pinned is not None:
            hit = aset.contains(query.pinned)
        else:
            hit = aset.contains_text(query.pinned_text)
        return _Hit("", query.pinned, query.pinned_text) if hit else None
    for alternative, bounds in query.ranges:
        reason = _range_reason(bounds, aset)
        if reason:
            return _Hit(reason, bounds.lower, alternative)
    return None


def _finding(
    dep: Dependency, adv: Advisory, aset: AffectedSet, hit: _Hit, db: AdvisoryDB, snippet: str
) -> Finding:
    fixed = aset.first_fixed_after(hit.version) or "no fixed version"
    aliases = ", ".join(adv.aliases) or "no aliases"
    fix_text = f"fixed in {fixed}" if fixed != "no fixed version" else fixed
    if hit.reason:
        what = f"{dep.name} {hit.declared} admits vulnerable versions ({hit.reason})"
    else:
        what = f"{dep.name} {hit.declared} is vulnerable"
    message = f"{what}: {adv.id} ({aliases}); {fix_text}. {adv.summary}".strip()
    material = "\x1f".join((RULE_ID, dep.path, dep.name, hit.declared, adv.id))
    return Finding(
        rule_id=RULE_ID,
        category=Category.DEPENDENCY,
        severity=adv.level,
        path=dep.path,
        line=dep.line,
        message=message,
        source=Source.DEPENDENCIES,
        snippet=snippet,
        cwe=CWE,
        owasp=OWASP,
        properties={
            "advisory": adv.id,
            "aliases": list(adv.aliases),
            "package": dep.name,
            "version": hit.declared,
            "fixed": list(aset.fixed),
            "first_fixed": fixed,
            "match": "range" if hit.reason else "pinned",
            "marker": dep.marker,
            "advisory_data": db.description,
        },
        fingerprint=hashlib.sha256(material.encode()).hexdigest()[:32],
    )


def _unverified(dep: Dependency) -> Finding:
    """An informational finding: code from a URL or VCS whose version we cannot check."""
    return Finding(
        rule_id=UNVERIFIED_RULE_ID,
        category=Category.DEPENDENCY,
        severity=Severity.INFO,
        path=dep.path,
        line=dep.line,
        message=f"{dep.name}: cannot be checked against advisories ({dep.unknown}); "
        "depend on a released version to have it checked",
        source=Source.DEPENDENCIES,
        snippet=dep.declared,  # already masked by the parser
        cwe=CWE,
        owasp=OWASP,
        properties={"package": dep.name, "reason": dep.unknown},
    )


def _resolve(including: str, target: str) -> str | None:
    """Repo-relative path of an include, or None when it leaves the repository."""
    if "://" in target or target.startswith("/") or ":" in target[:3]:
        return None
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(including), target))
    return None if joined == ".." or joined.startswith("../") else joined


class _Walker:
    def __init__(
        self, read: Reader, db: AdvisoryDB, changed: Mapping[str, Collection[int]] | None
    ) -> None:
        self.read, self.db, self.changed = read, db, changed
        self.result = DependencyScan()
        self.seen: set[tuple[str, str, int, str]] = set()
        self.parsed: set[tuple[str, bool]] = set()
        self.unverified: set[tuple[str, int]] = set()

    def visit(self, path: str, chain: tuple[str, ...], everything: bool) -> None:
        if (path, everything) in self.parsed:
            return
        self.parsed.add((path, everything))
        text = self.read(path)
        if text is None:
            return
        line_errors: list[DepFileError] = []
        try:
            deps, includes = parse_dependency_file(path, text, line_errors)
        except DepFileError as exc:
            self.result.errors.append(exc)  # the whole file is unreadable: always reported
            return
        except (TypeError, AttributeError, ValueError, KeyError) as exc:  # hostile structure
            why = f"unexpected structure ({exc.__class__.__name__}: {exc})"
            self.result.errors.append(DepFileError(path, 0, why))
            return
        lines = None if everything or self.changed is None else self.changed.get(path, ())
        self.result.errors += [e for e in line_errors if lines is None or e.line in lines]
        for dep in deps:
            if lines is not None and not dep.touches(lines):
                continue
            self.result.dependencies.append(dep)
            self.check(dep)
        for inc in includes:
            self.follow(path, inc, chain, everything or (lines is not None and inc.line in lines))

    def follow(self, path: str, inc: Include, chain: tuple[str, ...], everything: bool) -> None:
        target = _resolve(path, inc.target)
        if target is None:
            msg = f"{inc.kind} include {inc.target!r} is outside the repository; not followed"
            self.result.errors.append(DepFileError(path, inc.line, msg))
        elif target in chain:
            return  # an include cycle: the file is already being read
        elif len(chain) >= MAX_INCLUDE_DEPTH:
            self.result.errors.append(DepFileError(path, inc.line, "includes nested too deeply"))
        elif self.read(target) is None:
            msg = f"included file {inc.target!r} not found"
            self.result.errors.append(DepFileError(path, inc.line, msg))
        else:
            self.visit(target, (*chain, target), everything)

    def check(self, dep: Dependency) -> None:
        if dep.unknown:
            if dep.remote and (dep.path, dep.line) not in self.unverified:
                self.unverified.add((dep.path, dep.line))
                self.result.findings.append(_unverified(dep))
            return
        candidates = self.db.affected_sets(dep.name)
        if not candidates:
            return
        query = _query(dep)
        snippet = ""
        for adv, aset in candidates:
            key = (dep.path, dep.name, dep.line, adv.id)
            if key in self.seen:
                continue
            hit = _match(query, aset)
            if hit is not None:
                self.seen.add(key)
                snippet = snippet or mask_secrets(dep.declared)
                self.result.findings.append(_finding(dep, adv, aset, hit, self.db, snippet))


def analyse_dependencies(
    paths: Sequence[str],
    read: Reader,
    db: AdvisoryDB,
    *,
    changed_lines: Mapping[str, Collection[int]] | None = None,
) -> DependencyScan:
    """Parse every dependency file in ``paths`` (following includes) and match it."""
    walker = _Walker(read, db, changed_lines)
    for path in paths:
        if not is_dependency_file(path):
            continue
        if changed_lines is not None and path not in changed_lines:
            continue
        walker.visit(path, (path,), False)
    return walker.result


def error_finding(error: DepFileError) -> Finding:
    return Finding(
        rule_id=ERROR_RULE_ID,
        category=Category.SCANNER_ERROR,
        severity=Severity.HIGH,
        path=error.path,
        line=error.line,
        message=f"dependency file could not be checked: {error.message}",
        source=Source.DEPENDENCIES,
    )


def scan_dependencies(
    paths: Sequence[str],
    read: Reader,
    db: AdvisoryDB,
    *,
    changed_lines: Mapping[str, Collection[int]] | None = None,
) -> list[Finding]:
    """Findings for vulnerable dependencies, plus one ``scanner-error`` finding per file
    or include that could not be checked (category ``Category.SCANNER_ERROR``)."""
    result = analyse_dependencies(paths, read, db, changed_lines=changed_lines)
    return result.findings + [error_finding(e) for e in result.errors]
