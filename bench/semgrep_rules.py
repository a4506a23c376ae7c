"""Speed of the bundled semgrep rules: prints figures, asserts nothing.

    python bench/semgrep_rules.py [FOLDER] [--top 10]

Runs ``run_semgrep`` over FOLDER (default: this repository's ``app/`` package) and prints files
scanned, wall time and files per second, then one more semgrep run with ``--time`` to list the
rules that cost the most matching time.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))  # the source root

from selfheal.resources import rules_dir
from selfheal.scanner.semgrep import (
    _environment,
    command,
    find_semgrep,
    rule_files,
    run_semgrep,
    tree_targets,
)


def per_rule_times(root: Path, targets: list[str]) -> collections.Counter[str]:
    argv = command(find_semgrep(), rule_files(rules_dir()), targets)
    argv.insert(argv.index("--"), "--time")
    done = subprocess.run(
        argv, cwd=root, env=_environment(), capture_output=True, text=True, check=False
    )
    timing = json.loads(done.stdout).get("time", {})
    ids = [r["id"] if isinstance(r, dict) else str(r) for r in timing.get("rules", [])]
    totals: collections.Counter[str] = collections.Counter()
    for target in timing.get("targets", []):
        for index, seconds in enumerate(target.get("match_times", [])):
            totals[ids[index]] += seconds
    return totals


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", nargs="?", default=str(Path(__file__).parent.parent / "app"))
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    root = Path(args.folder).resolve()

    start = time.perf_counter()
    result = run_semgrep(root)
    elapsed = time.perf_counter() - start
    rules = sum(1 for _ in rule_files(rules_dir()))
    print(f"rule files: {rules}")
    print(f"files scanned: {result.scanned}  findings: {len(result.findings)}")
    print(f"wall time: {elapsed:.1f} s  ({result.scanned / elapsed:.1f} files/s)")

    totals = per_rule_times(root, tree_targets(root))
    print(f"matching time by rule (top {args.top}, summed over files):")
    for rule_id, seconds in totals.most_common(args.top):
        print(f"  {seconds:7.2f} s  {rule_id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
