"""Dependency files -> findings, against the real bundled PyPA snapshot and small OSV fixtures."""

from __future__ import annotations

import importlib.util
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from selfheal.model.findings import Category, Finding, Severity, Source
from selfheal.scanner import ScannerError
from selfheal.scanner.advisories import AdvisoryDB, bundled_path
from selfheal.scanner.depfiles import is_dependency_file, parse_requirements
from selfheal.scanner.deps import analyse_dependencies, scan_dependencies
from selfheal.scanner.safety_source import probe_address, probe_network, scan_with_safety
from selfheal.scanner.versions import cvss3_base_score, poetry_to_pep440
from tests.support import paths

FIXTURES = paths.FIXTURES / "deps"


@pytest.fixture(scope="module")
def db() -> AdvisoryDB:
    return AdvisoryDB.load(bundled_path())


@pytest.fixture(scope="module")
def test_db() -> AdvisoryDB:
    return AdvisoryDB.load(FIXTURES / "osv")


def reader(root: Path) -> Callable[[str], str | None]:
    def read(path: str) -> str | None:
        target = root / path
        return target.read_text("utf-8") if target.is_file() else None

    return read


def hits(findings: list[Finding]) -> set[tuple[str, int, str, str]]:
    return {
        (f.path, f.line, f.properties["package"], f.properties["advisory"])
        for f in findings
        if f.rule_id == "dependency-vulnerable"
    }


def unverified(findings: list[Finding]) -> set[tuple[str, int, str]]:
    return {
        (f.path, f.line, f.properties["package"])
        for f in findings
        if f.rule_id == "dependency-unverified" and f.severity is Severity.INFO
    }


def test_requirements_with_includes_constraints_and_cycle(db: AdvisoryDB) -> None:
    result = analyse_dependencies(["requirements.txt"], reader(FIXTURES / "requirements"), db)
    assert result.errors == []
    assert hits(result.findings) == {
        ("requirements.txt", 6, "jinja2", "PYSEC-2019-217"),
        ("requirements.txt", 6, "jinja2", "PYSEC-2021-66"),
        ("requirements.txt", 8, "requests", "PYSEC-2018-28"),
        ("requirements.txt", 8, "requests", "PYSEC-2023-74"),
        ("requirements.txt", 10, "django", "PYSEC-2024-47"),
        ("base.txt", 3, "flask", "PYSEC-2023-62"),
        ("common/extra.txt", 2, "pyyaml", "PYSEC-2020-96"),
        ("common/extra.txt", 2, "pyyaml", "PYSEC-2021-142"),
        ("constraints.txt", 1, "cryptography", "PYSEC-2021-62"),
        ("constraints.txt", 1, "cryptography", "PYSEC-2021-63"),
        ("constraints.txt", 1, "cryptography", "PYSEC-2023-11"),
        ("constraints.txt", 1, "cryptography", "PYSEC-2023-254"),
    }
    unknown = {(d.line, d.name, d.unknown) for d in result.unknown}
    assert unknown == {
        (13, "example-tool", "editable install from a URL or VCS requirement"),
        (14, "https://example.com/packages/thing-1.0.tar.gz", "URL or VCS requirement"),
        (15, "./local/package", "local path"),
    }
    # code fetched from a URL or VCS is reported (info); a local path is the project's own
    assert unverified(result.findings) == {
        ("requirements.txt", 13, "example-tool"),
        ("requirements.txt", 14, "https://example.com/packages/thing-1.0.tar.gz"),
    }


def test_known_vulnerable_pin_names_advisory_aliases_and_fix(db: AdvisoryDB) -> None:
    text = "jinja2==2.10\n"
    findings = scan_dependencies(["requirements.txt"], {"requirements.txt": text}.get, db)
    finding = next(f for f in findings if f.properties["advisory"] == "PYSEC-2019-217")
    assert finding.rule_id == "dependency-vulnerable"
    assert finding.category is Category.DEPENDENCY and finding.source is Source.DEPENDENCIES
    assert finding.severity is Severity.HIGH  # no CVSS data in this advisory
    assert finding.cwe == ("CWE-1395",) and finding.owasp == ("A06:2021",)
    assert (finding.path, finding.line, finding.snippet) == ("requirements.txt", 1, "jinja2==2.10")
    assert finding.properties["aliases"] == ["CVE-2019-10906", "GHSA-462w-v97r-4m45"]
    assert finding.properties["version"] == "2.10"
    assert finding.properties["fixed"] == ["2.10.1"]
    for part in ("PYSEC-2019-217", "CVE-2019-10906", "GHSA-462w-v97r-4m45", "2.10", "2.10.1"):
        assert part in finding.message
    assert "snapshot 2024-10-10" in finding.properties["advisory_data"]
    assert len({f.fingerprint for f in findings}) == len(findings) == 2


