"""The core of the scan engine: run the three scanners over prepared files and merge.

Semgrep runs in a worker thread (it is a subprocess) while the secret detector and the
dependency advisories run in this thread, so the Python scanners overlap semgrep's time.
Findings are kept only on changed lines when a file has a line restriction; other scanners'
snippets and messages go through the secret masker; the baseline is applied; the result is
deduplicated and sorted. Any scanner failure becomes an entry in ``ScanReport.errors``.
Entry points are in :mod:`app.scan.engine`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from selfheal.model.findings import Finding, Source, sort_findings
from selfheal.scanner import ScannerError
from selfheal.scanner.files import REASON_BINARY, FileText
from selfheal.scanner.options import ALL_SCANNERS as ALL_SCANNERS
from selfheal.scanner.options import ScanOptions as ScanOptions
from selfheal.scanner.progress import Progress

if TYPE_CHECKING:
    from selfheal.scanner.secret_engine import EngineHit

CVE_SOURCES = ("osv", "safety")
# How much decoded text the pipeline keeps between its first read and the secret scan.
TEXT_CACHE_CHARS = 128 * 1024 * 1024
Reader = Callable[[str], str | None]
# Rules whose metadata says ``selfheal-scope: hardening`` (debug mode, cookie flags, bind-all,
# request timeouts, weak hashes) do not report in test code by default.
HARDENING = "hardening"
TEST_DIRS = frozenset({"tests", "test"})
EngineHits = dict[str, list["EngineHit"]]


@dataclass(frozen=True)
class ScanTarget:
    """One file's content; ``changed_lines`` (1-based) limits findings to those lines."""

    path: str
    content: bytes
    changed_lines: frozenset[int] | None = None


@dataclass
class ScanReport:
    findings: list[Finding]
    skipped: list[tuple[str, str]]
    errors: list[str]
    files_scanned: int
    advisories: str
    # Non-fatal scanner messages (e.g. a file semgrep could not parse); not a failed scan.
    warnings: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """False when a scanner failed: a gate must not pass on an incomplete scan."""
        return not self.errors


@dataclass
class Work:
    """What the core needs: a root on disk, the files, their line limits, a text reader."""

    root: Path
    paths: list[str]
    changed: dict[str, frozenset[int]]
    text_of: Callable[[str], FileText | str]
    read: Reader
    report: ScanReport


# --- helpers ---------------------------------------------------------------------------


def _run_semgrep(work: Work, options: ScanOptions) -> tuple[list[Finding], list[str]]:
    from selfheal.scanner.semgrep import SCANNED_SUFFIXES, run_semgrep

    # Only files a rule's language can apply to (extension, or none: maybe a script with a
    # shebang); fewer targets mean fewer semgrep invocations on big trees.
    targets = [
        p
        for p in work.paths
        if PurePosixPath(p).suffix in SCANNED_SUFFIXES or "." not in p.rsplit("/", 1)[-1]
    ]
    if not targets:
        return [], []
    result = run_semgrep(
        work.root, targets, config=options.rules, preferred_engine=options.semgrep_engine
    )
    return result.findings, [f"semgrep: {message}" for message in result.errors]


def is_test_path(path: str) -> bool:
    """Test code: under a ``tests``/``test`` folder, or ``test_*.py``, ``*_test.py``,
    ``conftest.py``."""
    pure = PurePosixPath(path)
    if any(part in TEST_DIRS for part in pure.parts[:-1]):
        return True
    name = pure.name
    return name == "conftest.py" or (
        name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))
    )


def _reported_here(finding: Finding, options: ScanOptions) -> bool:
    """Hardening and configuration rules stay quiet in test code unless asked for."""
    if options.include_tests or finding.properties.get("scope") != HARDENING:
        return True
    return not is_test_path(finding.path)


def _on_changed_lines(finding: Finding, lines: frozenset[int] | None) -> bool:
    if lines is None:
        return True
    end = max(finding.end_line, finding.line)
    return any(n in lines for n in range(finding.line, end + 1))


def _mask(finding: Finding, masker: Callable[[str], str]) -> Finding:
    snippet, message = masker(finding.snippet), masker(finding.message)
    if snippet == finding.snippet and message == finding.message:
        return finding
    return dataclasses.replace(finding, snippet=snippet, message=message)


