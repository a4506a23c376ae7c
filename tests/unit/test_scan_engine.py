"""The scan pipeline end to end, with the real scanners (semgrep, secrets, dependencies).

semgrep runs are the expensive part (a few seconds each), so every tree is scanned once in a
session-scoped fixture and the tests assert on the shared reports. Secrets are assembled at
run time so that this repository never contains one.

Unreadable files: tests run as root, which ignores file permissions, so "unreadable" is
exercised with a FIFO (never opened for reading), dangling and looping symlinks, and paths
that cannot be materialised (see also tests/test_files.py).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
from pathlib import Path

import pygit2
import pytest

from selfheal.model.findings import Finding
from selfheal.scanner.engine import ScanOptions, ScanReport, ScanTarget, scan_path, scan_targets
from selfheal.scanner.progress import Progress, should_show
from tests.support import paths

FIXTURES = paths.FIXTURES / "scan"
SIGNATURE = pygit2.Signature("Dev", "dev@example.com", 1_700_000_000, 0)
SQLI = "python-sql-injection"
SMALL_LIMIT = 64 * 1024


def _token_material() -> str:
    raw = base64.b64encode(hashlib.sha512(b"selfheal-scan-tests").digest()).decode()
    return "".join(c for c in raw if c.isalnum())


GITHUB_TOKEN = "ghp_" + _token_material()[:36]
AWS_KEY = "AKIA" + _token_material().upper()[40:56]


def where(findings: list[Finding]) -> set[tuple[str, str, int]]:
    return {(f.rule_id, f.path, f.line) for f in findings}


def commit(repo: pygit2.Repository, message: str) -> str:
    repo.index.add_all()
    repo.index.write()
    tree = repo.index.write_tree()
    parents = [] if repo.head_is_unborn else [repo.head.target]
    return str(repo.create_commit("HEAD", SIGNATURE, SIGNATURE, message, tree, parents))


def build_hazard_tree(root: Path, outside: Path) -> None:
    shutil.copytree(FIXTURES / "vulnerable", root)
    shutil.copytree(FIXTURES / "clean", root / "twin")  # must produce nothing
    pygit2.init_repository(str(root))
    (root / ".gitignore").write_text("build/\n")
    (root / "settings.py").write_text(f"DEBUG = False\nTOKEN = '{GITHUB_TOKEN}'\n")
    # Invalid UTF-8 on line 1; the key on line 2 must still be found.
    (root / "latin.py").write_bytes(b"# caf\xe9\nAWS = '" + AWS_KEY.encode() + b"'\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)))
    (root / "dump.sql").write_text(f"-- {GITHUB_TOKEN}\n" + "x" * SMALL_LIMIT)
    for hidden in ("node_modules/pkg/index.js", "build/out.py"):
        (root / hidden).parent.mkdir(parents=True)
        (root / hidden).write_text(f"token = '{GITHUB_TOKEN}'\n")
    outside.write_text(f"TOKEN = '{GITHUB_TOKEN}'\n")
    os.symlink(outside, root / "escape.py")
    os.symlink(root / "loop2", root / "loop1")
    os.symlink(root / "loop1", root / "loop2")
    os.mkfifo(root / "pipe")


@pytest.fixture(scope="session")
def hazard_report(tmp_path_factory: pytest.TempPathFactory) -> ScanReport:
    base = tmp_path_factory.mktemp("hazards")
    root = base / "tree"
    build_hazard_tree(root, base / "outside.py")
    return scan_path(root, ScanOptions(max_file_size=SMALL_LIMIT))


@pytest.fixture(scope="session")
def base_report(tmp_path_factory: pytest.TempPathFactory) -> ScanReport:
    """Base: the clean twin plus a committed eval; working tree: the vulnerable edits."""
    root = tmp_path_factory.mktemp("based") / "repo"
    shutil.copytree(FIXTURES / "clean", root)
    (root / "old.py").write_text("def run(code):\n    return eval(code)\n")
    repo = pygit2.init_repository(str(root))
    base = commit(repo, "base")
    shutil.copy(FIXTURES / "vulnerable" / "app" / "views.py", root / "app" / "views.py")
    shutil.copy(FIXTURES / "vulnerable" / "requirements.txt", root / "requirements.txt")
    (root / "new.py").write_text(f"import os\nTOKEN = '{GITHUB_TOKEN}'\n")
    return scan_path(root, ScanOptions(), base=base)


@pytest.fixture(scope="session")
def targets_report() -> ScanReport:
    views = (FIXTURES / "vulnerable" / "app" / "views.py").read_bytes()
    other = f"import os\n\ndef f(x):\n    return eval(x)\nKEY = '{AWS_KEY}'\n".encode()
    targets = [
        ScanTarget("app/views.py", views, frozenset({14})),
        ScanTarget("lib/other.py", other, frozenset({5})),  # eval on line 4 is not changed
        ScanTarget("requirements.txt", b"-r base.txt\nflask>=3\n"),
        ScanTarget("../escape.py", b"eval(input())\n"),
        ScanTarget("/etc/evil.py", b"eval(input())\n"),
        ScanTarget("img.png", b"\x00\x01binary"),
        ScanTarget("docs/example.py", f"KEY = '{AWS_KEY}'\n".encode()),  # excluded
        ScanTarget("vendor/lib.py", f"KEY = '{AWS_KEY}'\n".encode()),  # vendored: checked
    ]
    extra = {"base.txt": "pyyaml==5.3\n"}
    return scan_targets(targets, ScanOptions(exclude=("docs/**",)), read=extra.get)


def test_full_scan_finds_exactly_the_planted_problems(hazard_report: ScanReport) -> None:
    assert hazard_report.errors == []
    assert where(hazard_report.findings) == {
        (SQLI, "app/views.py", 14),
        ("secret-github-token", "settings.py", 2),
        ("secret-aws-access-key-id", "latin.py", 2),
        ("dependency-vulnerable", "requirements.txt", 2),
    }
    assert {f.properties.get("advisory") for f in hazard_report.findings if f.line == 2} >= {
        "PYSEC-2020-96"
    }
    assert "snapshot" in hazard_report.advisories


def test_full_scan_skips_hazards_with_reasons(hazard_report: ScanReport) -> None:
    skipped = dict(hazard_report.skipped)
    assert skipped == {
        "node_modules/": "vendored path",
        "build/": "gitignored",
        "escape.py": "symlink pointing outside the tree",
        "loop1": "dangling or looping symlink",
        "loop2": "dangling or looping symlink",
        "pipe": "not a regular file",
        "logo.png": "binary file",
        "dump.sql": f"too large ({SMALL_LIMIT + len(GITHUB_TOKEN) + 4} bytes > {SMALL_LIMIT})",
    }
    # .gitignore, requirements.txt, settings.py, latin.py, app/views.py and the twin's two
    assert hazard_report.files_scanned == 7


def test_no_report_contains_a_whole_secret(hazard_report: ScanReport) -> None:
    from selfheal.report import FORMATS, render

    for fmt in FORMATS:
        text = render(fmt, hazard_report.findings, skipped=hazard_report.skipped)
        assert GITHUB_TOKEN not in text and AWS_KEY not in text, fmt


def test_clean_twin_has_no_findings(hazard_report: ScanReport) -> None:
    # The clean twin sits in the same tree (twin/), so it shares the one semgrep run.
    assert [f for f in hazard_report.findings if f.path.startswith("twin/")] == []


def test_base_limits_to_changed_files_and_lines(base_report: ScanReport) -> None:
    assert base_report.errors == []
    assert where(base_report.findings) == {
        (SQLI, "app/views.py", 14),
        ("secret-github-token", "new.py", 2),
        ("dependency-vulnerable", "requirements.txt", 2),
    }  # old.py's eval was already in the base: not reported
    assert base_report.files_scanned == 3


def test_targets_scan_changed_lines_safely(targets_report: ScanReport) -> None:
    assert targets_report.errors == []
    assert where(targets_report.findings) == {
        (SQLI, "app/views.py", 14),
        ("secret-aws-access-key-id", "lib/other.py", 5),
        ("dependency-vulnerable", "base.txt", 1),
        ("secret-aws-access-key-id", "vendor/lib.py", 1),
    }
    assert dict(targets_report.skipped) == {
        "docs/example.py": "excluded by pattern",
        "../escape.py": "unsafe path (absolute or outside the tree)",
        "/etc/evil.py": "unsafe path (absolute or outside the tree)",
        "img.png": "binary file",
    }
    assert targets_report.files_scanned == 4


def test_scanner_failure_is_an_error_not_an_exception(tmp_path: Path) -> None:
    bad_rules = tmp_path / "broken.yaml"
    bad_rules.write_text("rules:\n  - id: broken\n    pattern: eval(\n")
    content = f"KEY = '{AWS_KEY}'\n".encode()
    report = scan_targets([ScanTarget("a.py", content)], ScanOptions(rules=bad_rules))
    assert report.errors and report.errors[0].startswith("semgrep: ")
    assert not report.complete
    # The other scanners still ran and reported.
    assert where(report.findings) == {("secret-aws-access-key-id", "a.py", 1)}


def test_baseline_suppresses_known_secrets(tmp_path: Path) -> None:
    from selfheal.scanner.baseline import Baseline

    secrets_only = ScanOptions(scanners=frozenset({"secrets"}))
    target = [ScanTarget("conf.py", f"TOKEN = '{GITHUB_TOKEN}'\n".encode())]
    first = scan_targets(target, secrets_only)
    assert where(first.findings) == {("secret-github-token", "conf.py", 1)}
    baseline = tmp_path / "baseline.json"
    Baseline.from_findings(first.findings).save(baseline)
    secrets_only.baseline = baseline
    assert scan_targets(target, secrets_only).findings == []
    baseline.write_text("{not json")
    broken = scan_targets(target, secrets_only)
    assert broken.errors and broken.errors[0].startswith(f"baseline {baseline}")


def test_empty_repository_is_a_clean_report(tmp_path: Path) -> None:
    pygit2.init_repository(str(tmp_path))
    report = scan_path(tmp_path, ScanOptions())
    assert (report.findings, report.errors, report.files_scanned) == ([], [], 0)
    assert "snapshot" in report.advisories
    empty = scan_targets([], ScanOptions())
    assert (empty.findings, empty.errors, empty.files_scanned) == ([], [], 0)


def test_single_file_path(tmp_path: Path) -> None:
    (tmp_path / "one.py").write_text(f"TOKEN = '{GITHUB_TOKEN}'\n")
    (tmp_path / "two.py").write_text(f"TOKEN = '{GITHUB_TOKEN}'\n")
    report = scan_path(tmp_path / "one.py", ScanOptions(scanners=frozenset({"secrets"})))
    assert where(report.findings) == {("secret-github-token", "one.py", 1)}


def test_unknown_scanner_or_source_fails_closed() -> None:
    options = ScanOptions(scanners=frozenset({"secrets", "bogus"}), cve_source="nvd")
    report = scan_targets([], options)
    assert report.errors == ["unknown scanners: bogus", "unknown CVE source 'nvd'"]


def test_progress_bar_only_on_a_terminal() -> None:
    stream = io.StringIO()
    bar = Progress(True, stream)
    bar.update(5, 10, "a.py")
    bar.update(10, 10, "b.py")
    bar.close()
    out = stream.getvalue()
    assert "[" + "#" * 30 + "] 10/10 b.py" in out and out.endswith("\r")
    quiet = io.StringIO()
    Progress(False, quiet).update(1, 1)
    assert quiet.getvalue() == ""
    assert not should_show(io.StringIO(), {})
    assert not should_show(None, {"CI": "true"})


def test_scan_path_draws_progress_on_stderr_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "b.py").write_text("y = 2\n")
    scan_path(tmp_path, ScanOptions(scanners=frozenset({"secrets"})), progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "] 2/2 b.py" in captured.err and captured.err.endswith("\r")
    scan_path(tmp_path, ScanOptions(scanners=frozenset({"secrets"})))
    assert capsys.readouterr().err == ""
