"""action.yml: its shape, no script injection, and its scripts executed for real with bash.

The steps' ``run:`` scripts are run in order in a temporary git repository, with the ``env:``
each step declares (``${{ ... }}`` expressions evaluated from the inputs and a fake ``github``
context) plus GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and GITHUB_ACTIONS=true. Only the pip install
is skipped (SELFHEAL_ACTION_SKIP_INSTALL=1, which the install step honours): the selfheal on
PATH is this checkout's editable install.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pygit2
import pytest
import yaml

from tests.support.paths import ROOT

ACTION = ROOT / "action.yml"
WORKFLOW = ROOT / ".github" / "workflows" / "selfheal-scan.yml"
EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")
SIGNATURE = pygit2.Signature("Dev", "dev@example.com", 1_700_000_000, 0)


def load_action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    return data


def evaluate(value: str, inputs: dict[str, str], github: dict[str, str]) -> str:
    """The few expression forms action.yml uses: inputs.X and github.X (dotted)."""

    def replace(match: re.Match[str]) -> str:
        expr = match.group(1)
        if expr.startswith("inputs."):
            return inputs[expr.removeprefix("inputs.")]
        if expr.startswith("github."):
            return github.get(expr.removeprefix("github."), "")
        raise AssertionError(f"unexpected expression in action.yml: {expr}")

    return EXPRESSION.sub(replace, str(value))


def run_action(
    workspace: Path, tmp: Path, given: dict[str, str], github: dict[str, str]
) -> tuple[int, str, dict[str, str], str]:
    """Run every step; return (exit status, stdout, outputs, job summary)."""
    action = load_action()
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    inputs.update(given)
    github = {"action_path": str(ROOT), **github}
    output_file, summary_file = tmp / "github_output", tmp / "step_summary"
    output_file.write_text("")
    summary_file.write_text("")
    base_env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(tmp)),
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(output_file),
        "GITHUB_STEP_SUMMARY": str(summary_file),
        "GITHUB_PATH": str(tmp / "github_path"),
        "RUNNER_TEMP": str(tmp),
        "SELFHEAL_ACTION_SKIP_INSTALL": "1",
    }
    stdout = ""
    status = 0
    for step in action["runs"]["steps"]:
        env = dict(base_env)
        env.update({k: evaluate(v, inputs, github) for k, v in step.get("env", {}).items()})
        script = tmp / "step.sh"
        script.write_text(step["run"])
        done = subprocess.run(  # exactly how the runner invokes a `shell: bash` step
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        stdout += done.stdout
        status = done.returncode
        if status != 0:
            break
    return status, stdout, read_outputs(output_file.read_text()), summary_file.read_text()


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
        "path", "fail-on", "base-ref", "sarif-file", "config", "advisories",
        "mode", "junit", "selfheal-url", "report-token", "github-token",
    }  # fmt: skip
    assert action["inputs"]["fail-on"]["default"] == "high"
    assert action["inputs"]["sarif-file"]["default"] == "selfheal.sarif"
    assert set(action["outputs"]) == {"findings", "sarif"}
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


def read_outputs(text: str) -> dict[str, str]:
    """$GITHUB_OUTPUT as the runner reads it: ``name=value`` lines, and ``name<<DELIMITER``
    followed by the value's lines up to a line that is exactly DELIMITER."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        equals, heredoc = line.find("="), line.find("<<")
        if equals >= 0 and (heredoc < 0 or equals < heredoc):
            outputs[line[:equals]] = line[equals + 1 :]
        elif heredoc >= 0:
            delimiter, value = line[heredoc + 2 :], []
            for part in lines:
                if part == delimiter:
                    break
                value.append(part)
            else:
                raise AssertionError(f"no closing {delimiter!r} in GITHUB_OUTPUT")
            outputs[line[:heredoc]] = "\n".join(value)
    return outputs


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
