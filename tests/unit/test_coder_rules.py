"""The ``rules`` coder on real work trees (pygit2), with real semgrep and the bundled advisory
data, through the runner the lifecycle and ``selfheal code`` use."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.coder.autofix import Fix, apply_fixes, plan_file, semgrep_fixes, still_compiles
from selfheal.coder.interface import BackendOptions, CodeTask, Limit, Limits, Outcome
from selfheal.coder.rules import RulesCoder
from selfheal.coder.runner import CodingRun, run_coder
from selfheal.model.findings import Finding
from selfheal.model.policy import load_default_policy, load_effective_policy
from selfheal.resources import rules_dir
from selfheal.scanner.engine import ScanOptions
from selfheal.scanner.semgrep_engine import OSEMGREP, PYSEMGREP
from tests.support.coder import FIXED_CODE, VULNERABLE_CODE, make_worktree

DEFAULTS = load_default_policy()
POLICY = load_effective_policy("/billing/ protected\n", defaults=DEFAULTS)


def run(root: Path, task: CodeTask, **kwargs: object) -> CodingRun:
    coder = RulesCoder(BackendOptions())
    return run_coder(coder, root, task, Limits(), policy=POLICY, defaults=DEFAULTS, **kwargs)  # type: ignore[arg-type]


def rule_ids(findings: list[Finding]) -> list[str]:
    return sorted(f.rule_id for f in findings)


# -- autofixes -----------------------------------------------------------------------------------


def test_autofixes_apply_in_writable_files_and_nowhere_else(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    make_worktree(
        root,
        {
            "app/conf.py": VULNERABLE_CODE,
            "billing/charge.py": VULNERABLE_CODE,  # protected by the repository's policy
            "build/generated.py": VULNERABLE_CODE,  # gitignored
            ".gitignore": "build/\n",
        },
    )
    coding = run(root, CodeTask("1", "fix what you can", "security"))
    result = coding.result
    assert result.outcome is Outcome.CHANGED
    assert result.files_changed == ("app/conf.py",)
    assert (root / "app/conf.py").read_text() == FIXED_CODE
    assert (root / "billing/charge.py").read_text() == VULNERABLE_CODE
    assert (root / "build/generated.py").read_text() == VULNERABLE_CODE
    assert result.summary.startswith("applied 3 autofixes in 1 file (")
    assert (result.cost_usd, result.cost_metered) == (0.0, True)
    fixed = [f for f in coding.fixed() if f.path == "app/conf.py"]
    assert rule_ids(fixed) == [
        "python-shell-true-with-list",
        "python-tls-verification-disabled",
        "python-yaml-unsafe-load",
    ]
    # session.verify = False has no mechanical fix: it is still reported after the run.
    left = [f for f in coding.after.findings if f.path == "app/conf.py"] if coding.after else []
    assert [(f.rule_id, f.snippet) for f in left] == [
        ("python-tls-verification-disabled", "session.verify = False")
    ]
    assert coding.introduced() == []


def test_a_task_from_a_scan_fixes_only_its_findings(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    make_worktree(root, {"app/conf.py": VULNERABLE_CODE})
    first = run(root, CodeTask("2", "", "security", ("app/conf.py",)), scan=True)
    assert first.before is not None
    (yaml_finding,) = [f for f in first.before.findings if f.rule_id == "python-yaml-unsafe-load"]
    (root / "app/conf.py").write_text(VULNERABLE_CODE)  # back to the start
    task = CodeTask("3", "", "security", ("app/conf.py",), findings=(yaml_finding,))
    coding = run(root, task, scan=False)
    assert coding.result.outcome is Outcome.CHANGED
    text = (root / "app/conf.py").read_text()
    assert "yaml.safe_load(text)" in text
    assert "verify=False" in text and "shell=True" in text  # not in the task: untouched


# -- dependencies --------------------------------------------------------------------------------

DEP_FILES = {
    "requirements.txt": "# pinned\nrequests==2.19.0  # http\n",
    "pyproject.toml": '[project]\nname = "demo"\ndependencies = ["jinja2==2.10"]\n',
    "poetry/pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.11"\npyyaml = "5.3"\n',
    "poetry/poetry.lock": (
        '[[package]]\nname = "pyyaml"\nversion = "5.3"\noptional = false\n'
        'python-versions = "*"\n'
        'files = [\n    {file = "PyYAML-5.3.tar.gz", hash = "sha256:00"},\n]\n'
    ),
    "uv/uv.lock": (
        'version = 1\n\n[[package]]\nname = "jinja2"\nversion = "2.10"\n'
        'source = { registry = "https://pypi.org/simple" }\n'
        'sdist = { url = "https://example.invalid/Jinja2-2.10.tar.gz", hash = "sha256:00" }\n'
    ),
    "pipenv/Pipfile.lock": (
        '{\n    "_meta": {},\n    "default": {\n        "requests": {\n'
        '            "hashes": ["sha256:00"],\n            "version": "==2.19.0"\n'
        "        }\n    }\n}\n"
    ),
}


def test_bumps_a_vulnerable_pin_in_every_supported_format(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    make_worktree(root, DEP_FILES)
    coding = run(root, CodeTask("4", "bump what is vulnerable", "dependency"))
    assert coding.result.outcome is Outcome.CHANGED
    assert sorted(coding.result.files_changed) == sorted(DEP_FILES)
    assert (root / "requirements.txt").read_text() == "# pinned\nrequests==2.31.0  # http\n"
    assert '"jinja2==2.11.3"' in (root / "pyproject.toml").read_text()
    assert 'pyyaml = "5.4"' in (root / "poetry/pyproject.toml").read_text()
    lock = (root / "poetry/poetry.lock").read_text()
    assert 'version = "5.4"' in lock and "files = []" in lock and "sha256" not in lock
    uv = (root / "uv/uv.lock").read_text()
    assert 'version = "2.11.3"' in uv and "sdist" not in uv
    assert '"version": "==2.31.0"' in (root / "pipenv/Pipfile.lock").read_text()
    assert coding.before is not None and coding.after is not None
    before = {f.path for f in coding.before.findings if f.rule_id == "dependency-vulnerable"}
    assert before == set(DEP_FILES)
    assert [f for f in coding.after.findings if f.rule_id == "dependency-vulnerable"] == []
    assert any("poetry lock --no-update" in note for note in coding.result.notes)


def test_a_dependency_task_leaves_code_alone(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    make_worktree(root, {"app/conf.py": VULNERABLE_CODE, "requirements.txt": "jinja2==2.10\n"})
    coding = run(root, CodeTask("5", "", "dependency"), scan=False)
    assert coding.result.files_changed == ("requirements.txt",)
    assert (root / "app/conf.py").read_text() == VULNERABLE_CODE


# -- refusals, nothing to do, limits -------------------------------------------------------------


@pytest.mark.parametrize("change_type", ["feature", "fix-bug", "refactor", "self-improvement"])
def test_refuses_a_task_it_cannot_do_deterministically(tmp_path: Path, change_type: str) -> None:
    root = tmp_path / "repo"
    make_worktree(root, {"app/conf.py": VULNERABLE_CODE})
    coding = run(root, CodeTask("6", "add a login page", change_type))
    assert coding.result.outcome is Outcome.REFUSED
    assert f"a {change_type!r} request needs a model-backed coder" in coding.result.reason
    assert coding.before is None  # refused before anything was scanned
    assert (root / "app/conf.py").read_text() == VULNERABLE_CODE


def test_refuses_findings_without_a_mechanical_fix(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    code = "import os\n\n\ndef run(cmd):\n    os.system(cmd)\n"
    make_worktree(root, {"app/run.py": code, "requirements.txt": "flask>=0.12,<0.12.3\n"})
    coding = run(root, CodeTask("7", "", "security"), scan=False)
    assert coding.result.outcome is Outcome.REFUSED
    assert "can be fixed mechanically" in coding.result.reason
    assert any("flask" in note and "excludes" in note for note in coding.result.notes)
    assert coding.result.files_changed == ()


def test_nothing_to_do_on_a_clean_tree(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    make_worktree(root, {"app/ok.py": "import yaml\n\nyaml.safe_load('a: 1')\n"})
    coding = run(root, CodeTask("8", "", "security"), scan=False)
    assert coding.result.outcome is Outcome.NOTHING_TO_DO
    assert coding.result.files_changed == ()


def test_a_halt_stops_the_run(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    make_worktree(root, {"app/conf.py": VULNERABLE_CODE})
    coding = run(root, CodeTask("9", "", "security"), scan=False, halted=lambda: True)
    assert coding.result.outcome is Outcome.LIMIT_REACHED and coding.result.limit is Limit.HALT
    assert (root / "app/conf.py").read_text() == VULNERABLE_CODE


def test_the_wall_clock_limit_stops_between_steps(tmp_path: Path) -> None:
    """The clock passes the deadline after the autofix step: the dependency step never runs,
    and what was already done is reported as changed."""
    root = tmp_path / "repo"
    make_worktree(root, {"app/conf.py": VULNERABLE_CODE, "requirements.txt": "jinja2==2.10\n"})
    conf = root / "app/conf.py"

    def clock() -> float:  # time runs out once the autofixes are on disk
        return 1e9 if conf.read_text() != VULNERABLE_CODE else 0.0

    coding = run(root, CodeTask("10", "", "security"), scan=False, clock=clock)
    assert coding.result.outcome is Outcome.LIMIT_REACHED and coding.result.limit is Limit.TIME
    assert coding.result.files_changed == ("app/conf.py",)
    assert (root / "requirements.txt").read_text() == "jinja2==2.10\n"


# -- applying fixes ------------------------------------------------------------------------------


def fix(start: int, end: int, text: str, rule: str = "r") -> Fix:
    return Fix("a.py", rule, 1, start, end, text)


def test_fixes_apply_by_byte_offset_and_overlaps_wait() -> None:
    data = "é = yaml.load(x)\n".encode()
    start = data.index(b"yaml")
    whole = fix(start, start + len(b"yaml.load(x)"), "yaml.safe_load(x)")
    inner = fix(start + 5, start + 9, "safe_load", rule="other")
    noop = fix(0, 2, "é")
    chosen, later = plan_file(data, [inner, whole, noop])
    assert chosen == [whole] and later == [inner]
    assert apply_fixes(data, chosen) == "é = yaml.safe_load(x)\n".encode()


def test_a_fix_that_breaks_python_is_caught() -> None:
    assert still_compiles("a.py", b"x = 1\n", b"x = (\n") is False
    assert still_compiles("a.py", b"x = (\n", b"x = ((\n") is True  # was broken already
    assert still_compiles("a.js", b"x", b"(") is True


def test_both_engines_compute_the_same_fixes() -> None:
    """The fixes come from semgrep's JSON; osemgrep (the default) and pysemgrep agree on every
    fixed rule's test file."""
    root = rules_dir() / "python"
    targets = ["crypto.py", "deserialization.py", "command-injection.py"]
    found = {
        engine: sorted(
            semgrep_fixes(root, targets, ScanOptions(semgrep_engine=engine), 300)[0], key=repr
        )
        for engine in (OSEMGREP, PYSEMGREP)
    }
    assert found[OSEMGREP] == found[PYSEMGREP]
    assert {f.rule_id for f in found[OSEMGREP]} >= {
        "python-yaml-unsafe-load",
        "python-tls-verification-disabled",
        "python-shell-true-with-list",
    }
