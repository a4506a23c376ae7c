"""osemgrep versus pysemgrep: the same findings, and osemgrep is safe to run for the gate.

Parity runs each engine ONCE (session fixture) over a copy of the rule test corpus (every
non-rule file in rules/) plus the semgrep fixture project, with all bundled rules, and compares
what they report. The other tests use one small rule and one or two files each.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import stat
import sys
from pathlib import Path

import pygit2
import pytest

from selfheal.resources import rules_dir
from selfheal.scanner import ScannerError
from selfheal.scanner.semgrep import (
    RULE_SUFFIXES,
    SemgrepResult,
    command,
    find_semgrep,
    rule_files,
    run_semgrep,
    semgrep_environment,
)
from selfheal.scanner.semgrep_engine import (
    ENGINE_VARIABLE,
    OSEMGREP,
    PYSEMGREP,
    alias_free_config,
    choose_engine,
)
from tests.support import paths
from tests.support.rules import MIN_RULE_FILES

FIXTURE = paths.FIXTURES / "semgrep" / "project"
# A rule written the way our shared-block rules are: an anchor, then an alias to it.
ALIASED_RULE = """\
rules:
  - id: python-first
    languages: [python]
    severity: ERROR
    message: first
    pattern-either: &calls
      - pattern: os.system(...)
      - pattern: os.popen(...)
  - id: python-second
    languages: [python]
    severity: WARNING
    message: second
    pattern-either: *calls
