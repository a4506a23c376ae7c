"""app.scan.semgrep: the real semgrep CLI over a small project on disk.

One session-scoped whole-tree run serves most assertions (semgrep is the expensive part);
the failure modes each use the smallest config that shows them.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from selfheal.model.findings import Category, Finding, Severity, Source
from selfheal.resources import rules_dir
from selfheal.scanner import ScannerError
from selfheal.scanner.semgrep import (
    SemgrepResult,
    chunked,
    command,
    rule_files,
    run_semgrep,
    tree_targets,
)
from selfheal.scanner.semgrep_json import classify_errors, parse_output, to_finding
from tests.support import paths

FIXTURE = paths.FIXTURES / "semgrep" / "project"
# Built at run time so the repository never stores a token-shaped string.
FAKE_TOKEN = "ghp_" + "Zq8vX2mN4bL7cR1tY6uW3eK9sD5fG0hJ2aPq"
SHELL_RULES = rules_dir() / "shell" / "dangerous.yaml"


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("semgrep-project")
    shutil.copytree(FIXTURE, root, dirs_exist_ok=True)
    app_py = root / "app.py"
    app_py.write_text(app_py.read_text().replace("@GITHUB_TOKEN@", FAKE_TOKEN))
    return root


@pytest.fixture(scope="session")
def scan(project: Path) -> SemgrepResult:
    return run_semgrep(project)


def by_rule(result: SemgrepResult) -> dict[str, list[Finding]]:
    found: dict[str, list[Finding]] = {}
    for finding in result.findings:
        found.setdefault(finding.rule_id, []).append(finding)
    return found


def test_vulnerable_code_is_found_with_full_fields(scan: SemgrepResult) -> None:
    found = by_rule(scan)
    (sql,) = found["python-sql-injection"]
    assert sql.path == "app.py"
    assert sql.line == 16
    assert sql.source is Source.SEMGREP
    assert sql.category is Category.INJECTION
    assert sql.severity is Severity.CRITICAL  # selfheal-severity overrides ERROR -> high
    assert sql.cwe == ("CWE-89",)
    assert sql.owasp == ("A03:2021",)
    assert sql.snippet.startswith("return db.execute(")
    assert sql.end_line >= sql.line and sql.column > 0
    assert "bound parameter" in sql.message
    (pickled,) = found["python-deserialization-of-request-data"]
    assert (pickled.line, pickled.severity) == (21, Severity.CRITICAL)
    (tls,) = found["python-tls-verification-disabled"]
    assert tls.severity is Severity.HIGH and tls.category is Category.CRYPTO


def test_snippets_never_show_a_whole_secret(scan: SemgrepResult) -> None:
    (tls,) = by_rule(scan)["python-tls-verification-disabled"]
    assert "verify=False" in tls.snippet
    assert FAKE_TOKEN not in tls.snippet
    assert FAKE_TOKEN[:4] in tls.snippet  # masked, not dropped
    assert all(FAKE_TOKEN not in f.snippet for f in scan.findings)


def test_ignore_files_and_nosemgrep_cannot_hide_code(scan: SemgrepResult) -> None:
    found = by_rule(scan)
    # app.py and web/ are listed in the project's .semgrepignore; they are still scanned.
    assert {f.path for f in found["js-code-injection"]} == {"web/server.js"}
    # `eval(expression)  # nosemgrep` is still reported.
    assert [f.line for f in found["python-eval-non-constant"]] == [29]


def test_shell_scripts_with_and_without_extension(scan: SemgrepResult) -> None:
    found = by_rule(scan)
    assert [(f.path, f.line) for f in found["shell-curl-pipe-to-shell"]] == [
        ("scripts/install.sh", 3)
    ]
    assert [(f.path, f.line) for f in found["shell-rm-rf-variable"]] == [("scripts/bootstrap", 2)]


def test_workflow_script_injection(scan: SemgrepResult) -> None:
    found = by_rule(scan)["yaml-github-actions-script-injection"]
    assert [(f.path, f.line, f.severity) for f in found] == [
        (".github/workflows/triage.yml", 8, Severity.CRITICAL)
    ]


def test_safe_code_is_not_reported(scan: SemgrepResult) -> None:
    assert [f for f in scan.findings if f.path == "clean.py"] == []


def test_unparseable_file_is_an_error_entry_not_a_failure(scan: SemgrepResult) -> None:
    assert any(e.startswith("broken.py:") for e in scan.errors), scan.errors
    assert scan.scanned >= 6  # app, clean, broken, server.js, install.sh, bootstrap


def test_tree_targets_skip_files_no_rule_applies_to(project: Path) -> None:
    targets = tree_targets(project)
    assert "README.md" not in targets and ".semgrepignore" not in targets
    assert {"app.py", "web/server.js", "scripts/bootstrap"} <= set(targets)


def test_explicit_targets_and_missing_files(project: Path) -> None:
    result = run_semgrep(project, ["scripts/install.sh", "nope.sh"], config=SHELL_RULES)
    assert [(f.rule_id, f.path) for f in result.findings] == [
        ("shell-curl-pipe-to-shell", "scripts/install.sh")
    ]
    assert result.scanned == 1
    assert any(e.startswith("nope.sh:") for e in result.errors)


def test_broken_rule_raises_scanner_error(project: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "rules:\n  - id: python-broken\n    pattern: eval(\n    message: m\n"
        "    languages: [python]\n    severity: ERROR\n"
    )
    with pytest.raises(ScannerError, match="semgrep failed"):
        run_semgrep(project, ["clean.py"], config=broken)


def test_invalid_rule_schema_raises_scanner_error(project: Path, tmp_path: Path) -> None:
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("rules:\n  - id: python-invalid\n    patern: eval(...)\n")
    with pytest.raises(ScannerError):
        run_semgrep(project, ["clean.py"], config=invalid)


def test_timeout_raises_scanner_error(project: Path) -> None:
    with pytest.raises(ScannerError, match="did not finish"):
        run_semgrep(project, ["app.py"], timeout=0.05)


def test_missing_binary_raises_scanner_error(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python3"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ScannerError, match="not installed"):
        run_semgrep(project, ["clean.py"], config=SHELL_RULES)


def test_config_without_rules_raises(tmp_path: Path) -> None:
    (tmp_path / "only-a-test.py").write_text("# ruleid: nothing\n")
    with pytest.raises(ScannerError, match="no semgrep rule files"):
        rule_files(tmp_path)
    with pytest.raises(ScannerError, match="not found"):
        rule_files(tmp_path / "missing")


def test_rule_files_exclude_rule_tests() -> None:
    files = rule_files(rules_dir())
    assert files and all(f.suffix in (".yaml", ".yml") for f in files)
    assert rules_dir() / "python" / "sql-injection.yaml" in files
    assert rules_dir() / "yaml" / "github-actions.yaml" in files
    assert not any(f.name.endswith(".test.yaml") for f in files)


def test_chunks_respect_the_budget() -> None:
    targets = [f"src/module_{i:04d}.py" for i in range(1000)]
    chunks = list(chunked(targets, budget=2_000))
    assert len(chunks) > 1
    assert [t for chunk in chunks for t in chunk] == targets
    assert all(sum(len(t) + 1 for t in chunk) <= 2_000 for chunk in chunks)


def test_command_is_offline_and_ends_options_before_targets() -> None:
    argv = command("semgrep", [Path("/r/a.yaml"), Path("/r/b.yaml")], ["--config", "x.py"])
    assert "--metrics=off" in argv and "--disable-version-check" in argv
    assert "--disable-nosem" in argv
    assert argv[argv.index("--") + 1 :] == ["--config", "x.py"]
    assert argv.count("--config") == 3  # two rule files, plus the oddly named target


def test_to_finding_maps_metadata() -> None:
    source = ["x = 1", "y = " + "a" * 400]

    def read(path: str, first: int, last: int) -> str:
        assert path == "m.py"
        return "\n".join(source[first - 1 : last])

    raw: dict[str, Any] = {
        "check_id": "rules.python.python-weak-hash",
        "path": "./m.py",
        "start": {"line": 2, "col": 5},
        "end": {"line": 2, "col": 9},
        "extra": {
            "severity": "INFO",
            "message": "weak\n  hash",
            "metadata": {
                "cwe": ["CWE-328: Use of Weak Hash", "CWE-328: again"],
                "owasp": "A02:2021 - Cryptographic Failures",
                "category": "no-such-category",
                "confidence": "low",
            },
        },
    }
    finding = to_finding(raw, read, lambda text: text)
    assert finding.rule_id == "python-weak-hash"
    assert finding.path == "m.py"
    assert finding.severity is Severity.LOW
    assert finding.category is Category.OTHER
    assert finding.cwe == ("CWE-328",)
    assert finding.owasp == ("A02:2021",)
    assert finding.message == "weak hash"
    assert len(finding.snippet) == 200 and finding.snippet.startswith("y = aaa")
    assert finding.properties["confidence"] == "low"
    raw["extra"]["metadata"]["selfheal-severity"] = "critical"
    assert to_finding(raw, read, str).severity is Severity.CRITICAL
    raw["extra"]["metadata"]["selfheal-severity"] = "bogus"
    assert to_finding(raw, read, str).severity is Severity.LOW


def test_errors_split_into_fatal_and_per_file() -> None:
    errors: list[dict[str, Any]] = [
        {"type": "Syntax error", "level": "warn", "path": "a.js", "message": "bad\nmore"},
        {"type": ["PartialParsing", []], "level": "warn", "path": "b.py", "message": "x"},
        {"type": "Rule parse error", "level": "error", "rule_id": "r", "message": "boom"},
        {"type": "InvalidRuleSchemaError", "level": "error", "long_msg": "missing message"},
        {"type": "SemgrepError", "level": "error", "message": "Invalid scanning root: x"},
    ]
    fatal, per_file = classify_errors(errors, lambda text: text.replace("bad", "***"))
    assert per_file == ["a.js: Syntax error: ***", "b.py: PartialParsing: x"]
    assert fatal == [
        "Rule parse error: boom",
        "InvalidRuleSchemaError: missing message",
        "SemgrepError: Invalid scanning root: x",
    ]


def test_output_that_is_not_json_is_fatal() -> None:
    with pytest.raises(ScannerError, match="exit 2"):
        parse_output(2, "Traceback ...", "RuntimeError: oops")
    assert parse_output(0, '{"results": []}', "") == {"results": []}


def test_small_target_sets_run_in_one_job_and_large_ones_keep_the_default() -> None:
    small = command("semgrep", [Path("/r/a.yaml")], [f"f{i}.py" for i in range(10)])
    large = command("semgrep", [Path("/r/a.yaml")], [f"f{i}.py" for i in range(500)])
    assert "--jobs=1" in small[: small.index("--")]
    assert not any(arg.startswith("--jobs") for arg in large[: large.index("--")])