def test_fixed_and_unaffected_pins_are_clean(db: AdvisoryDB) -> None:
    text = "jinja2==3.1.4\nrequests==2.32.3\nattrs==23.2.0\nnot-on-pypi-xyz==0.1\n"
    assert scan_dependencies(["requirements.txt"], {"requirements.txt": text}.get, db) == []


def test_requirements_syntax_details() -> None:
    text = (FIXTURES / "requirements" / "requirements.txt").read_text()
    deps, includes = parse_requirements("requirements.txt", text)
    by_name = {d.name: d for d in deps}
    assert by_name["jinja2"].lines == frozenset({6, 7}) and by_name["jinja2"].pinned == "2.10"
    assert by_name["requests"].marker == 'python_version >= "3.6"'
    assert by_name["requests"].pinned == "2.19.0"
    assert by_name["certifi"].alternatives == () and by_name["certifi"].pinned is None
    assert [(i.kind, i.target, i.line) for i in includes] == [
        ("requirement", "base.txt", 3),
        ("constraint", "constraints.txt", 4),
    ]


def test_include_cycle_terminates(test_db: AdvisoryDB) -> None:
    files = {
        "requirements.txt": "-r a.txt\n",
        "a.txt": "-r b.txt\ndemo-pkg==1.2\n",
        "b.txt": "-r a.txt\n-r ./a.txt\n-r x/../requirements.txt\nother-pkg==1\n",
    }
    result = analyse_dependencies(["requirements.txt"], files.get, test_db)
    assert result.errors == []
    assert hits(result.findings) == {
        ("a.txt", 2, "demo-pkg", "PYSEC-0000-1"),
        ("b.txt", 4, "other-pkg", "GHSA-dddd-eeee-ffff"),
    }


def test_bad_includes_are_errors_and_scan_continues(db: AdvisoryDB) -> None:
    root = FIXTURES / "requirements"
    findings = scan_dependencies(["requirements-escape.txt"], reader(root), db)
    errors = sorted((f.line, f.message) for f in findings if f.category is Category.SCANNER_ERROR)
    assert [line for line, _ in errors] == [1, 2, 3]
    assert "outside the repository" in errors[0][1] and "/etc/passwd" not in errors[0][1][:40]
    assert "not found" in errors[1][1]
    assert "outside the repository" in errors[2][1]
    assert all(f.source is Source.DEPENDENCIES for f in findings)


def test_pep621_pyproject(db: AdvisoryDB) -> None:
    result = analyse_dependencies(["pyproject.toml"], reader(FIXTURES / "pep621"), db)
    assert result.errors == []
    assert hits(result.findings) == {
        ("pyproject.toml", 9, "requests", "PYSEC-2018-28"),
        ("pyproject.toml", 9, "requests", "PYSEC-2023-74"),
        ("pyproject.toml", 11, "jinja2", "PYSEC-2019-217"),
        ("pyproject.toml", 11, "jinja2", "PYSEC-2021-66"),
        ("pyproject.toml", 15, "pyyaml", "PYSEC-2020-96"),
        ("pyproject.toml", 15, "pyyaml", "PYSEC-2021-142"),
        ("pyproject.toml", 21, "pillow", "PYSEC-2022-168"),
        ("pyproject.toml", 21, "pillow", "PYSEC-2022-42979"),
        ("pyproject.toml", 21, "pillow", "PYSEC-2023-175"),
        ("pyproject.toml", 21, "pillow", "PYSEC-2023-227"),
    }
    ranged = next(f for f in result.findings if f.properties["package"] == "jinja2")
    assert ranged.properties["match"] == "range"
    assert "admits vulnerable versions" in ranged.message
    assert {d.name for d in result.dependencies} >= {"aiohttp", "flask", "pytest"}