"""
VULNERABLE = "import os\n\n\ndef run(cmd):\n    os.system(cmd)\n"


def _corpus_files() -> list[Path]:
    """The rule test files: everything in rules/ that is not itself a rule file."""
    root = rules_dir()
    files = sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and (path.suffix not in RULE_SUFFIXES or path.name.endswith((".test.yaml", ".test.yml")))
    )
    # Every rule file has at least one test file: fewer means rules/ was not found.
    assert len(files) >= MIN_RULE_FILES, f"only {len(files)} rule test files under {root}"
    return files


@pytest.fixture(scope="session")
def parity_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("engine-parity")
    for path in _corpus_files():
        copy = root / "corpus" / path.relative_to(rules_dir())
        if copy.suffix == ".workflow":  # semgrep picks YAML for explicit targets by suffix
            copy = copy.with_name(copy.name + ".yml")
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, copy)
    shutil.copytree(FIXTURE, root / "project")
    targets = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.name not in (".semgrepignore", "README.md")
    )
    return root, targets


@pytest.fixture(scope="session")
def both(parity_root: tuple[Path, list[str]]) -> dict[str, SemgrepResult]:
    root, targets = parity_root
    return {
        engine: run_semgrep(root, targets, config=rules_dir(), engine=engine)
        for engine in (PYSEMGREP, OSEMGREP)
    }


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- parity ----------------------------------------------------------------------------


def test_both_engines_report_the_same_findings(both: dict[str, SemgrepResult]) -> None:
    py, os_ = both[PYSEMGREP], both[OSEMGREP]
    assert (py.engine, os_.engine) == (PYSEMGREP, OSEMGREP)
    found = {name: {(f.rule_id, f.path, f.line) for f in r.findings} for name, r in both.items()}
    assert found[OSEMGREP] - found[PYSEMGREP] == set()
    assert found[PYSEMGREP] - found[OSEMGREP] == set()
    assert len(os_.findings) == len(py.findings)
    # Not only the keys: every field of every finding (ids normalised, same severity, span).
    assert sorted(os_.findings, key=repr) == sorted(py.findings, key=repr)


def test_parity_covers_every_rule_and_both_trees(both: dict[str, SemgrepResult]) -> None:
    from tests.support.rules import all_rules

    result = both[OSEMGREP]
    fired = {f.rule_id for f in result.findings}
    assert fired == {rule["id"] for _, rule in all_rules()}  # every rule has a ruleid: line
    assert all("." not in f.rule_id for f in result.findings)  # no config-path prefixes
    assert {f.path.split("/", 1)[0] for f in result.findings} == {"corpus", "project"}
    assert ("python-sql-injection", "project/app.py", 16) in {
        (f.rule_id, f.path, f.line) for f in result.findings
    }


def test_both_engines_scan_the_same_files_with_the_same_errors(
    both: dict[str, SemgrepResult], parity_root: tuple[Path, list[str]]
) -> None:
    _, targets = parity_root
    py, os_ = both[PYSEMGREP], both[OSEMGREP]
    assert os_.scanned == py.scanned == len(targets)
    assert os_.errors == py.errors
    assert any(e.startswith("project/broken.py: PartialParsing") for e in os_.errors)


# --- explicit targets outside git's view ----------------------------------------------


def test_osemgrep_scans_explicit_targets_outside_a_git_repository(tmp_path: Path) -> None:
    rules = _write(tmp_path / "rules" / "aliased.yaml", ALIASED_RULE)
    project = tmp_path / "plain"
    _write(project / "a.py", VULNERABLE)
    _write(project / "sub" / "b.py", VULNERABLE)
    result = run_semgrep(project, ["a.py", "sub/b.py"], config=rules, engine=OSEMGREP)
    assert result.engine == OSEMGREP and result.scanned == 2
    assert sorted((f.rule_id, f.path, f.line) for f in result.findings) == [
        ("python-first", "a.py", 5),
        ("python-first", "sub/b.py", 5),
        ("python-second", "a.py", 5),
        ("python-second", "sub/b.py", 5),
    ]


def test_osemgrep_scans_untracked_and_ignored_files_in_a_git_repository(
    tmp_path: Path,
) -> None:
    rules = _write(tmp_path / "rules" / "aliased.yaml", ALIASED_RULE)
    project = tmp_path / "repo"
    repo = pygit2.init_repository(str(project), initial_head="main")
    _write(project / "tracked.py", VULNERABLE)
    _write(project / ".gitignore", "ignored.py\n")
    _write(project / ".semgrepignore", "hidden/\n")
    repo.index.add("tracked.py")
    repo.index.add(".gitignore")
    repo.index.write()
    author = pygit2.Signature("t", "t@example.com")
    repo.create_commit("HEAD", author, author, "init", repo.index.write_tree(), [])
    _write(project / "untracked.py", VULNERABLE)
    _write(project / "ignored.py", VULNERABLE)
    _write(project / "hidden" / "deep.py", VULNERABLE)
    assert repo.status_file("untracked.py") & pygit2.enums.FileStatus.WT_NEW

    targets = ["tracked.py", "untracked.py", "ignored.py", "hidden/deep.py"]
    result = run_semgrep(project, targets, config=rules, engine=OSEMGREP)
    assert result.scanned == 4
    assert {f.path for f in result.findings if f.rule_id == "python-first"} == set(targets)


# --- engine choice and fallback ------------------------------------------------------


def _semgrep_without_osemgrep(folder: Path) -> Path:
    """A `semgrep` like an installation lacking semgrep-core: `--experimental` exits 2 with
    the entry point's own message; everything else runs the real semgrep (pysemgrep)."""
    script = folder / "semgrep"
    script.write_text(
        f"#!{sys.executable}\nimport os, sys\n"
        "if '--experimental' in sys.argv:\n"
        "    sys.exit('Failed to find semgrep-core in PATH or in the semgrep package.')\n"
        f"os.execv({find_semgrep()!r}, [{find_semgrep()!r}, *sys.argv[1:]])\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_engine_comes_from_argument_then_setting_then_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = find_semgrep()
    monkeypatch.setenv(ENGINE_VARIABLE, "pysemgrep")  # the scanner never reads it itself
    assert choose_engine(None, real, semgrep_environment()) == OSEMGREP
    assert choose_engine(None, real, semgrep_environment(), preferred=" PySemgrep ") == PYSEMGREP
    assert choose_engine(OSEMGREP, real, semgrep_environment(), preferred=PYSEMGREP) == OSEMGREP
    with pytest.raises(ScannerError, match="unknown semgrep engine 'fastgrep'"):
        choose_engine(None, real, semgrep_environment(), preferred="fastgrep")


def test_missing_osemgrep_falls_back_with_a_warning_unless_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = _semgrep_without_osemgrep(tmp_path)
    monkeypatch.delenv(ENGINE_VARIABLE, raising=False)
    with caplog.at_level(logging.WARNING, logger="selfheal.scanner.semgrep_engine"):
        assert choose_engine(None, str(fake), semgrep_environment()) == PYSEMGREP
    assert "osemgrep is not available" in caplog.text
    with pytest.raises(ScannerError, match="osemgrep"):
        choose_engine(OSEMGREP, str(fake), semgrep_environment())

    # End to end: run_semgrep finds that `semgrep` next to the interpreter and still scans.
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python3"))
    project = tmp_path / "project"
    _write(project / "a.py", VULNERABLE)
    rules = _write(tmp_path / "rules" / "aliased.yaml", ALIASED_RULE)
    result = run_semgrep(project, ["a.py"], config=rules)
    assert result.engine == PYSEMGREP
    assert sorted(f.rule_id for f in result.findings) == ["python-first", "python-second"]


def test_scan_errors_under_osemgrep_raise_instead_of_falling_back(tmp_path: Path) -> None:
    broken = _write(
        tmp_path / "broken.yaml",
        "rules:\n  - id: python-broken\n    pattern: os.system(\n    message: m\n"
        "    languages: [python]\n    severity: ERROR\n",
    )
    _write(tmp_path / "p" / "a.py", VULNERABLE)
    with pytest.raises(ScannerError, match="semgrep failed"):
        run_semgrep(tmp_path / "p", ["a.py"], config=broken, engine=OSEMGREP)


def test_osemgrep_command_keeps_the_offline_flags() -> None:
    argv = command("semgrep", [Path("/r/a.json")], ["x.py"], OSEMGREP)
    assert argv[:3] == ["semgrep", "scan", "--experimental"]
    for flag in ("--metrics=off", "--disable-version-check", "--disable-nosem"):
        assert flag in argv
    assert argv[argv.index("--") + 1 :] == ["x.py"]
    assert "--experimental" not in command("semgrep", [Path("/r/a.yaml")], ["x.py"])
    assert semgrep_environment()["SEMGREP_ENABLE_VERSION_CHECK"] == "0"


# --- the alias-free config -------------------------------------------------------------


@pytest.mark.parametrize("engine", [PYSEMGREP, OSEMGREP])
def test_both_engines_get_one_packed_config(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import selfheal.scanner.semgrep as semgrep

    rules = tmp_path / "rules"
    _write(rules / "a.yaml", ALIASED_RULE)
    _write(rules / "b.yaml", ALIASED_RULE.replace("python-", "other-"))
    _write(tmp_path / "p" / "a.py", VULNERABLE)
    calls: list[list[str]] = []

    def execute(argv: list[str], root: Path, timeout: float) -> tuple[int, str, str]:
        calls.append(argv)
        return 0, '{"results": [], "errors": [], "paths": {"scanned": ["a.py"]}}', ""

    monkeypatch.setattr(semgrep, "execute_semgrep", execute)
    run_semgrep(tmp_path / "p", ["a.py"], config=rules, engine=engine)
    (argv,) = calls
    assert argv.count("--config") == 1
    packed = Path(argv[argv.index("--config") + 1])
    assert packed == alias_free_config(rule_files(rules))
    assert [r["id"] for r in json.loads(packed.read_text())["rules"]] == [
        "python-first",
        "python-second",
        "other-first",
        "other-second",
    ]


def test_a_rule_folder_is_packed_without_its_test_files(tmp_path: Path) -> None:
    rule = (
        "rules:\n  - id: {id}\n    pattern: {pattern}\n    message: m\n"
        "    languages: [python]\n    severity: ERROR\n"
    )
    _write(tmp_path / "python" / "a.yaml", rule.format(id="rule-a", pattern="eval(...)"))
    _write(tmp_path / "python" / "a.py", "eval(x)  # a rule test file, not a rule\n")
    _write(tmp_path / "python" / "w.test.yaml", "on: push  # a YAML rule test target\n")
    _write(tmp_path / "b.yml", rule.format(id="rule-b", pattern="exec(...)"))
    _write(tmp_path / ".hidden" / "c.yaml", "not: rules\n")
    packed = alias_free_config(rule_files(tmp_path))
    assert [r["id"] for r in json.loads(packed.read_text())["rules"]] == ["rule-b", "rule-a"]


def test_alias_free_config_resolves_aliases_and_is_cached(tmp_path: Path) -> None:
    rule = _write(tmp_path / "r" / "aliased.yaml", ALIASED_RULE)
    built = alias_free_config([rule])
    assert built.suffix == ".json" and built.parent != rule.parent
    assert stat.S_IMODE(built.parent.stat().st_mode) == 0o700
    rules = json.loads(built.read_text())["rules"]
    assert [r["id"] for r in rules] == ["python-first", "python-second"]
    assert rules[1]["pattern-either"] == [
        {"pattern": "os.system(...)"},
        {"pattern": "os.popen(...)"},
    ]
    assert alias_free_config([rule]) == built  # same content: built once
    os.utime(rule, ns=(1, 1))
    assert alias_free_config([rule]) == built  # only content counts, not mtimes
    rule.write_text(ALIASED_RULE.replace("os.popen", "os.execv"))
    changed = alias_free_config([rule])
    assert changed != built and "os.execv" in changed.read_text()


def test_alias_free_config_refuses_what_is_not_a_rule_file(tmp_path: Path) -> None:
    broken = _write(tmp_path / "broken.yaml", "rules: [\n")
    with pytest.raises(ScannerError, match="not valid YAML"):
        alias_free_config([broken])
    other = _write(tmp_path / "other.yaml", "not: rules\n")
    with pytest.raises(ScannerError, match="no top-level `rules` list"):
        alias_free_config([other])
    with pytest.raises(ScannerError, match="cannot read"):
        alias_free_config([tmp_path / "missing.yaml"])
