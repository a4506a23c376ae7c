"""Hostile dependency files: every one is a recorded error that fails the gate, never a silent
pass and never a traceback; includes never leave the repository."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from selfheal.model.findings import Category, Severity
from selfheal.scanner.advisories import (
    MAX_MEMBER_BYTES,
    AdvisoryDataError,
    AdvisoryDB,
    bundled_path,
)
from selfheal.scanner.deps import analyse_dependencies, scan_dependencies
from tests.support.hostile import init_repo, run_selfheal


@pytest.fixture(scope="module")
def db() -> AdvisoryDB:
    return AdvisoryDB.load(bundled_path())


def _one(path: str, text: str, db: AdvisoryDB) -> list[tuple[str, int, str]]:
    """(rule, line, message) of the findings for one file with this text."""
    found = scan_dependencies([path], lambda p: text if p == path else None, db)
    return [(f.rule_id, f.line, f.message) for f in found]


@pytest.mark.parametrize(
    ("path", "text", "message"),
    [
        # a version that matches no advisory text was a silent pass (fail open)
        ("poetry.lock", '[[package]]\nname = "requests"\nversion = ["2.0.0"]\n', "['2.0.0']"),
        ("poetry.lock", '[[package]]\nname = "requests"\nversion = "2.0.0 x"\n', "'2.0.0 x'"),
        ("uv.lock", '[[package]]\nname = "requests"\nversion = {a = 1}\n', "{'a': 1}"),
        ("uv.lock", '[[package]]\nname = {a = 1}\nversion = "1.0"\n', "without a name"),
        ("Pipfile.lock", '{"default": {"requests": {"version": "==2.0.0 x"}}}', "'2.0.0 x'"),
        ("poetry.lock", "package = 5\n", "array of tables"),
        ("poetry.lock", "[[package]\n", "invalid TOML"),
        ("Pipfile.lock", "[1, 2]", "expected a JSON object"),
        ("Pipfile.lock", '{"default": ', "invalid JSON"),
        ("pyproject.toml", '[project]\nname = "x"\ndependencies = "requests==2.0"\n', "list"),
        ("pyproject.toml", '[project]\nname = "x"\ndependencies = {requests = 1}\n', "list"),
        ("requirements.txt", "requests==2.0.0 x\n", "cannot parse requirement"),
        ("requirements.txt", "-r ../../../../etc/passwd\n", "outside the repository"),
        ("requirements.txt", "-c /etc/passwd\n", "outside the repository"),
        ("requirements.txt", "-r https://evil.example/r.txt\n", "outside the repository"),
    ],
    ids=[
        "lock-version-list",
        "lock-version-garbage",
        "uv-version-table",
        "uv-name-table",
        "pipfile-version-garbage",
        "lock-package-int",
        "lock-bad-toml",
        "pipfile-array",
        "pipfile-truncated",
        "pyproject-deps-string",
        "pyproject-deps-table",
        "requirement-garbage",
        "include-escapes",
        "constraint-absolute",
        "include-url",
    ],
)
def test_malformed_dependency_files_are_high_errors(
    path: str, text: str, message: str, db: AdvisoryDB
) -> None:
    findings = scan_dependencies([path], lambda p: text if p == path else None, db)
    errors = [f for f in findings if f.category is Category.SCANNER_ERROR]
    assert errors, findings
    assert all(f.severity is Severity.HIGH for f in errors)
    assert any(message in f.message for f in errors), [f.message for f in errors]


def test_well_formed_lock_versions_still_match(db: AdvisoryDB) -> None:
    lock = '[[package]]\nname = "requests"\nversion = "2.0.0"\n'
    rules = {rule for rule, _, _ in _one("poetry.lock", lock, db)}
    assert rules == {"dependency-vulnerable"}
    pipfile = '{"default": {"requests": {"version": "==2.0.0"}}}'
    assert {rule for rule, _, _ in _one("Pipfile.lock", pipfile, db)} == {"dependency-vulnerable"}


def test_include_cycle_terminates_and_checks_each_file_once(db: AdvisoryDB) -> None:
    files = {
        "requirements.txt": "-r dev.txt\nrequests==2.0.0\n",
        "dev.txt": "-r requirements.txt\n-c requirements.txt\n",
    }
    result = analyse_dependencies(["requirements.txt"], files.get, db)
    vulnerable = [f for f in result.findings if f.rule_id == "dependency-vulnerable"]
    assert vulnerable and {f.path for f in vulnerable} == {"requirements.txt"}
    assert len({f.properties["advisory"] for f in vulnerable}) == len(vulnerable)


def test_scan_cli_records_hostile_dependency_files_and_reads_nothing_outside(
    tmp_path: Path,
) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    outside = tmp_path / "outside.txt"
    outside.write_text("requests==2.0.0\n# OUTSIDE-MARKER\n")
    (tree / "requirements.txt").write_text("-r requirements.txt\n")
    (tree / "sub" / "requirements.txt").write_text("-r ../../outside.txt\n")
    (tree / "requirements-dev.txt").symlink_to(outside)
    (tree / "poetry.lock").write_text('[[package]]\nname = "requests"\nversion = "2.0 x"\n')
    (tree / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = "requests"\n')
    done = run_selfheal("scan", str(tree), "--no-progress", "--format", "json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "OUTSIDE-MARKER" not in done.stdout
    report = json.loads(done.stdout)
    errors = {(f["path"], f["rule_id"]) for f in report["findings"]}
    assert ("sub/requirements.txt", "dependency-file-error") in errors
    assert ("poetry.lock", "dependency-file-error") in errors
    assert ("pyproject.toml", "dependency-file-error") in errors
    assert not any(f["rule_id"] == "dependency-vulnerable" for f in report["findings"])
    assert {"path": "requirements-dev.txt", "reason": "symlink pointing outside the tree"} in (
        report["skipped"]
    )


@pytest.mark.parametrize("kind", ["empty-folder", "folder-of-other-json"])
def test_advisory_data_without_advisories_fails_closed(tmp_path: Path, kind: str) -> None:
    """An empty or foreign --advisories folder used to load as a database with no advisories,
    so every pinned vulnerable dependency passed."""
    advisories = tmp_path / "osv"
    advisories.mkdir()
    if kind == "folder-of-other-json":
        (advisories / "npm.json").write_text(
            json.dumps({"id": "GHSA-x", "modified": "2024-01-01T00:00:00Z", "affected": []})
        )
    with pytest.raises(AdvisoryDataError, match="no PyPI advisories found"):
        AdvisoryDB.load(advisories)
    repo = init_repo(tmp_path / "repo")
    diff = tmp_path / "req.diff"
    diff.write_text(
        "diff --git a/requirements.txt b/requirements.txt\nnew file mode 100644\n"
        "--- /dev/null\n+++ b/requirements.txt\n@@ -0,0 +1 @@\n+requests==2.0.0\n"
    )
    done = run_selfheal(
        "review", "--repo", str(repo), "--diff", str(diff), "--scanners", "dependencies",
        "--advisories", str(advisories), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1 and "Decision: block" in done.stdout
    assert "no PyPI advisories found" in done.stdout


def test_a_zip_bomb_of_advisories_is_refused_without_inflating_it(tmp_path: Path) -> None:
    bomb = tmp_path / "osv.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("PYSEC-0000-1.json", b" " * (MAX_MEMBER_BYTES + 1024))
    assert bomb.stat().st_size < 1024 * 1024
    with pytest.raises(AdvisoryDataError, match="larger than"):
        AdvisoryDB.load(bomb)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "requirements.txt").write_text("requests==2.0.0\n")
    done = run_selfheal("scan", str(tree), "--no-progress", "--advisories", str(bomb), cwd=tmp_path)
    assert done.returncode == 2 and "cannot load advisories" in done.stderr
    assert "Traceback" not in done.stderr
