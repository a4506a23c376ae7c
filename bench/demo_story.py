"""How long ``selfheal demo --once`` takes: the whole command and each step of the story.

Runs ``python -m selfheal demo --once --port 0`` ``--runs`` times as a child process (the way a
newcomer runs it, each with a fresh state folder) and prints, per run, the wall-clock time of
the command, the story's own time and each step's; then the median and the worst of each.
The target is under 90 s for the story. A run that does not exit 0 is reported and counted.

Usage: python bench/demo_story.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEP = re.compile(r"^  done in ([0-9.]+) s$", re.MULTILINE)
STORY = re.compile(r"steps; .* \(([0-9.]+) s\)$", re.MULTILINE)
LIMIT = 600


def one_run() -> tuple[int, float, float | None, list[float]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SELFHEAL_", "ANTHROPIC_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "app"), env.get("PYTHONPATH", "")])
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "selfheal", "demo", "--once", "--port", "0"],
                          env=env, capture_output=True, text=True, timeout=LIMIT,
                          check=False)  # fmt: skip
    wall = time.perf_counter() - started
    story = STORY.search(done.stdout)
    steps = [float(s) for s in STEP.findall(done.stdout)]
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-2000:], sep="\n", file=sys.stderr)
    return done.returncode, wall, float(story.group(1)) if story else None, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    walls: list[float] = []
    stories: list[float] = []
    per_step: list[list[float]] = []
    failed = 0
    for n in range(1, args.runs + 1):
        code, wall, story, steps = one_run()
        failed += code != 0
        walls.append(wall)
        if story is not None:
            stories.append(story)
        per_step.append(steps)
        shown = " ".join(f"{s:.1f}" for s in steps)
        print(f"run {n}: exit {code}, command {wall:.1f} s, story {story} s, steps [{shown}]")
    print(f"command: median {statistics.median(walls):.1f} s, worst {max(walls):.1f} s")
    if stories:
        print(f"story:   median {statistics.median(stories):.1f} s, worst {max(stories):.1f} s "
              "(target: under 90 s)")  # fmt: skip
    for index in range(max((len(s) for s in per_step), default=0)):
        times = [s[index] for s in per_step if len(s) > index]
        median, worst = statistics.median(times), max(times)
        print(f"step {index + 1}:  median {median:.1f} s, worst {worst:.1f} s")
    print(f"runs that did not exit 0: {failed} of {args.runs}")


if __name__ == "__main__":
    main()
