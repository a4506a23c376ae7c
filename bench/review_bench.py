"""Print figures for the reviewer's pure parts: policy matching, diff parsing, git ranges.

Usage: python bench/review_bench.py [REPO]   (REPO defaults to this checkout)
Semgrep is not involved here; the scan engine has its own bench.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import pygit2

from selfheal.model.policy import load_effective_policy
from selfheal.resources import policies_dir
from selfheal.reviewer.diffparse import parse_diff
from selfheal.reviewer.gitchanges import changeset_from_git
from selfheal.reviewer.reviewer import path_findings


def _timed(label: str, count: float, unit: str, action: Callable[[], object]) -> None:
    start = time.perf_counter()
    action()
    elapsed = time.perf_counter() - start
    print(f"{label:<44} {count / elapsed:>14,.0f} {unit}/s   ({elapsed:.3f} s)")


def main() -> int:
    repo_path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
    policy = load_effective_policy((policies_dir() / "examples" / "seed.policy").read_text())
    paths = [f"pkg{i % 50}/sub{i % 7}/module_{i}.py" for i in range(100_000)]
    _timed("policy.match (defaults + seed example)", len(paths), "paths", lambda: [
        policy.match(p) for p in paths
    ])  # fmt: skip

    body = "".join(f"+line {n} = compute({n})\n" for n in range(1, 501))
    diff = "".join(
        f"diff --git a/src/f{i}.py b/src/f{i}.py\n--- a/src/f{i}.py\n+++ b/src/f{i}.py\n"
        f"@@ -0,0 +1,500 @@\n{body}"
        for i in range(400)
    ).encode()
    mib = len(diff) / 1_048_576
    _timed(f"parse_diff ({mib:.1f} MiB, 400 files)", mib, "MiB", lambda: (
        parse_diff(diff)
    ))  # fmt: skip

    repo = pygit2.Repository(pygit2.discover_repository(str(repo_path)))
    head = repo.revparse_single("HEAD").peel(pygit2.Commit)
    walker = repo.walk(head.id, pygit2.enums.SortMode.TIME)
    first = None
    for commit in walker:
        first = commit
    assert first is not None
    changes = changeset_from_git(repo_path, str(first.id), str(head.id))
    count = len(changes.files)
    _timed(f"changeset_from_git (first..HEAD, {count} files)", count, "files", lambda: (
        changeset_from_git(repo_path, str(first.id), str(head.id))
    ))  # fmt: skip
    _timed("path_findings on that range", count, "files", lambda: path_findings(changes, policy))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
