"""Scan speed: prints figures, asserts nothing.

    python bench/scan.py [--package anthropic] [--changed 10]

Copies an installed package (default: the anthropic SDK, 3,000+ Python files) into a temporary
git repository and reports:

* full scan: wall time of ``selfheal scan`` against ``semgrep`` alone with the same rules on
  the same tree (given as separate files, and packed into one file as selfheal does), the
  ratios, and the peak RSS of the largest process of each run;
* diff-aware scan: ``selfheal scan --base HEAD`` after changing ``--changed`` files;
* the secret detector and the dependency scanner alone, in files per second.

selfheal runs osemgrep and, where installed, Kingfisher beside it (docs/secrets.md). The
comparison is made against both semgrep front ends; Kingfisher's rule cache is compiled once
into a private SELFHEAL_HOME before the timed runs (as a running gate has it in its data
directory), and the compile time is printed.
"""

from __future__ import annotations

import argparse
import importlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))  # the source root

import pygit2

from selfheal.resources import rules_dir
from selfheal.scanner.engine import ScanOptions, scan_path
from selfheal.scanner.semgrep import rule_files
from selfheal.scanner.semgrep_engine import alias_free_config

ENV = {**os.environ, "SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"}
MEASURE = (
    "import resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "wall = time.perf_counter() - start\n"
    "print(code, wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def measure(argv: list[str], cwd: Path) -> tuple[int, float, int]:
    """(exit code, wall seconds, peak RSS in KiB of the largest process) of one command."""
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, *argv], cwd=cwd, env=ENV, capture_output=True, text=True
    )
    code, wall, rss = out.stdout.split()
    return int(code), float(wall), int(rss)


def build_tree(package: str, dest: Path) -> int:
    source = Path(importlib.import_module(package).__file__ or "").parent
    shutil.copytree(source, dest / package, ignore=shutil.ignore_patterns("__pycache__"))
    repo = pygit2.init_repository(str(dest))
    repo.index.add_all()
    repo.index.write()
    sig = pygit2.Signature("bench", "bench@example.com")
    repo.create_commit("HEAD", sig, sig, "tree", repo.index.write_tree(), [])
    return sum(1 for p in dest.rglob("*") if p.is_file() and ".git" not in p.parts)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--package", default="anthropic")
    parser.add_argument("--changed", type=int, default=10)
    args = parser.parse_args()
    rules = rule_files(rules_dir())
    with tempfile.TemporaryDirectory(prefix="selfheal-bench-") as tmp:
        root = Path(tmp) / "tree"
        files = build_tree(args.package, root)
        print(f"tree: {args.package}, {files} files, {len(rules)} rule files")
        ENV["SELFHEAL_HOME"] = str(Path(tmp) / "home")
        warm = Path(tmp) / "warm"
        warm.mkdir()
        (warm / "a.py").write_text("x = 1\n")
        _, kf_wall, _ = measure(["selfheal", "scan", ".", "--no-progress"], warm)
        print(f"first scan with an empty Kingfisher cache (compiles its rules): {kf_wall:.2f} s")

        semgrep_argv = ["semgrep", "scan", "--metrics=off", "--disable-version-check", "--json"]
        semgrep_argv += [arg for f in rules for arg in ("--config", str(f))] + ["."]
        code, sg_wall, sg_rss = measure(semgrep_argv, root)
        print(f"semgrep alone:   {sg_wall:7.2f} s  peak RSS {sg_rss / 1024:6.0f} MiB  exit {code}")
        # The same rules as one config file, as selfheal passes them (app/scan/semgrep_engine.py).
        packed = alias_free_config(rules)
        packed_argv = [*semgrep_argv[:5], "--config", str(packed), "."]
        code, pk_wall, pk_rss = measure(packed_argv, root)
        print(f"semgrep, packed: {pk_wall:7.2f} s  peak RSS {pk_rss / 1024:6.0f} MiB  exit {code}")
        selfheal = [
            "selfheal",
            "scan",
            ".",
            "--format",
            "json",
            "--no-progress",
            "--fail-on",
            "none",
        ]
        code, sh_wall, sh_rss = measure(selfheal, root)
        print(f"selfheal scan:   {sh_wall:7.2f} s  peak RSS {sh_rss / 1024:6.0f} MiB  exit {code}")
        print(f"ratio selfheal/semgrep: {sh_wall / sg_wall:.2f} (target <= 1.20)")
        print(f"ratio selfheal/semgrep with the packed config: {sh_wall / pk_wall:.2f}")
        osemgrep_argv = [*semgrep_argv[:2], "--experimental", *semgrep_argv[2:5]]
        code, os_wall, os_rss = measure([*osemgrep_argv, "--config", str(packed), "."], root)
        print(f"osemgrep, packed: {os_wall:6.2f} s  peak RSS {os_rss / 1024:6.0f} MiB  exit {code}")
        print(f"ratio selfheal/osemgrep packed (the same engine): {sh_wall / os_wall:.2f}")

        changed = sorted(root.rglob("*.py"))[: args.changed]
        for path in changed:
            with path.open("a") as handle:
                handle.write("\nprint('changed')\n")
        code, wall, rss = measure([*selfheal, "--base", "HEAD"], root)
        print(f"diff-aware scan of {len(changed)} changed files: {wall:.2f} s (target < 5 s), "
              f"peak RSS {rss / 1024:.0f} MiB, exit {code}")  # fmt: skip
        targets = [str(p.relative_to(root)) for p in changed]
        packed_os = [*osemgrep_argv, "--config", str(packed), "--", *targets]
        code, wall, _ = measure(packed_os, root)
        print(f"osemgrep alone on the same {len(changed)} files: {wall:.2f} s, exit {code}")

        cache = Path(tmp) / "home" / "cache" / "kingfisher"
        runs = [("secrets", None), ("secrets", "builtin"), ("dependencies", None)]
        for scanner, engine in runs:
            start = time.perf_counter()
            options = ScanOptions(scanners=frozenset({scanner}), secret_engine=engine)
            options.secret_engine_cache = cache
            report = scan_path(root, options)
            wall = time.perf_counter() - start
            rate = report.files_scanned / wall if wall else 0.0
            n = report.files_scanned
            name = f"{scanner} ({engine or 'with Kingfisher'})" if scanner == "secrets" else scanner
            print(f"{name} alone: {n} files in {wall:.2f} s = {rate:,.0f} files/s")
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"bench process peak RSS: {own / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
