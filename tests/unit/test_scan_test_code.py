"""Hardening rules stay quiet in test code unless asked; injection and secrets do not.

One small tree is scanned twice with the real semgrep rules (default, and include_tests).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from selfheal.scanner.engine import ScanOptions, ScanReport, scan_path
from selfheal.scanner.pipeline import is_test_path
from tests.support.rule_cases import generate

APP = """import hashlib
import os

from flask import Flask, request

app = Flask(__name__)


@app.route("/ping")
def ping():
    os.system("ping " + request.args["host"])
    return "ok"


def sign(body):
    return hashlib.md5(body).hexdigest()


def cache_key(url):
    return hashlib.md5(url).hexdigest()


app.run(debug=True)
"""
WHERE = ("app.py", "tests/test_app.py", "pkg/conftest.py", "pkg/views_test.py")


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[ScanReport, ScanReport]:
    root = tmp_path_factory.mktemp("noise")
    for rel in WHERE:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(APP, encoding="utf-8")
    semgrep = frozenset({"semgrep"})
    quiet = scan_path(root, ScanOptions(scanners=semgrep))
    loud = scan_path(root, ScanOptions(scanners=semgrep, include_tests=True))
    return quiet, loud


def _by_path(report: ScanReport) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for finding in report.findings:
        found.setdefault(finding.path, set()).add(finding.rule_id)
    return found


def test_hardening_rules_are_quiet_in_test_code_by_default(
    reports: tuple[ScanReport, ScanReport],
) -> None:
    quiet, _ = reports
    assert quiet.complete, quiet.errors
    found = _by_path(quiet)
    expected = {"python-command-injection", "python-weak-hash", "python-debug-enabled"}
    assert found["app.py"] == expected
    for rel in WHERE[1:]:
        assert found[rel] == {"python-command-injection"}, rel


def test_include_tests_reports_them(reports: tuple[ScanReport, ScanReport]) -> None:
    _, loud = reports
    found = _by_path(loud)
    assert all(found[rel] == found["app.py"] for rel in WHERE)


def test_weak_hash_only_where_it_signs(reports: tuple[ScanReport, ScanReport]) -> None:
    quiet, _ = reports
    lines = [f.line for f in quiet.findings if f.rule_id == "python-weak-hash"]
    assert lines == [APP.splitlines().index("    return hashlib.md5(body).hexdigest()") + 1]


@pytest.mark.parametrize(
    ("path", "test_code"),
    [
        ("tests/unit/test_x.py", True),
        ("test/helpers.py", True),
        ("src/test_views.py", True),
        ("src/views_test.py", True),
        ("conftest.py", True),
        ("src/contest.py", False),
        ("src/testing.py", False),
        ("src/latest/views.py", False),
        ("tests.py", False),
    ],
)
def test_what_counts_as_test_code(path: str, test_code: bool) -> None:
    assert is_test_path(path) is test_code


def test_rule_benchmark_is_balanced_and_parses() -> None:
    cases = generate()
    for klass in {c.klass for c in cases}:
        mine = [c for c in cases if c.klass == klass]
        assert len(mine) >= 20
        assert sum(c.vulnerable for c in mine) * 2 == len(mine), klass
    assert len({c.name for c in cases}) == len(cases)
    for case in cases:
        ast.parse(case.text, filename=case.name)
    assert Path(cases[0].name).suffix == ".py"
