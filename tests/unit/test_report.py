"""Every report format, and SARIF checked by the official 2.1.0 schema and Microsoft's validator.

The SARIF validator (``@microsoft/sarif-multitool``) ships as a .NET single-file binary whose
execute bit npm leaves unset (install scripts are off), so the fixture sets it. Its exit code
is 0 even when it finds problems; the problems are the results of the SARIF log it writes, so
the test reads that log and requires zero errors and zero warnings.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from selfheal.model.findings import Category, Decision, Finding, Risk, Severity, Source, Verdict
from selfheal.report import FORMATS, Report, batches, check_run_annotations, render
from selfheal.report.annotations import escape_data, escape_property, workflow_command
from selfheal.report.markdown import escape, render_markdown
from tests.support.sarif import MULTITOOL_DIR, validate_with_multitool

SARIF_SCHEMA = MULTITOOL_DIR / "sarif-2.1.0.json"

SQLI = Finding(
    "python.sql-injection",
    Category.INJECTION,
    Severity.HIGH,
    "app/db.py",
    12,
    "SQL query built from request data",
    Source.SEMGREP,
    snippet='cur.execute("SELECT * FROM t WHERE id=" + uid)',
    cwe=("CWE-89",),
    owasp=("A03:2021",),
    column=5,
    end_line=12,
    end_column=47,
)
SECRET = Finding(
    "secrets.aws-access-key-id",
    Category.SECRET,
    Severity.CRITICAL,
    "config/prod settings.env",
    3,
    "AWS access key ID",
    Source.SECRETS,
    snippet="AWS_KEY=AKIA********(20 chars)",
    cwe=("CWE-798",),
    owasp=("A07:2021",),
)
DEP = Finding(
    "deps.PYSEC-2024-1",
    Category.DEPENDENCY,
    Severity.MEDIUM,
    "requirements.txt",
    0,
    "django 3.2.0 is affected by PYSEC-2024-1 (CVE-2024-0001); fixed in 3.2.25",
    Source.DEPENDENCIES,
    properties={"advisory": "PYSEC-2024-1", "fixed": "3.2.25"},
)
HOSTILE = Finding(
    "js.xss",
    Category.INJECTION,
    Severity.LOW,
    "web/<img src=x onerror=alert(1)>|x.js",
    4,
    "msg with | pipe, [link](https://evil.example) @admin <script>alert(1)</script>\n::error::x",
    Source.SEMGREP,
)
FINDINGS = [DEP, SQLI, SECRET, HOSTILE]
SKIPPED = [("big.bin", "binary file"), ("huge.sql", "too large (2000000 bytes > 1048576)")]
META = {"files_scanned": "7", "advisories": "PyPA advisory database (OSV), snapshot 2024-10-10"}
VERDICT = Verdict(Decision.BLOCK, Risk.CRITICAL, ("a secret was added",), tuple(FINDINGS))


def schema_errors(log: Any) -> list[str]:
    schema = json.loads(SARIF_SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]


def test_text_table_and_summary() -> None:
    out = render("text", FINDINGS, skipped=SKIPPED, errors=["semgrep: crashed"], meta=META)
    lines = out.splitlines()
    assert lines[0].split() == ["SEVERITY", "RULE", "LOCATION", "MESSAGE"]
    assert lines[1].split()[:3] == ["critical", "secrets.aws-access-key-id", "config/prod"]
    assert lines[2].split()[:3] == ["high", "python.sql-injection", "app/db.py:12"]
    assert lines[3].split()[:3] == ["medium", "deps.PYSEC-2024-1", "requirements.txt"]
    assert "\x1b" not in out and "::error::x" in out  # flattened onto one line
    assert "  big.bin: binary file" in lines
    assert "Scanner errors (the scan is incomplete):" in lines
    assert lines[-1] == (
        "4 findings (1 critical, 1 high, 1 medium, 1 low); 7 files scanned, 2 skipped; "
        "advisories: PyPA advisory database (OSV), snapshot 2024-10-10; 1 scanner error"
    )
    clean = render("text", [], meta={"files_scanned": "0"})
    assert clean.splitlines()[0] == "No findings."
    assert clean.splitlines()[-1] == "0 findings; 0 files scanned, 0 skipped; 0 scanner errors"
    with_verdict = render("text", FINDINGS, verdict=VERDICT)
    assert with_verdict.startswith("Decision: block  Risk: critical\n  - a secret was added\n")


def test_json_is_stable_and_complete() -> None:
    data = json.loads(render("json", FINDINGS, verdict=VERDICT, skipped=SKIPPED, meta=META))
    assert list(data) == [
        "version", "tool", "findings", "skipped", "errors", "summary", "meta", "verdict"
    ]  # fmt: skip
    assert data["version"] == 1 and data["tool"]["name"] == "selfheal"
    assert [f["rule_id"] for f in data["findings"]] == [
        "secrets.aws-access-key-id", "python.sql-injection", "deps.PYSEC-2024-1", "js.xss"
    ]  # fmt: skip
    assert data["findings"][1] == SQLI.to_dict()
    assert Finding.from_dict(data["findings"][2]) == DEP
    assert data["skipped"][0] == {"path": "big.bin", "reason": "binary file"}
    assert data["summary"] == {
        "total": 4,
        "by_severity": {"critical": 1, "high": 1, "medium": 1, "low": 1, "info": 0},
        "files_scanned": 7,
        "skipped": 2,
        "errors": 0,
        "advisories": META["advisories"],
        "complete": True,
    }
    assert data["verdict"]["decision"] == "block"


def test_sarif_structure() -> None:
    other_dep = dataclasses.replace(DEP, line=2, message="pyyaml 5.3 is affected", fingerprint="")
    findings = [*FINDINGS, other_dep]
    log = json.loads(render("sarif", findings, errors=["semgrep: crashed"], skipped=SKIPPED))
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "selfheal"
    rules = {r["id"]: r for r in driver["rules"]}
    sqli = rules["python.sql-injection"]
    assert sqli["properties"]["security-severity"] == "8.0"
    assert sqli["properties"]["tags"] == ["security", "injection", "CWE-89", "OWASP-A03:2021"]
    assert sqli["defaultConfiguration"]["level"] == "error"
    assert sqli["helpUri"] == "https://cwe.mitre.org/data/definitions/89.html"
    assert rules["secrets.aws-access-key-id"]["properties"]["security-severity"] == "9.5"
    assert sqli["fullDescription"]["text"] == SQLI.message  # one message: it describes the rule
    dep_rule = rules["deps.PYSEC-2024-1"]  # messages vary per finding: the category describes it
    assert dep_rule["fullDescription"]["text"] == "A dependency version with a known vulnerability."
    assert len(run["results"]) == 5
    results = {r["ruleId"]: r for r in run["results"] if r["message"]["text"] != other_dep.message}
    sqli_result = results["python.sql-injection"]
    assert driver["rules"][sqli_result["ruleIndex"]]["id"] == "python.sql-injection"
    location = sqli_result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "app/db.py", "uriBaseId": "%SRCROOT%"}
    assert location["region"]["startLine"] == 12 and location["region"]["startColumn"] == 5
    assert sqli_result["partialFingerprints"] == {"selfheal/v1": SQLI.fingerprint}
    dep_loc = results["deps.PYSEC-2024-1"]["locations"][0]["physicalLocation"]
    assert dep_loc["region"]["startLine"] == 1  # line 0 = whole file
    secret_uri = results["secrets.aws-access-key-id"]["locations"][0]["physicalLocation"]
    assert secret_uri["artifactLocation"]["uri"] == "config/prod%20settings.env"
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is False
    levels = [n["level"] for n in invocation["toolExecutionNotifications"]]
    assert levels == ["error", "note", "note"]
    assert json.loads(render("sarif", []))["runs"][0]["results"] == []


@pytest.mark.parametrize("errors", [[], ["semgrep: crashed"]])
def test_sarif_validates_against_schema_and_multitool(
    errors: list[str], multitool: Path, tmp_path: Path
) -> None:
    text = render("sarif", FINDINGS, verdict=VERDICT, errors=errors, skipped=SKIPPED, meta=META)
    log = json.loads(text)
    assert schema_errors(log) == []
    path = tmp_path / "report.sarif"
    path.write_text(text)
    problems = validate_with_multitool(multitool, path, tmp_path)
    assert [(p["ruleId"], p["level"], p["message"]) for p in problems] == []


def test_schema_and_validator_catch_broken_sarif(multitool: Path, tmp_path: Path) -> None:
    log = json.loads(render("sarif", [SQLI]))
    result = log["runs"][0]["results"][0]
    result["ruleIndex"] = 42
    result["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    assert any("minimum of 1" in e for e in schema_errors(log))
    path = tmp_path / "broken.sarif"
    path.write_text(json.dumps(log))
    problems = validate_with_multitool(multitool, path, tmp_path)
    assert "SARIF1009" in {p["ruleId"] for p in problems}


def test_markdown_escapes_untrusted_text() -> None:
    out = render_markdown(Report([HOSTILE]))
    assert "<script>" not in out and "<img" not in out
    assert "&lt;script&gt;" in out
    assert "[link](" not in out and "\\[link\\](" in out  # no live link
    assert "@admin" not in out and "&#64;admin" in out
    row = next(line for line in out.splitlines() if line.startswith("| low | js"))
    assert row.count(" | ") == 4  # the pipe in the message and path did not add cells
    assert escape("a|b\nc") == "a\\|b c"


def test_markdown_verdict_counts_and_limit() -> None:
    out = render("markdown", FINDINGS, verdict=VERDICT, skipped=SKIPPED, meta=META)
    assert out.startswith("## ⛔ selfheal scan: block (risk: critical)\n")
    assert "| critical | 1 |" in out and "| info | 0 |" in out
    assert "### Not scanned (2)" in out
    many = [
        Finding(
            "r.long",
            Category.OTHER,
            Severity.HIGH,
            f"src/f{i}.py",
            i + 1,
            "x" * 250,
            Source.SEMGREP,
        )
        for i in range(2000)
    ]
    big = render("markdown", many, errors=["semgrep: crashed"])
    assert len(big) <= 65_535
    assert "more findings not shown" in big
    assert "### Scanner errors (the scan is incomplete)" in big
    assert big.startswith("## selfheal scan: ❌ scan incomplete")
    assert render("markdown", []).startswith("## selfheal scan: ✅ clean")


def test_workflow_annotations_escape_everything() -> None:
    assert escape_data("50%\r\nnext") == "50%25%0D%0Anext"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"
    assert workflow_command(SQLI) == (
        "::error file=app/db.py,line=12,col=5,endColumn=47,"
        "title=python.sql-injection (high%2C CWE-89)::SQL query built from request data"
    )
    assert workflow_command(DEP).startswith("::warning file=requirements.txt,line=1,title=")
    hostile = workflow_command(HOSTILE)
    assert hostile.startswith("::notice file=web/<img src=x onerror=alert(1)>|x.js,line=4,")
    assert "\n" not in hostile and hostile.endswith("%0A::error::x")
    lines = render("annotations", FINDINGS).splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == [
        "::error",
        "::error",
        "::warning",
        "::notice",
    ]


def test_check_run_annotations_respect_api_limits() -> None:
    long = Finding(
        "r." + "x" * 400, Category.OTHER, Severity.MEDIUM, "a.py", 2, "é" * 70_000, Source.SEMGREP,
        end_line=5, column=3,
    )  # fmt: skip
    annotations = check_run_annotations([SQLI, long, DEP])
    first, second, third = annotations
    assert first == {
        "path": "app/db.py",
        "start_line": 12,
        "end_line": 12,
        "annotation_level": "failure",
        "title": "python.sql-injection (high, CWE-89)",
        "message": "SQL query built from request data",
        "raw_details": first["raw_details"],
        "start_column": 5,
        "end_column": 47,
    }
    assert json.loads(first["raw_details"])["cwe"] == ["CWE-89"]
    assert len(second["title"]) == 255
    assert len(second["message"].encode()) <= 64 * 1024
    assert "start_column" not in second  # multi-line annotations cannot carry columns
    assert (second["start_line"], second["end_line"], second["annotation_level"]) == (
        2,
        5,
        "warning",
    )
    assert (third["start_line"], third["annotation_level"]) == (1, "warning")
    groups = batches([first] * 120)
    assert [len(g) for g in groups] == [50, 50, 20]


def test_render_rejects_unknown_format() -> None:
    assert FORMATS == ("text", "json", "sarif", "markdown", "annotations")
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        render("xml", FINDINGS)
