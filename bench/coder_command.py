"""The command coder's and the actions executor's own overhead: prints figures, asserts nothing.

    python bench/coder_command.py [--runs 20] [--files 200]

- a `command` run through the runner (no scans) with a tool that exits at once: the time
  above the tool's own start-up (measured alone), i.e. the environment, the process group,
  the stdin feed, the polling and the guard's review;
- the halt: from the halt to the process group being gone;
- the runner's patch: `collect` on a checkout with N changed files, then `parse` + `apply`
  through the guarded workspace, as the App does with a downloaded artifact.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))  # the source root

import pygit2

from selfheal.coder.command import CommandCoder, CommandConfig
from selfheal.coder.guard import PathGuard
from selfheal.coder.interface import CodeTask, Limits
from selfheal.coder.patchfile import apply, collect, parse
from selfheal.coder.runner import run_coder
from selfheal.coder.workspace import Workspace
from selfheal.model.policy import load_default_policy

SIG = pygit2.Signature("Bench", "bench@example.com", 1_700_000_000, 0)
TOOL = "import sys, json; sys.stdin.read(); print(json.dumps({'total_cost_usd': 0.01}))"
TASK = CodeTask("bench", "Change nothing.", "fix-bug")


def _tree(root: Path, files: int) -> pygit2.Repository:
    root.mkdir(parents=True)
    for n in range(files):
        (root / f"pkg/m{n:04d}.py").parent.mkdir(parents=True, exist_ok=True)
        (root / f"pkg/m{n:04d}.py").write_text(f"X = {n}\n")
    repo = pygit2.init_repository(str(root), initial_head="main")
    repo.index.add_all()
    repo.index.write()
    repo.create_commit("HEAD", SIG, SIG, "init", repo.index.write_tree(), [])
    return repo


def command_runs(runs: int) -> None:
    defaults = load_default_policy()
    config = CommandConfig.from_mapping(
        {"command": [sys.executable, "-c", TOOL], "cost_field": "total_cost_usd"}
    )
    alone, through = [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "work"
        _tree(root, 50)
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", TOOL], input=b"x", capture_output=True,
                           check=True)  # fmt: skip
            alone.append(time.perf_counter() - start)
            start = time.perf_counter()
            run_coder(CommandCoder(config), root, TASK, Limits(), policy=defaults,
                      defaults=defaults, scan=False, disposable=True)  # fmt: skip
            through.append(time.perf_counter() - start)
    a, t = statistics.median(alone), statistics.median(through)
    print(f"command run (median of {runs}): {t * 1000:.0f} ms, the tool alone "
          f"{a * 1000:.0f} ms, overhead {(t - a) * 1000:.0f} ms")  # fmt: skip


def halt_latency() -> None:
    defaults = load_default_policy()
    config = CommandConfig.from_mapping(
        {
            "command": [sys.executable, "-c", "import time; time.sleep(60)"],
            "allow_unmetered": True,
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "work"
        _tree(root, 5)
        at = time.monotonic() + 1.0
        run_coder(CommandCoder(config), root, TASK, Limits(), policy=defaults, defaults=defaults,
                  scan=False, disposable=True, halted=lambda: time.monotonic() >= at)  # fmt: skip
        print(f"halt to the process group gone: {(time.monotonic() - at) * 1000:.0f} ms")


def patch_round_trip(files: int) -> None:
    defaults = load_default_policy()
    with tempfile.TemporaryDirectory() as tmp:
        runner, app = Path(tmp) / "runner", Path(tmp) / "app"
        _tree(runner, files)
        _tree(app, files)
        for n in range(files):
            (runner / f"pkg/m{n:04d}.py").write_text(f"X = {n + 1}\n")
        start = time.perf_counter()
        data = collect(runner)
        collected = time.perf_counter() - start
        start = time.perf_counter()
        _, parsed = parse(data)
        apply(Workspace(app, PathGuard(defaults, defaults)), parsed)
        applied = time.perf_counter() - start
    size = len(data) / 1024
    print(f"patch of {files} files ({size:.0f} KiB): collect {collected * 1000:.0f} ms, "
          f"parse + guarded apply {applied * 1000:.0f} ms")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--files", type=int, default=200)
    args = parser.parse_args()
    command_runs(args.runs)
    halt_latency()
    patch_round_trip(args.files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