def test_poetry_pyproject(db: AdvisoryDB) -> None:
    result = analyse_dependencies(["pyproject.toml"], reader(FIXTURES / "poetry"), db)
    assert result.errors == []
    got = hits(result.findings)
    assert ("pyproject.toml", 8, "requests", "PYSEC-2018-28") in got  # ^2.19.0: lowest affected
    assert ("pyproject.toml", 9, "jinja2", "PYSEC-2019-217") in got  # ~2.10 = >=2.10,<2.11
    assert ("pyproject.toml", 10, "pyyaml", "PYSEC-2021-142") in got  # "5.3" = ==5.3
    assert ("pyproject.toml", 13, "django", "PYSEC-2024-47") in got  # list of constraints
    assert ("pyproject.toml", 20, "flask", "PYSEC-2023-62") in got  # group dependencies
    assert ("pyproject.toml", 23, "pyjwt", "PYSEC-2022-202") in got  # dev-dependencies
    assert ("pyproject.toml", 25, "babel", "PYSEC-2021-421") in got  # a sub-table per package
    assert not {p for _, _, p, _ in got} & {"urllib3", "pillow", "python", "mytool"}
    deps = {d.name: d for d in result.dependencies}
    assert deps["requests"].alternatives == (">=2.19.0,<3",)
    assert deps["mytool"].unknown and deps["mytool"].remote
    assert unverified(result.findings) == {("pyproject.toml", 12, "mytool")}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("poetry.lock", {(13, "jinja2", "PYSEC-2019-217"), (13, "jinja2", "PYSEC-2021-66")}),
        (
            "uv.lock",
            {
                (21, "urllib3", "PYSEC-2021-108"),
                (21, "urllib3", "PYSEC-2023-192"),
                (21, "urllib3", "PYSEC-2023-212"),
            },
        ),
        (
            "Pipfile.lock",
            {
                (19, "idna", "PYSEC-2024-60"),
                (24, "pyyaml", "PYSEC-2020-96"),
                (24, "pyyaml", "PYSEC-2021-142"),
                (33, "idna", "PYSEC-2024-60"),
            },
        ),
    ],
)
def test_lock_files(db: AdvisoryDB, name: str, expected: set[tuple[int, str, str]]) -> None:
    result = analyse_dependencies([name], reader(FIXTURES / "locks"), db)
    assert result.errors == []
    assert {(line, pkg, adv) for _, line, pkg, adv in hits(result.findings)} == expected
    assert all(f.path == name for f in result.findings)
    remote = {"poetry.lock": {(name, 32, "mytool")}, "uv.lock": set(), "Pipfile.lock": set()}
    assert unverified(result.findings) == remote[name]  # uv's editable project is local


def test_lock_sources_that_are_not_registries_are_unknown(db: AdvisoryDB) -> None:
    for name, package in (
        ("poetry.lock", "mytool"),
        ("uv.lock", "demo"),
        ("Pipfile.lock", "localthing"),
    ):
        result = analyse_dependencies([name], reader(FIXTURES / "locks"), db)
        assert package in {d.name for d in result.unknown}


def test_changed_lines_restrict_findings(db: AdvisoryDB) -> None:
    read = reader(FIXTURES / "requirements")
    only_requests = analyse_dependencies(
        ["requirements.txt"], read, db, changed_lines={"requirements.txt": {8}}
    )
    assert {f.properties["package"] for f in only_requests.findings} == {"requests"}
    include_line = analyse_dependencies(
        ["requirements.txt"], read, db, changed_lines={"requirements.txt": [3]}
    )
    assert {(f.path, f.properties["package"]) for f in include_line.findings} == {
        ("base.txt", "flask"),
        ("common/extra.txt", "pyyaml"),
    }
    continuation = analyse_dependencies(
        ["requirements.txt"], read, db, changed_lines={"requirements.txt": {7}}
    )
    assert {f.properties["package"] for f in continuation.findings} == {"jinja2"}
    untouched = analyse_dependencies(["requirements.txt"], read, db, changed_lines={"x.txt": {1}})
    assert untouched.findings == [] and untouched.dependencies == []
    lock = analyse_dependencies(
        ["uv.lock"], reader(FIXTURES / "locks"), db, changed_lines={"uv.lock": {21}}
    )
    assert {f.properties["package"] for f in lock.findings} == {"urllib3"}