def _binary_as_text(path: Path) -> str | None:
    try:
        data = path.read_bytes()  # within the size limit: the walker checked size first
    except OSError:
        return None
    return data.decode("utf-8", "replace").replace("\x00", " ")


def _secret_candidates(work: Work) -> list[str]:
    listed = set(work.paths)
    # The tree walker leaves binary files out of ``paths`` (they are listed as skipped).
    binary = [p for p, reason in work.report.skipped if reason == REASON_BINARY]
    return [*work.paths, *(p for p in binary if p not in listed)]


def _run_engine(work: Work, options: ScanOptions, executable: Path) -> EngineHits:
    from selfheal.scanner.secret_engine import run_kingfisher

    hits = run_kingfisher(
        executable,
        work.root,
        _secret_candidates(work),
        cache_dir=options.secret_engine_cache,
        timeout=options.secret_engine_timeout,
    )
    by_path: EngineHits = {}
    for hit in hits:
        by_path.setdefault(hit.path, []).append(hit)
    return by_path


def _scan_secrets(work: Work, progress: Progress, engine: EngineHits | None) -> list[Finding]:
    from selfheal.scanner.secret_merge import merge_file
    from selfheal.scanner.secrets import scan_secrets

    findings: list[Finding] = []
    listed = set(work.paths)
    candidates = _secret_candidates(work)
    total = len(candidates)
    for done, path in enumerate(candidates, 1):
        progress.update(done, total, path)
        text = work.text_of(path) if path in listed else REASON_BINARY
        if text == REASON_BINARY:
            # Binary files skip the code scanners, but not this one: a NUL byte must not be
            # a way to hide a key. The bytes are read as text, NULs as spaces (line numbers
            # stay true).
            body = _binary_as_text(work.root / path)
            if body is None:
                continue
        elif isinstance(text, str):
            continue  # already recorded as skipped
        else:
            body = text.text
        lines = work.changed.get(path)
        found = scan_secrets(path, body, lines)
        if engine is not None and path in engine:
            found = merge_file(path, body, found, engine[path], lines)
        findings.extend(f for f in found if _on_changed_lines(f, lines))
    return findings


def _scan_dependencies(work: Work, options: ScanOptions) -> list[Finding]:
    from selfheal.scanner.advisories import AdvisoryDB
    from selfheal.scanner.deps import is_dependency_file, scan_dependencies

    dep_paths = [p for p in work.paths if is_dependency_file(p)]
    safety = options.cve_source == "safety"
    db = (
        AdvisoryDB([], source="safety (pyup.io)") if safety else AdvisoryDB.load(options.advisories)
    )
    work.report.advisories = db.description
    if not dep_paths:
        return []
    # The dependency scanner reads a changed_lines mapping as "only these files", so files
    # without a line restriction are scanned in a separate, unrestricted call.
    whole = [p for p in dep_paths if p not in work.changed]
    limited = {p: work.changed[p] for p in dep_paths if p in work.changed}
    findings: list[Finding] = []
    for paths, changed in ((whole, None), (list(limited), limited)):
        if not paths:
            continue
        if safety:
            from selfheal.scanner.safety_source import scan_with_safety

            findings += scan_with_safety(paths, work.read, changed_lines=changed)
        else:
            findings += scan_dependencies(paths, work.read, db, changed_lines=changed)
    return findings


def _guarded(name: str, report: ScanReport, action: Callable[[], list[Finding]]) -> list[Finding]:
    try:
        return action()
    except ScannerError as exc:
        report.errors.append(f"{name}: {exc}")
    except Exception as exc:  # a crashing scanner must fail the scan closed, not escape
        report.errors.append(f"{name}: internal error: {exc.__class__.__name__}: {exc}")
    return []


