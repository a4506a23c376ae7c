"""Noise on real code: scan well-maintained packages installed in this venv; prints figures.

    python bench/noise.py [--package NAME ...] [--list]

Each package's installed source folder is copied to a temporary folder (a tree inside a
virtualenv counts as vendored and is skipped) and scanned with the default options of
``selfheal scan`` (semgrep rules and secrets; hardening rules quiet in test code). Prints the
lines of Python, the findings per 1,000 lines by rule, and with ``--list`` every finding
(severity, rule, place, snippet) so that each can be triaged as real or false. The target:
no false finding at high or critical severity.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))  # the source root

from selfheal.model.findings import Severity
from selfheal.scanner.engine import ScanOptions, scan_path

# Web frameworks and HTTP clients (where our rules look), a CLI, a validator, a test library.
DEFAULT_PACKAGES = (
    "aiohttp", "werkzeug", "starlette", "requests", "httpx", "click", "jsonschema", "hypothesis"
)  # fmt: skip


def python_lines(root: Path) -> int:
    return sum(
        len(path.read_text(encoding="utf-8", errors="replace").splitlines())
        for path in root.rglob("*.py")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", action="append", help="an importable package name")
    parser.add_argument("--list", action="store_true", help="print every finding")
    args = parser.parse_args()
    options = ScanOptions(scanners=frozenset({"semgrep", "secrets"}))
    total_lines, total = 0, Counter[str]()
    serious = 0
    for name in args.package or DEFAULT_PACKAGES:
        module = importlib.import_module(name)
        with tempfile.TemporaryDirectory(prefix="selfheal-noise-") as tmp:
            root = Path(tmp) / name
            source = Path(module.__file__ or "").parent
            shutil.copytree(source, root, ignore=shutil.ignore_patterns("__pycache__"))
            lines = python_lines(root)
            start = time.perf_counter()
            report = scan_path(root, options)
            wall = time.perf_counter() - start
        if report.errors:
            print(f"{name}: scan incomplete: {report.errors}")
            return 2
        rules = Counter(f.rule_id for f in report.findings)
        total_lines += lines
        total.update(rules)
        version = importlib.metadata.version(name)
        rate = 1000 * len(report.findings) / lines
        print(f"{name} {version}: {report.files_scanned} files, {lines:,} lines, ", end="")
        print(f"{len(report.findings)} findings, {rate:.2f} per 1,000 lines, {wall:.1f} s")
        for rule, count in rules.most_common():
            print(f"    {rule:40} {count:3}  {1000 * count / lines:.3f} per 1,000 lines")
        for f in report.findings:
            serious += f.severity >= Severity.HIGH
            if args.list or f.severity >= Severity.HIGH:
                snippet = " ".join(f.snippet.split())[:90]
                print(f"      {f.severity.label:8} {f.rule_id} {name}/{f.path}:{f.line}  {snippet}")
    print(f"all: {total_lines:,} lines, {sum(total.values())} findings, "
          f"{1000 * sum(total.values()) / max(total_lines, 1):.2f} per 1,000 lines; "
          f"{serious} at high or critical")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