def test_malformed_files_are_reported_and_others_still_scanned(db: AdvisoryDB) -> None:
    files = {
        f"bad/{name}": (FIXTURES / "malformed" / name).read_text()
        for name in ("requirements.txt", "pyproject.toml", "Pipfile.lock")
    }
    files["good/requirements.txt"] = "pyyaml==5.3\n"
    findings = scan_dependencies(sorted(files), files.get, db)
    errors = {(f.path, f.line) for f in findings if f.category is Category.SCANNER_ERROR}
    assert errors == {
        ("bad/requirements.txt", 2),
        ("bad/pyproject.toml", 5),
        ("bad/Pipfile.lock", 1),
    }
    messages = " ".join(f.message for f in findings if f.category is Category.SCANNER_ERROR)
    assert "cannot parse requirement" in messages and "invalid TOML" in messages
    assert "invalid JSON" in messages
    # a bad requirements line does not hide the lines after it
    assert {(f.path, f.line) for f in findings if f.category is Category.DEPENDENCY} == {
        ("good/requirements.txt", 1),
        ("bad/requirements.txt", 3),
    }
    # under a line restriction, a bad line that did not change is not reported, but a file
    # that cannot be parsed at all always is
    changed = {"bad/requirements.txt": {3}, "bad/pyproject.toml": {1}}
    findings = scan_dependencies(sorted(changed), files.get, db, changed_lines=changed)
    assert {(f.path, f.line, f.category) for f in findings} == {
        ("bad/requirements.txt", 3, Category.DEPENDENCY),
        ("bad/pyproject.toml", 5, Category.SCANNER_ERROR),
    }


@pytest.mark.parametrize(
    ("requirement", "expected"),
    [
        ("demo-pkg==1.2", True),
        ("demo-pkg==1.5", False),
        ("demo-pkg==0.9", True),  # only in the explicit versions list
        ("demo-pkg==2.1", True),  # last_affected is inclusive
        ("demo-pkg==2.1.1", False),
        ("demo-pkg===1.2", True),
        ("demo-pkg>=1.0", True),  # lowest admitted version affected
        ("demo-pkg>=1.5", False),
        ("demo-pkg>1.4", True),  # versions just above 1.4 affected
        ("demo-pkg>=1.5,<2.1", True),  # newest admitted (2.0.x) affected
        ("demo-pkg>=1.5,<2.0", False),
        ("demo-pkg<1.2", True),
        ("demo-pkg<=0.8", False),
        ("demo-pkg~=1.4", True),
        ("demo-pkg==1.*", True),
        ("demo-pkg==3.*", False),
        ("demo-pkg>=1.0,!=1.0", True),
        ("demo-pkg", False),  # unconstrained: not evaluated
        ("demo-pkg!=1.2", False),
        ("Demo.Pkg==1.2", True),  # PEP 503 normalisation
    ],
)
def test_matching_rule(test_db: AdvisoryDB, requirement: str, expected: bool) -> None:
    findings = scan_dependencies(
        ["requirements.txt"], {"requirements.txt": requirement}.get, test_db
    )
    assert [f.properties["advisory"] for f in findings] == (["PYSEC-0000-1"] if expected else [])
    if expected:
        assert findings[0].severity is Severity.CRITICAL  # CVSS 9.8 vector


def test_withdrawn_ignored_and_database_severity_used(test_db: AdvisoryDB) -> None:
    files = {"requirements.txt": "demo-pkg==3.0\nother_pkg==1.0\n"}
    findings = scan_dependencies(["requirements.txt"], files.get, test_db)
    assert [(f.line, f.properties["advisory"], f.severity) for f in findings] == [
        (2, "GHSA-dddd-eeee-ffff", Severity.MEDIUM)
    ]
    assert "no fixed version" in findings[0].message


def test_poetry_constraint_translation() -> None:
    assert poetry_to_pep440("^1.2.3") == [">=1.2.3,<2"]
    assert poetry_to_pep440("^0.2.3") == [">=0.2.3,<0.3"]
    assert poetry_to_pep440("^0.0.3") == [">=0.0.3,<0.0.4"]
    assert poetry_to_pep440("~1.2.3") == [">=1.2.3,<1.3"]
    assert poetry_to_pep440("~1") == [">=1,<2"]
    assert poetry_to_pep440("1.2.3") == ["==1.2.3"]
    assert poetry_to_pep440(">= 1.0, < 2.0 || ^3.1") == [">=1.0,<2.0", ">=3.1,<4"]
    assert poetry_to_pep440("*") == [""]


def test_cvss3_scores() -> None:
    assert cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") == 9.8
    assert cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N") == 6.1
    assert cvss3_base_score("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H") == 7.5
    assert cvss3_base_score("CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N") == 0.0
    assert cvss3_base_score("AV:N/AC:L/Au:N/C:P/I:P/A:P") is None


