"""``selfheal scan`` end to end: real trees, real scanners, every output channel, exit codes.

Each scanning test runs semgrep once; the usage-error tests stop before any scanner runs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import jsonschema
import pygit2
import pytest

from selfheal.cli import main
from selfheal.cli.scan import exit_code, parse_threshold
from selfheal.model.findings import Category, Finding, Severity, Source
from selfheal.scanner.engine import ScanReport
from tests.support import paths
from tests.support.paths import ROOT
from tests.support.sarif import validate_with_multitool

FIXTURES = paths.FIXTURES / "scan"
SARIF_SCHEMA = ROOT / "node_modules/@microsoft/sarif-multitool-linux/sarif-2.1.0.json"
_MATERIAL = "".join(
    c
    for c in base64.b64encode(hashlib.sha512(b"selfheal-cli-tests").digest()).decode()
    if c.isalnum()
)
AWS_KEY = "AKIA" + _MATERIAL.upper()[:16]
GITHUB_TOKEN = "ghp_" + _MATERIAL[20:56]


@pytest.fixture
def leaky_repo(tmp_path: Path) -> Path:
    """The vulnerable fixture plus a leaked key (assembled here) and an excluded folder."""
    root = tmp_path / "leaky"
    shutil.copytree(FIXTURES / "vulnerable", root)
    pygit2.init_repository(str(root))
    (root / "config.py").write_text(f"import os\n\nAWS_ACCESS_KEY_ID = '{AWS_KEY}'\n")
    (root / "docs").mkdir()
    (root / "docs" / "example.py").write_text(f"TOKEN = '{GITHUB_TOKEN}'\n")
    (root / ".github").mkdir()
    (root / ".github" / "selfheal.yml").write_text("scan:\n  exclude: ['docs/**']\n")
    return root


def test_leaky_repo_fails_with_every_output(
    multitool: Path,
    leaky_repo: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    out, sarif = tmp_path / "report.json", tmp_path / "report.sarif"
    argv = ["scan", str(leaky_repo), "--format", "json", "--output", str(out)]
    code = main([*argv, "--sarif-file", str(sarif), "--no-progress"])
    captured = capsys.readouterr()

    assert code == 1, captured.err
    report = json.loads(out.read_text())
    found = {(f["rule_id"], f["path"], f["line"]) for f in report["findings"]}
    assert found == {
        ("python-sql-injection", "app/views.py", 14),
        ("secret-aws-access-key-id", "config.py", 3),
        ("dependency-vulnerable", "requirements.txt", 2),
    }  # docs/ is excluded by the repository config
    assert report["summary"]["complete"] is True
    assert report["summary"]["files_scanned"] == 4  # views, requirements, config, selfheal.yml
    assert {"path": "docs/", "reason": "excluded by pattern"} in report["skipped"]

    log = json.loads(sarif.read_text())
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(log)
    assert len(log["runs"][0]["results"]) == len(report["findings"])
    assert validate_with_multitool(multitool, sarif, tmp_path) == []
    assert captured.err == ""

    text = summary.read_text()
    assert text.startswith("earlier step\n## selfheal scan: 🔍 findings")  # appended
    assert "config.py:3" in text
    # Annotations go to stdout (the report went to a file); nothing leaks the whole key.
    assert "::error file=config.py,line=3," in captured.out
    everything = captured.out + captured.err + out.read_text() + sarif.read_text() + text
    assert AWS_KEY not in everything


def test_clean_repo_with_baseline_exits_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "clean"
    shutil.copytree(FIXTURES / "clean", root)
    (root / "legacy.py").write_text(f"TOKEN = '{GITHUB_TOKEN}'\n")
    baseline = tmp_path / "baseline.json"
    assert main(["scan", str(root), "--write-baseline", str(baseline)]) == 0
    assert "wrote a baseline of 1 secret finding(s)" in capsys.readouterr().out
    assert GITHUB_TOKEN not in baseline.read_text()

    summary = tmp_path / "summary.md"
    code = main(["scan", str(root), "--baseline", str(baseline), "--summary-file", str(summary)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert out.startswith("No findings.\n")
    last = out.rstrip().splitlines()[-1]
    assert last.startswith("0 findings; 3 files scanned, 0 skipped; advisories: ")
    assert "snapshot" in last and last.endswith("; 0 scanner errors")
    assert summary.read_text().startswith("## selfheal scan: ✅ clean")


def test_incomplete_scan_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "requirements.txt").write_text("pyyaml==5.3\n")
    # Without the safety extra (or offline) the safety source cannot run: never exit 0.
    code = main(["scan", str(tmp_path), "--cve-source", "safety", "--fail-on", "none"])
    captured = capsys.readouterr()
    assert code == 2
    assert "selfheal: scan incomplete: dependencies: " in captured.err
    assert "Scanner errors (the scan is incomplete):" in captured.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{root}/missing"], "no such file or directory"),
        (["{root}", "--fail-on", "severe"], "--fail-on: unknown severity 'severe'"),
        (["{root}", "--base", "no-such-ref"], "unknown git ref 'no-such-ref'"),
        (["{root}", "--config", "{root}/nope.yml"], "no such config file"),
        (["{root}", "--config", "{root}/bad.yml"], "bad.yml"),
        (["{root}", "--advisories", "{root}/none.json"], "cannot load advisories"),
        (["{root}", "--baseline", "{root}/bad.yml"], "cannot load baseline"),
        (["{root}", "--max-file-size", "0"], "--max-file-size must be a positive"),
    ],
)
def test_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    pygit2.init_repository(str(tmp_path))
    (tmp_path / "bad.yml").write_text("scan:\n  max_file_size_kb: many\n")
    code = main(["scan", *(a.format(root=tmp_path) for a in args)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("selfheal: error: ") and message in err


def test_exit_code_rules() -> None:
    high = Finding("r", Category.INJECTION, Severity.HIGH, "a.py", 1, "m", Source.SEMGREP)
    report = ScanReport([high], [], [], 1, "")
    assert exit_code(report, parse_threshold("high")) == 1
    assert exit_code(report, parse_threshold("critical")) == 0
    assert exit_code(report, parse_threshold("none")) == 0
    report.errors.append("semgrep: crashed")
    assert exit_code(report, parse_threshold("none")) == 2


def test_include_tests_and_the_secret_engine_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "tree"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_app.py").write_text("app.run(debug=True)\n")
    monkeypatch.setenv("SELFHEAL_HOME", str(tmp_path / "home"))
    base = ["scan", str(root), "--format", "json", "--fail-on", "none", "--no-progress"]

    def rules(*extra: str) -> list[str]:
        assert main([*base, *extra]) == 0
        return [f["rule_id"] for f in json.loads(capsys.readouterr().out)["findings"]]

    assert rules() == []
    assert rules("--include-tests") == ["python-debug-enabled"]
    assert list((tmp_path / "home" / "cache" / "kingfisher").glob("*.vscdb"))
    monkeypatch.setenv("SELFHEAL_SECRET_ENGINE", "trufflehog")
    assert main(base) == 2
    assert "unknown secret engine 'trufflehog'" in capsys.readouterr().err
