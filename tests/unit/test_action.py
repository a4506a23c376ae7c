"""action.yml: its shape, no script injection, and its scripts executed for real with bash
(tests/support/action.py runs them as a runner does), in the scan mode and the code mode."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pygit2
import pytest
import yaml

from tests.support.action import load_action, run_action
from tests.support.paths import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "selfheal-scan.yml"
SIGNATURE = pygit2.Signature("Dev", "dev@example.com", 1_700_000_000, 0)


def commit(repo: pygit2.Repository, message: str) -> str:
    repo.index.add_all()
    repo.index.write()
    tree = repo.index.write_tree()
    parents = [] if repo.head_is_unborn else [repo.head.target]
    return str(repo.create_commit("HEAD", SIGNATURE, SIGNATURE, message, tree, parents))


def test_action_shape() -> None:
    action = load_action()
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) == {
        "mode", "path", "fail-on", "base-ref", "sarif-file", "config", "advisories",
        "request", "backend", "type", "targets", "task", "budget", "agent-options", "patch-dir",
        "junit", "selfheal-url", "report-token", "github-token",
    }  # fmt: skip
    assert action["inputs"]["fail-on"]["default"] == "high"
    assert action["inputs"]["sarif-file"]["default"] == "selfheal.sarif"
    assert set(action["outputs"]) == {"findings", "sarif", "patch", "changed"}
    for step in action["runs"]["steps"]:
        assert step["shell"] == "bash"
        # Script injection: no expression at all may appear inside a run: script.
        assert "${{" not in step["run"], step["name"]
    install = action["runs"]["steps"][0]["run"]
    assert '"$SELFHEAL_ACTION_PATH"' in install and "SELFHEAL_ACTION_SKIP_INSTALL" in install


def test_example_workflow_uploads_sarif() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow[True]  # YAML 1.1 reads the bare key `on` as a boolean
    assert {"pull_request", "push", "schedule"} <= set(triggers)
    job = workflow["jobs"]["scan"]
    assert job["permissions"]["security-events"] == "write"
    uses = [step.get("uses", "") for step in job["steps"]]
    assert "./" in uses
    assert any(u.startswith("github/codeql-action/upload-sarif@") for u in uses)
    assert "${{ inputs" not in WORKFLOW.read_text()


@pytest.fixture
def pr_repo(tmp_path: Path) -> tuple[Path, str]:
    """A repository whose head commit adds a leaked token on top of a clean base."""
    work = tmp_path / "repo"
    work.mkdir()
    repo = pygit2.init_repository(str(work))
    (work / "app.py").write_text("def add(a, b):\n    return a + b\n")
    base = commit(repo, "base")
    material = base64.b64encode(hashlib.sha512(b"selfheal-action-tests").digest()).decode()
    token = "ghp_" + "".join(c for c in material if c.isalnum())[:36]  # no secret in this file
    (work / "settings.py").write_text(f"DEBUG = False\nGITHUB_TOKEN = '{token}'\n")
    commit(repo, "add settings")
    return work, base


def test_action_runs_diff_aware_on_a_pull_request(
    pr_repo: tuple[Path, str], tmp_path: Path
) -> None:
    work, base = pr_repo
    status, stdout, outputs, summary = run_action(
        work, tmp_path, {}, {"event.pull_request.base.sha": base}
    )
    assert status == 1, stdout
    assert outputs["sarif"] == "selfheal.sarif"
    assert int(outputs["findings"]) >= 1
    assert (work / "selfheal.sarif").is_file()
    assert "::error file=settings.py,line=2," in stdout
    token = (work / "settings.py").read_text().split("'")[1]
    assert token not in stdout + summary + (work / "selfheal.sarif").read_text()
    assert summary.startswith("## selfheal scan: 🔍 findings")
    assert "settings.py:2" in summary


def test_action_fail_on_none_and_hostile_inputs(pr_repo: tuple[Path, str], tmp_path: Path) -> None:
    work, _ = pr_repo
    hostile = "$(touch pwned)`touch pwned2`"
    status, _, outputs, _ = run_action(
        work, tmp_path, {"base-ref": hostile, "sarif-file": "out.sarif"}, {}
    )
    assert status == 2  # an unknown ref is a usage error, and nothing was executed
    assert not (work / "pwned").exists() and not (work / "pwned2").exists()
    assert outputs == {"findings": "0", "sarif": ""}  # no SARIF: the upload step is skipped
    status, _, _, _ = run_action(work, tmp_path, {"fail-on": "bogus"}, {})
    assert status == 2


@pytest.mark.parametrize("path", ["--output={out}", "--format=json", "-h"])
def test_a_path_input_is_never_an_option(
    pr_repo: tuple[Path, str], tmp_path: Path, path: str
) -> None:
    """Was parsed as an option: `--output=/some/file` wrote that file."""
    work, _ = pr_repo
    out = tmp_path / "written-by-an-option.txt"
    status, stdout, outputs, _ = run_action(work, tmp_path, {"path": path.format(out=out)}, {})
    assert not out.exists()
    assert status == 2, stdout  # no such file or directory to scan
    assert outputs == {"findings": "0", "sarif": ""}


def test_every_input_starting_with_a_dash_is_a_value(
    pr_repo: tuple[Path, str], tmp_path: Path
) -> None:
    work, _ = pr_repo
    status, stdout, outputs, _ = run_action(work, tmp_path, {"sarif-file": "-report.sarif"}, {})
    assert status == 1, stdout  # scanned, and the leaked token is a finding
    assert outputs["sarif"] == "-report.sarif" and (work / "-report.sarif").is_file()
    for name in ("config", "advisories"):
        status, stdout, _, _ = run_action(work, tmp_path, {name: "--help"}, {})
        assert status == 2 and "usage:" not in stdout, (name, stdout)


def test_a_newline_in_sarif_file_cannot_add_outputs(
    pr_repo: tuple[Path, str], tmp_path: Path
) -> None:
    """Was `findings=999`: the second line of the name became an output of its own."""
    work, _ = pr_repo
    name = "out.sarif\nfindings=999\nsarif=evil.sarif"
    status, _, outputs, _ = run_action(work, tmp_path, {"sarif-file": name}, {})
    assert status == 1
    assert outputs["sarif"] == name and outputs["findings"] != "999"
    assert int(outputs["findings"]) >= 1


def _code_repo(tmp_path: Path) -> Path:
    work = tmp_path / "checkout"
    work.mkdir()
    repo = pygit2.init_repository(str(work))
    (work / "requirements.txt").write_text("requests==2.19.0\n")
    (work / "app.py").write_text("print(1)\n")
    commit(repo, "base")
    return work


def test_the_code_mode_writes_the_patch_the_app_takes_back(tmp_path: Path) -> None:
    work = _code_repo(tmp_path)
    given = {"mode": "code", "request": "r-0042", "backend": "rules", "type": "dependency",
             "targets": "requirements.txt", "task": "Bump requests."}  # fmt: skip
    status, stdout, outputs, _ = run_action(work, tmp_path, given, {})
    assert status == 0, stdout
    assert outputs["changed"] == "true"
    patch = json.loads((Path(outputs["patch"]) / "selfheal-patch.json").read_text())
    assert set(patch["files"]) == {"requirements.txt"}
    bumped = base64.b64decode(patch["files"]["requirements.txt"]["content_b64"])
    assert bumped.startswith(b"requests==") and b"2.19.0" not in bumped
    assert "findings" not in outputs  # the scan did not run


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"request": "r-1; touch pwned"}, "invalid request id"),
        ({"request": "r-1", "backend": "$(touch pwned)"}, "invalid backend"),
        ({"request": "r-1", "task": "--help", "agent-options": "$(touch pwned)"}, ""),
        ({"request": "r-1", "targets": "--output=pwned\n../outside"}, ""),
    ],
)
def test_the_code_modes_inputs_are_values_never_code(
    tmp_path: Path, given: dict[str, str], message: str
) -> None:
    work = _code_repo(tmp_path)
    status, stdout, _, _ = run_action(work, tmp_path, {"mode": "code", "task": "x", **given}, {})
    assert status == 2, stdout
    assert message in stdout and "usage:" not in stdout
    assert not (work / "pwned").exists() and not (tmp_path / "pwned").exists()


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    status, stdout, _, _ = run_action(_code_repo(tmp_path), tmp_path, {"mode": "deploy"}, {})
    assert status == 2 and "mode must be scan, code or report" in stdout


def test_the_example_code_workflow_keeps_secrets_and_write_access_away() -> None:
    text = (ROOT / "docs/examples/selfheal-code.yml").read_text()
    workflow = yaml.safe_load(text)
    assert set(workflow[True]) == {"workflow_dispatch"}
    inputs = workflow[True]["workflow_dispatch"]["inputs"]
    assert {"request", "backend", "type", "targets", "task", "budget"} == set(inputs)
    assert workflow["permissions"] == {}
    job = workflow["jobs"]["code"]
    assert job["permissions"] == {"contents": "read"}  # no contents write: safe outputs
    steps = job["steps"]
    checkout = next(s for s in steps if str(s.get("uses", "")).startswith("actions/checkout@"))
    assert checkout["with"]["persist-credentials"] is False
    holders = [s for s in steps if "secrets." in yaml.safe_dump(s)]
    assert [s.get("id") for s in holders] == ["code"]  # only the coding step holds a secret
    assert holders[0]["with"]["mode"] == "code"
    names = [str(s.get("uses") or s.get("name")) for s in steps]
    upload = next(i for i, n in enumerate(names) if n.startswith("actions/upload-artifact@"))
    assert steps[upload]["with"]["name"] == "selfheal-patch"
    assert upload < names.index("Tests")  # uploaded before the code under test runs
    for step in steps:
        assert "${{" not in str(step.get("run", "")), step  # no expression in a script


JUNIT_FAILING = """<testsuite name="t"><testcase classname="tests.test_a" name="test_one"
file="tests/test_a.py"><failure message="assert 1 == 2" type="AssertionError">boom</failure>
</testcase></testsuite>"""


def test_report_mode_sends_failing_tests_and_scans_nothing(tmp_path: Path) -> None:
    """Report mode with hostile inputs: a glob that matches a file named like an option, and
    a token that never shows in the output (the URL refuses the connection)."""
    workspace = tmp_path / "ws"
    (workspace / "reports").mkdir(parents=True)
    (workspace / "reports" / "--help.xml").write_text(JUNIT_FAILING)
    token = "shr_" + hashlib.sha256(b"report-mode").hexdigest()
    given = {"mode": "report", "junit": "reports/*.xml\nmissing/*.xml",
             "selfheal-url": "http://127.0.0.1:9", "report-token": token}  # fmt: skip
    status, stdout, outputs, _ = run_action(workspace, tmp_path, given, {})
    assert status == 1  # the API could not be reached: exit 1, nothing scanned
    assert "no JUnit report matches missing/*.xml" in stdout
    assert token not in stdout and outputs == {}
    bad, _, _, _ = run_action(workspace, tmp_path, {"mode": "$(id)"}, {})
    assert bad == 2