def test_is_dependency_file() -> None:
    yes = [
        "requirements.txt",
        "a/requirements-dev.txt",
        "dev-requirements.txt",
        "requirements/base.txt",
        "requirements.in",
        "constraints.txt",
        "pyproject.toml",
        "sub/poetry.lock",
        "uv.lock",
        "Pipfile.lock",
    ]
    no = ["README.md", "setup.py", "requirements.py", "Pipfile", "pyproject.toml.bak", "notes.txt"]
    assert all(is_dependency_file(p) for p in yes)
    assert not any(is_dependency_file(p) for p in no)


# -- optional safety source -----------------------------------------------------------


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def open_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        yield int(sock.getsockname()[1])


def test_safety_not_installed_is_a_clear_error() -> None:
    assert importlib.util.find_spec("safety") is None, "this test needs safety NOT installed"
    with pytest.raises(ScannerError, match="safety is not installed"):
        scan_with_safety(["requirements.txt"], {"requirements.txt": "jinja2==2.10\n"}.get)


def test_safety_offline_probe_fails_fast(closed_port: int) -> None:
    assert probe_address({"SELFHEAL_SAFETY_PROBE": f"127.0.0.1:{closed_port}"}) == (
        "127.0.0.1",
        closed_port,
    )
    assert "cannot reach 127.0.0.1" in probe_network(("127.0.0.1", closed_port), timeout=1.0)
    with pytest.raises(ScannerError, match=r"needs network access.*works offline"):
        scan_with_safety(
            ["requirements.txt"],
            {"requirements.txt": "jinja2==2.10\n"}.get,
            command=[sys.executable, "-c", "print('{}')"],
            probe=("127.0.0.1", closed_port),
        )


def test_safety_run_is_bounded_by_timeout(open_port: int) -> None:
    with pytest.raises(ScannerError, match="did not finish within 1s"):
        scan_with_safety(
            ["requirements.txt"],
            {"requirements.txt": "jinja2==2.10\n"}.get,
            command=[sys.executable, "-c", "import time; time.sleep(60)"],
            probe=("127.0.0.1", open_port),
            timeout=1.0,
        )


def test_safety_report_maps_back_to_declaring_lines(open_port: int) -> None:
    # A stand-in for the safety CLI (not installed here) that prints safety 3's JSON shape
    # for every pin in the requirements file it is given.
    script = FIXTURES / "safety_report.py"
    files = {"requirements.txt": "# pins\nJinja2==2.10\nidna==3.7\n"}
    findings = scan_with_safety(
        ["requirements.txt"],
        files.get,
        command=[sys.executable, str(script)],
        probe=("127.0.0.1", open_port),
    )
    assert [(f.line, f.properties["package"], f.properties["advisory"]) for f in findings] == [
        (2, "jinja2", "safety-70612")
    ]
    assert findings[0].properties["aliases"] == ["CVE-2019-10906"]
    assert "fixed in 2.10.1" in findings[0].message


def _print_command(report: object) -> list[str]:
    """A stand-in for safety that prints ``report`` as JSON, whatever it is asked."""
    return [sys.executable, "-c", f"import json; print(json.dumps({report!r}))"]


def test_safety_answers_match_pins_by_name_and_version(open_port: int) -> None:
    report = {
        "vulnerabilities": [
            {"package_name": "Jinja2", "analyzed_version": "2.10", "vulnerability_id": "1"},
            {"package_name": "idna", "analyzed_version": "9.9", "vulnerability_id": "2"},
            {"package_name": "requests", "analyzed_version": "", "vulnerability_id": "3"},
            {"package_name": "other", "analyzed_version": "1.0", "vulnerability_id": "4"},
        ]
    }
    files = {
        "requirements.txt": "jinja2==2.10\nidna==3.7\nrequests==2.0\n",
        "requirements-dev.txt": "requests==2.31.0\n",
    }
    findings = scan_with_safety(
        sorted(files, reverse=True),
        files.get,
        command=_print_command(report),
        probe=("127.0.0.1", open_port),
    )
    # another version of a package is not ours; no version at all means every pin of the name
    assert [(f.path, f.line, f.properties["advisory"]) for f in findings] == [
        ("requirements.txt", 1, "safety-1"),
        ("requirements.txt", 3, "safety-3"),
        ("requirements-dev.txt", 1, "safety-3"),
    ]


