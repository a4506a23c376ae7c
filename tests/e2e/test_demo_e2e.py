"""``selfheal demo``: the story plays on the embedded GitHub, a step that does not happen as
described fails the run, and ``selfheal demo --once`` passes from a fresh ``pip install .``
in a clean venv without reaching the network."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from selfheal.demo import run as demo
from selfheal.demo import story, world
from selfheal.demo.messages import Turn
from tests.support.paths import ROOT

STEP_TITLES = [title for title, _ in story.STEPS]


async def test_the_story_plays_then_the_dashboard_stays_up_until_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    out, stop = io.StringIO(), asyncio.Event()
    running = asyncio.ensure_future(demo.run(demo.DemoOptions(port=0), out, stop))
    for _ in range(1200):  # at most 120 s
        if "Press Ctrl-C" in out.getvalue() or running.done():
            break
        await asyncio.sleep(0.1)
    text = out.getvalue()
    assert "Press Ctrl-C" in text, text
    assert not running.done()  # the dashboard stays up ...
    stop.set()
    assert await asyncio.wait_for(running, 30) == 0  # ... until it is stopped
    assert "4 of 4 steps; every step happened as described" in text, text
    for index, title in enumerate(STEP_TITLES, 1):
        assert f"[{index}/4] {title}" in text
    assert "FAILED" not in text
    assert "requests==2.19.0 -> requests==" in text
    assert "metered $" in text and "model calls" in text
    assert "the security gate passed" in text
    assert list(tmp_path.glob("selfheal-demo-*")) == []  # the state folder is gone
    # the dashboard token is in a file, never on the screen
    assert "dashboard-token" in text and "sk-" not in text and "shk_" not in text


async def test_a_step_that_does_not_happen_as_described_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model that fixes the bug its own way: the PR passes the gate, but the story
    expected another fix, so step 2 fails, the story stops and --once exits 1."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))

    scripted = demo.fixer

    def other_fix(body: dict[str, Any]) -> Turn:
        turn = scripted(body)
        if turn.tools and turn.tools[0][0] == "replace":
            change = {**turn.tools[0][1], "new": "    return done / max(total, 1)\n"}
            return Turn(tools=[("replace", change)], input_tokens=None)
        return turn

    monkeypatch.setattr(demo, "fixer", other_fix)
    out = io.StringIO()
    code = await demo.run(demo.DemoOptions(port=0, once=True), out, asyncio.Event())
    text = out.getvalue()
    assert code == 1, text
    assert f"[2/4] {STEP_TITLES[1]}" in text
    assert f"FAILED: the PR does not guard the division in {world.STATS}" in text
    assert "[3/4]" not in text  # the story stopped there
    assert "1 of 4 steps; a step failed" in text


NO_NETWORK = textwrap.dedent("""
    import ipaddress, sys

    outside = []

    def loopback(host):
        if host in ("localhost", None):
            return True
        try:
            return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return False

    def watch(event, args):
        if event == "socket.connect" and isinstance(args[1], tuple) and not loopback(args[1][0]):
            outside.append(repr(args[1]))
        elif event == "socket.getaddrinfo" and not loopback(args[0]):
            outside.append(repr(args[0]))

    sys.addaudithook(watch)
    from selfheal.cli import main

    code = main(["demo", "--once", "--port", "0"])
    print("outside:", outside, flush=True)
    sys.exit(code if code else (3 if outside else 0))
""")


def test_demo_once_passes_from_a_fresh_pip_install_without_the_network(tmp_path: Path) -> None:
    """A copy of the project (no venv, no node_modules, no caches) installed with
    ``pip install .`` into a new venv, then the demo run from an unrelated folder, with an
    audit hook that records any connection (or name lookup) beyond loopback in the demo's
    process."""
    source = tmp_path / "source"
    skip = shutil.ignore_patterns(".git", ".venv", "node_modules", "__pycache__", ".mypy_cache",
                                  ".ruff_cache", "*.egg-info", "build", "dist")  # fmt: skip
    shutil.copytree(ROOT, source, ignore=skip)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SELFHEAL_", "GITHUB_", "ANTHROPIC_", "PYTHON"))}  # fmt: skip
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "."], cwd=source, env=env,
                         capture_output=True, text=True, timeout=900, check=False)  # fmt: skip
    assert pip.returncode == 0, pip.stdout + pip.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    found = subprocess.run([str(venv / "bin" / "python"), "-c", NO_NETWORK], cwd=elsewhere,
                           env=env, capture_output=True, text=True, timeout=300,
                           check=False)  # fmt: skip
    assert found.returncode == 0, found.stdout + found.stderr
    assert "4 of 4 steps; every step happened as described" in found.stdout
    assert "outside: []" in found.stdout
    assert (
        str(venv)
        in subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import selfheal; print(selfheal.__file__)"],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    )  # the demo ran the installed package, not the source tree
