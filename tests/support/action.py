"""Run action.yml's steps the way a runner runs a composite action: each ``run:`` script
with bash, in order, with the ``env:`` it declares (``${{ ... }}`` evaluated from the inputs
and a fake ``github`` context), GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and GITHUB_ACTIONS=true,
skipping a step whose ``if:`` is false. Only the pip install is skipped
(SELFHEAL_ACTION_SKIP_INSTALL=1, which the install step honours): the selfheal on PATH is this
checkout's editable install."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.support.paths import ROOT

ACTION = ROOT / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


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


CONDITION = re.compile(r"^inputs\.([a-z-]+) (==|!=) '([a-z]+)'$")


def runs(step: dict[str, Any], inputs: dict[str, str]) -> bool:
    """A step's ``if:``: the only form action.yml uses is ``inputs.X == 'value'``."""
    condition = step.get("if")
    if condition is None:
        return True
    match = CONDITION.match(str(condition))
    assert match, f"unexpected condition in action.yml: {condition}"
    equal = inputs[match.group(1)] == match.group(3)
    return equal if match.group(2) == "==" else not equal


def run_action(
    workspace: Path,
    tmp: Path,
    given: dict[str, str],
    github: dict[str, str],
    extra_env: Mapping[str, str] | None = None,
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
        **(extra_env or {}),
    }
    stdout = ""
    status = 0
    for step in action["runs"]["steps"]:
        if not runs(step, inputs):
            continue
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