def test_safety_is_not_run_without_exact_pins(open_port: int, tmp_path: Path) -> None:
    files = {"requirements.txt": "jinja2>=2\n", "pyproject.toml": "[project\n"}
    findings = scan_with_safety(
        sorted(files),
        files.get,
        command=[str(tmp_path / "never-started")],
        probe=("127.0.0.1", open_port),
    )
    assert [f.path for f in findings] == ["pyproject.toml"]  # the parse error, nothing else


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("import sys; print('a\\nlast words', file=sys.stderr); sys.exit(3)", r"exit 3\): last"),
        ("import sys; sys.exit(2)", r"exit 2\): no output"),
        ("print('Traceback, not JSON')", "not its JSON report"),
    ],
)
def test_safety_failures_are_clear_errors(open_port: int, script: str, message: str) -> None:
    with pytest.raises(ScannerError, match=message):
        scan_with_safety(
            ["requirements.txt"],
            {"requirements.txt": "jinja2==2.10\n"}.get,
            command=[sys.executable, "-c", script],
            probe=("127.0.0.1", open_port),
        )


def test_safety_that_cannot_start_is_a_clear_error(open_port: int, tmp_path: Path) -> None:
    with pytest.raises(ScannerError, match="safety could not be started"):
        scan_with_safety(
            ["requirements.txt"],
            {"requirements.txt": "jinja2==2.10\n"}.get,
            command=[str(tmp_path / "missing-safety")],
            probe=("127.0.0.1", open_port),
        )


def test_credentials_in_urls_never_reach_output(db: AdvisoryDB) -> None:
    token = "ghp_" + "abcdefghijklmnopqrstuvwxyz0123456789"
    text = (
        "\ufeffjinja2==2.10\n"
        f"-e git+https://user:{token}@github.com/example/tool.git#egg=tool\n"
        f"https://user:{token}@example.com/pkg.tar.gz\n"
    )
    result = analyse_dependencies(["requirements.txt"], {"requirements.txt": text}.get, db)
    assert result.errors == []  # the byte-order mark is not part of the first requirement
    assert {f.line for f in result.findings if f.severity is Severity.HIGH} == {1}
    assert len(result.unknown) == 2
    for dep in result.unknown:
        assert token not in dep.declared and token not in dep.name
    assert {f.line for f in result.findings if f.severity is Severity.INFO} == {2, 3}
    for finding in result.findings:
        assert token not in finding.snippet and token not in finding.message
        assert token not in str(finding.properties)
    assert result.unknown[0].name == "tool"


@pytest.mark.parametrize(
    ("name", "text", "errors"),
    [
        ("pyproject.toml", 'project = "not a table"\n', 1),
        ("pyproject.toml", "[tool]\npoetry = 3\n", 1),
        ("pyproject.toml", "[project]\ndependencies = [1, 2]\noptional-dependencies = 5\n", 1),
        ("pyproject.toml", "[tool.poetry]\ngroup = { dev = 1 }\n", 1),
        ("poetry.lock", "package = [1, 2]\n", 1),
        ("uv.lock", "[[package]]\nversion = '1.0'\n", 1),
        ("Pipfile.lock", '{"default": {"x": {"version": 5}}, "develop": []}', 0),
        ("Pipfile.lock", "[1, 2]", 1),
    ],
)
def test_hostile_structures_are_errors_not_crashes(
    db: AdvisoryDB, name: str, text: str, errors: int
) -> None:
    findings = scan_dependencies([name], {name: text}.get, db)
    assert len(findings) == errors
    assert all(f.category is Category.SCANNER_ERROR and f.path == name for f in findings)


@pytest.mark.parametrize(
    ("requirement", "declared", "match"),
    [
        ("demo-pkg==1.2,<2", "1.2", "pinned"),  # an exact version with a redundant bound
        ("demo-pkg>=1.0,<1.1", "<1.1,>=1.0", "range"),
    ],
)
def test_message_names_the_matched_version_or_range(
    test_db: AdvisoryDB, requirement: str, declared: str, match: str
) -> None:
    (finding,) = scan_dependencies(
        ["requirements.txt"], {"requirements.txt": requirement}.get, test_db
    )
    assert finding.properties["version"] == declared and finding.properties["match"] == match
    assert f"demo-pkg {declared} " in finding.message and "None" not in finding.message


def test_poetry_alternatives_are_each_evaluated(test_db: AdvisoryDB) -> None:
    text = '[tool.poetry.dependencies]\ndemo-pkg = "3.0 || 1.2"\nother-pkg = "*"\n'
    findings = scan_dependencies(["pyproject.toml"], {"pyproject.toml": text}.get, test_db)
    assert [(f.line, f.properties["version"]) for f in findings] == [(2, "==1.2")]
    assert "admits vulnerable versions" in findings[0].message
