"""``selfheal scan PATH``: scan a tree (or only what changed since a ref) and report.

Exit codes: 0 nothing at or above ``--fail-on``; 1 findings at or above it; 2 usage or
configuration error, and also 2 when the scan could not complete (a scanner failed): an
incomplete scan must never look clean.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from selfheal.cli import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    secret_engine_cache,
    secret_engine_setting,
    semgrep_engine_setting,
)
from selfheal.model.findings import Finding, Severity, Source
from selfheal.model.repo_config import DEFAULT_PATH, ConfigError, ScanConfig, load_repo_config
from selfheal.report import FORMATS, render
from selfheal.scanner.engine import CVE_SOURCES, ScanOptions, ScanReport, scan_path
from selfheal.scanner.progress import should_show

MACHINE_FORMATS = frozenset({"json", "sarif"})
MAX_WARNINGS_SHOWN = 20


# --- helpers ---------------------------------------------------------------------------


def load_scan_config(path: Path) -> ScanConfig:
    """The ``scan`` section of a repository config file; UsageError when it is bad."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read config {path}: {exc}") from exc
    try:
        config = load_repo_config(text, str(path))
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    for warning in config.warnings:
        print(f"selfheal: warning: {warning}", file=sys.stderr)
    return config.scan


def parse_threshold(value: str) -> Severity | None:
    """``none`` (never fail) or a severity name; UsageError otherwise."""
    if value.strip().lower() == "none":
        return None
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise UsageError(f"--fail-on: {exc}") from exc


def exit_code(report: ScanReport, threshold: Severity | None) -> int:
    if report.errors:
        return EXIT_USAGE
    if threshold is not None and any(f.severity >= threshold for f in report.findings):
        return EXIT_FINDINGS
    return EXIT_OK