def run(work: Work, options: ScanOptions, progress: Progress) -> ScanReport:
    """Scan ``work.paths`` under ``work.root``; the report is ``work.report``, filled in."""
    report = work.report
    unknown = set(options.scanners) - ALL_SCANNERS
    if unknown:
        report.errors.append(f"unknown scanners: {', '.join(sorted(unknown))}")
    if options.cve_source not in CVE_SOURCES:
        report.errors.append(f"unknown CVE source {options.cve_source!r}")
    # Read (and classify) every file once, up front, so the skip list is complete and semgrep
    # sees exactly the files the other scanners see. Texts are kept up to a memory budget;
    # beyond it they are read again when needed.
    kept: dict[str, FileText] = {}
    budget = TEXT_CACHE_CHARS
    readable: list[str] = []
    for path in work.paths:
        text = work.text_of(path)
        if isinstance(text, str):
            report.skipped.append((path, text))
            continue
        readable.append(path)
        if len(text.text) <= budget:
            kept[path] = text
            budget -= len(text.text)
    reread = work.text_of
    work.paths = readable
    work.text_of = lambda path: kept.pop(path, None) or reread(path)
    report.files_scanned = len(work.paths)

    findings: list[Finding] = []
    semgrep_future: Future[tuple[list[Finding], list[str]]] | None = None
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="scanner")
    try:
        if "semgrep" in options.scanners and work.paths:
            semgrep_future = pool.submit(_run_semgrep, work, options)
        if "secrets" in options.scanners:
            engine = _engine_hits(report, _start_engine(work, options, pool))
            findings += _guarded("secrets", report, lambda: _scan_secrets(work, progress, engine))
        if "dependencies" in options.scanners:
            findings += _guarded("dependencies", report, lambda: _scan_dependencies(work, options))
        if semgrep_future is not None:
            progress.message(f"semgrep: scanning {len(work.paths)} files ...")
            found = _guarded("semgrep", report, lambda: _semgrep_result(semgrep_future, report))
            findings += [
                f
                for f in found
                if _on_changed_lines(f, work.changed.get(f.path)) and _reported_here(f, options)
            ]
    finally:
        pool.shutdown(wait=True)
        progress.close()
    report.findings = _finish(findings, options, report)
    return report


def _start_engine(
    work: Work, options: ScanOptions, pool: ThreadPoolExecutor
) -> Future[EngineHits] | ScannerError | None:
    """Start the community secret engine beside semgrep; None when it is not installed (or
    not wanted), the error when it was asked for and cannot run."""
    from selfheal.scanner.secret_engine import locate

    try:
        executable = locate(options.secret_engine, options.secret_engine_executable)
    except ScannerError as exc:
        return exc
    if executable is None:
        if (options.secret_engine or "auto").strip().lower() != "builtin":
            work.report.warnings.append(
                "secrets: the Kingfisher engine is not installed; selfheal's own detector "
                "ran alone (fewer provider formats)"
            )
        return None
    return pool.submit(_run_engine, work, options, executable)


def _engine_hits(
    report: ScanReport, started: Future[EngineHits] | ScannerError | None
) -> EngineHits | None:
    """The engine's hits by path. A failed engine is a scan error (the scan is incomplete and
    a gate fails closed) while our own detector still reports what it finds."""
    if started is None:
        return None
    if isinstance(started, ScannerError):
        report.errors.append(f"secrets: {started}")
        return None
    try:
        return started.result()
    except ScannerError as exc:
        report.errors.append(f"secrets: {exc}")
    except Exception as exc:  # a crash in the engine's edge must fail closed, not escape
        report.errors.append(f"secrets: kingfisher: internal error: {exc.__class__.__name__}")
    return None


def _semgrep_result(
    future: Future[tuple[list[Finding], list[str]]], report: ScanReport
) -> list[Finding]:
    found, warnings = future.result()
    report.warnings.extend(warnings)
    return found


def _finish(findings: Iterable[Finding], options: ScanOptions, report: ScanReport) -> list[Finding]:
    from selfheal.scanner.secrets import mask_secrets

    unique: dict[tuple[str, str, int, int, str], Finding] = {}
    for finding in findings:
        if finding.source is not Source.SECRETS:
            finding = _mask(finding, mask_secrets)
        key = (finding.rule_id, finding.path, finding.line, finding.column, finding.fingerprint)
        unique.setdefault(key, finding)
    result = list(unique.values())
    if options.baseline is not None:
        try:
            from selfheal.scanner.baseline import Baseline

            result = Baseline.load(options.baseline).filter(result)
        except Exception as exc:  # an unusable baseline must not silently hide findings
            report.errors.append(f"baseline {options.baseline}: {exc}")
    return sort_findings(result)
