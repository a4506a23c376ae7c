"""Rule quality on our own labelled handlers, side by side with bandit: prints figures.

    python bench/rule_quality.py [--show]

The cases (tests/support/rule_cases.py) are small Flask and Django views, half vulnerable,
half safe, twenty or more per class. Both tools scan the same files in the same run:

* selfheal: the bundled semgrep rules through the scan pipeline; a file counts as flagged
  for a class when a finding of that class's rules is in it;
* bandit: ``bandit -r`` with JSON output; a file counts as flagged when a finding of the
  bandit tests that cover the class is in it (bandit has none for path traversal, XPath
  injection or session trust boundaries, so it flags nothing there).

Per class and overall it prints TPR (vulnerable files flagged), FPR (safe files flagged) and
TPR-FPR. Targets for selfheal: at least +0.60 overall and +0.40 in every class.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))  # the source root
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support

from selfheal.scanner.engine import ScanOptions, scan_path
from tests.support.rule_cases import RuleCase, generate, write

OURS: dict[str, frozenset[str]] = {
    "command-injection": frozenset({"python-command-injection"}),
    "code-injection": frozenset({"python-code-injection"}),
    "path-traversal": frozenset({"python-path-traversal"}),
    "xpath-injection": frozenset({"python-xpath-injection"}),
    "reflected-xss": frozenset({"python-xss", "python-template-injection"}),
    "trust-boundary": frozenset({"python-session-trust-boundary"}),
    "weak-randomness": frozenset(
        {"python-weak-random-for-secret", "python-weak-random-security-value"}
    ),
}
BANDIT: dict[str, frozenset[str]] = {
    "command-injection": frozenset({"B602", "B604", "B605", "B607"}),
    "code-injection": frozenset({"B307", "B102"}),
    "path-traversal": frozenset(),
    "xpath-injection": frozenset({"B320"}),
    "reflected-xss": frozenset({"B308", "B703", "B704", "B701"}),
    "trust-boundary": frozenset(),
    "weak-randomness": frozenset({"B311"}),
}

Flagged = dict[str, set[str]]  # file name -> rule ids / test ids


def selfheal_findings(root: Path) -> Flagged:
    options = ScanOptions(scanners=frozenset({"semgrep"}), include_tests=True)
    report = scan_path(root, options)
    if report.errors:
        raise SystemExit(f"selfheal scan incomplete: {report.errors}")
    found: Flagged = defaultdict(set)
    for finding in report.findings:
        found[finding.path].add(finding.rule_id)
    return found


def bandit_findings(root: Path) -> Flagged:
    argv = [sys.executable, "-m", "bandit", "-r", ".", "-f", "json", "-q"]
    done = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=600)
    report = json.loads(done.stdout)
    found: Flagged = defaultdict(set)
    for result in report.get("results", []):
        found[str(result["filename"]).removeprefix("./")].add(str(result["test_id"]))
    return found


def rates(
    cases: list[RuleCase], flagged: Flagged, wanted: dict[str, frozenset[str]]
) -> dict[str, tuple[float, float]]:
    """class -> (TPR, FPR), and "overall" (macro average over the classes)."""
    table: dict[str, tuple[float, float]] = {}
    for klass in wanted:
        mine = [c for c in cases if c.klass == klass]
        hit = [c for c in mine if flagged.get(c.name, set()) & wanted[klass]]
        vulnerable = [c for c in mine if c.vulnerable]
        safe = [c for c in mine if not c.vulnerable]
        tpr = sum(c.vulnerable for c in hit) / len(vulnerable)
        fpr = sum(not c.vulnerable for c in hit) / len(safe)
        table[klass] = (tpr, fpr)
    tprs = [t for t, _ in table.values()]
    fprs = [f for _, f in table.values()]
    table["overall"] = (sum(tprs) / len(tprs), sum(fprs) / len(fprs))
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="list the files each tool got wrong")
    args = parser.parse_args()
    cases = generate()
    counts = defaultdict(int)
    for case in cases:
        counts[case.klass] += 1
    print(f"{len(cases)} cases: " + ", ".join(f"{k} {n}" for k, n in counts.items()))
    with tempfile.TemporaryDirectory(prefix="selfheal-rule-bench-") as tmp:
        root = Path(tmp)
        write(cases, root)
        start = time.perf_counter()
        ours = selfheal_findings(root)
        ours_s = time.perf_counter() - start
        start = time.perf_counter()
        theirs = bandit_findings(root)
        theirs_s = time.perf_counter() - start
    mine, bandit = rates(cases, ours, OURS), rates(cases, theirs, BANDIT)
    print(f"{'class':18} {'selfheal TPR  FPR  TPR-FPR':>27}   {'bandit TPR  FPR  TPR-FPR':>25}")
    for klass in [*OURS, "overall"]:
        (t1, f1), (t2, f2) = mine[klass], bandit[klass]
        ours_row = f"{t1:12.2f} {f1:4.2f} {t1 - f1:+8.2f}"
        print(f"{klass:18} {ours_row}   {t2:10.2f} {f2:4.2f} {t2 - f2:+8.2f}")
    print(f"time: selfheal {ours_s:.1f} s, bandit {theirs_s:.1f} s")
    if args.show:
        for case in cases:
            got = bool(ours.get(case.name, set()) & OURS[case.klass])
            if got != case.vulnerable:
                wrong = "missed" if case.vulnerable else "false positive"
                print(f"  selfheal {wrong}: {case.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