def _write(path: str, text: str, *, append: bool = False) -> None:
    try:
        with open(path, "a" if append else "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc


def _check_inputs(args: argparse.Namespace) -> None:
    if args.advisories is not None:
        from selfheal.scanner.advisories import AdvisoryDB

        try:
            AdvisoryDB.load(Path(args.advisories))
        except Exception as exc:
            raise UsageError(f"cannot load advisories {args.advisories}: {exc}") from exc
    if args.baseline is not None:
        from selfheal.scanner.baseline import Baseline

        try:
            Baseline.load(Path(args.baseline))
        except Exception as exc:
            raise UsageError(f"cannot load baseline {args.baseline}: {exc}") from exc


def _options(args: argparse.Namespace, config: ScanConfig) -> ScanOptions:
    if args.max_file_size is not None and args.max_file_size <= 0:
        raise UsageError("--max-file-size must be a positive number of bytes")
    return ScanOptions(
        advisories=Path(args.advisories) if args.advisories else None,
        cve_source=args.cve_source,
        baseline=Path(args.baseline) if args.baseline else None,
        max_file_size=args.max_file_size or config.max_file_size,
        include_vendored=args.include_vendored or config.include_vendored,
        exclude=config.exclude + tuple(args.exclude),
        semgrep_engine=semgrep_engine_setting(),
        secret_engine=secret_engine_setting(),
        secret_engine_cache=secret_engine_cache(),
        include_tests=args.include_tests,
    )


def _meta(report: ScanReport, args: argparse.Namespace, fail_on: str) -> Mapping[str, str]:
    meta = {
        "files_scanned": str(report.files_scanned),
        "advisories": report.advisories,
        "fail_on": fail_on,
    }
    if args.base:
        meta["base"] = args.base
    return meta


def _write_baseline(root: Path, args: argparse.Namespace, options: ScanOptions) -> int:
    from selfheal.scanner.baseline import Baseline

    options.scanners = frozenset({"secrets"})
    options.baseline = None  # record everything found now, not what the old baseline left
    report = scan_path(root, options, base=args.base, progress=_progress(args))
    if report.errors:
        for error in report.errors:
            print(f"selfheal: scan incomplete: {error}", file=sys.stderr)
        return EXIT_USAGE
    secrets: list[Finding] = [f for f in report.findings if f.source is Source.SECRETS]
    Baseline.from_findings(secrets).save(Path(args.write_baseline))
    print(f"wrote a baseline of {len(secrets)} secret finding(s) to {args.write_baseline}")
    return EXIT_OK


def _progress(args: argparse.Namespace) -> bool:
    return not args.no_progress and should_show()


# --- public functions ------------------------------------------------------------------


def _config(args: argparse.Namespace, root: Path) -> ScanConfig:
    """The ``scan`` section of ``--config``, else of the tree's own config file, if any."""
    config_path = Path(args.config) if args.config else root / DEFAULT_PATH
    if args.config and not config_path.is_file():
        raise UsageError(f"no such config file: {args.config}")
    return load_scan_config(config_path) if config_path.is_file() else ScanConfig()


def _emit(args: argparse.Namespace, report: ScanReport, fail_on: str) -> None:
    """Write the report where it was asked for: the main format, a SARIF file, the job
    summary and workflow annotations on GitHub Actions."""
    common: dict[str, Any] = {
        "skipped": report.skipped, "errors": report.errors, "meta": _meta(report, args, fail_on)
    }  # fmt: skip
    output = render(args.format, report.findings, **common)
    if args.output:
        _write(args.output, output)
    else:
        sys.stdout.write(output)
    if args.sarif_file:
        _write(args.sarif_file, render("sarif", report.findings, **common))
    summary_file = args.summary_file or os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        _write(summary_file, render("markdown", report.findings, **common), append=True)
    annotate = args.annotations
    if annotate is None:
        annotate = os.environ.get("GITHUB_ACTIONS") == "true"
    if annotate and args.format != "annotations" and report.findings:
        stream = sys.stderr if args.format in MACHINE_FORMATS and not args.output else sys.stdout
        stream.write(render("annotations", report.findings))


def _tell(report: ScanReport) -> None:
    """Warnings (the first few) and every error that left the scan incomplete, on stderr."""
    for warning in report.warnings[:MAX_WARNINGS_SHOWN]:
        print(f"selfheal: warning: {warning}", file=sys.stderr)
    if len(report.warnings) > MAX_WARNINGS_SHOWN:
        print(
            f"selfheal: ... and {len(report.warnings) - MAX_WARNINGS_SHOWN} more warnings",
            file=sys.stderr,
        )
    for error in report.errors:
        print(f"selfheal: scan incomplete: {error}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    root = Path(args.path)
    if not root.exists():
        raise UsageError(f"no such file or directory: {args.path}")
    config = _config(args, root)
    fail_on = args.fail_on or config.fail_on.label
    threshold = parse_threshold(fail_on)
    _check_inputs(args)
    options = _options(args, config)
    if args.write_baseline:
        return _write_baseline(root, args, options)
    report = scan_path(root, options, base=args.base, progress=_progress(args))
    _emit(args, report, fail_on)
    _tell(report)
    return exit_code(report, threshold)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "scan",
        help="scan a tree for vulnerable code, secrets and vulnerable dependencies",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", nargs="?", default=".", help="file or directory (default .)")
    parser.add_argument("--base", metavar="REF", help="only files and lines changed since REF")
    parser.add_argument("--format", choices=FORMATS, default="text", help="report format")
    parser.add_argument("--output", metavar="FILE", help="write the report here (default stdout)")
    parser.add_argument("--sarif-file", metavar="FILE", help="also write SARIF to FILE")
    parser.add_argument(
        "--summary-file",
        metavar="FILE",
        help="append a markdown summary to FILE (default: $GITHUB_STEP_SUMMARY when set)",
    )
    parser.add_argument(
        "--annotations",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also print GitHub workflow annotations (default: on when GITHUB_ACTIONS=true)",
    )
    parser.add_argument(
        "--fail-on",
        metavar="SEVERITY",
        help="exit 1 on findings at or above this: info|low|medium|high|critical|none "
        "(default: the config's scan.fail_on, else high)",
    )
    parser.add_argument("--advisories", metavar="PATH", help="OSV advisory data to use")
    parser.add_argument("--cve-source", choices=CVE_SOURCES, default="osv")
    parser.add_argument("--baseline", metavar="FILE", help="suppress secrets in this baseline")
    parser.add_argument(
        "--write-baseline", metavar="FILE", help="write the current secrets as a baseline, exit 0"
    )
    parser.add_argument(
        "--exclude", metavar="GLOB", action="append", default=[], help="skip matching paths"
    )
    parser.add_argument(
        "--include-vendored", action="store_true", help="also scan node_modules, vendor, .venv ..."
    )
    parser.add_argument("--max-file-size", metavar="BYTES", type=int, help="default 1048576")
    parser.add_argument(
        "--config", metavar="FILE", help=f"repo config (default PATH/{DEFAULT_PATH})"
    )
    parser.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    parser.add_argument(
        "--include-tests",
        action="store_true",
        help="hardening rules (debug, cookies, timeouts, weak hashes) also report in test code",
    )
    parser.set_defaults(handler=run)
