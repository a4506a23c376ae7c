"""Grouping quality of the monitor's fingerprints: prints pairwise precision and recall.

    python bench/monitor_grouping.py [--fixture tests/fixtures/monitor/grouping.jsonl]

The fixture is a labelled set of failure events (one JSON object a line, the API's shape
plus a ``group`` label): the same bug seen from different machines, commits, runs and ids
must group together; different bugs that share an exception type, a message or an agent must
not. Every pair of events is one decision: grouped by the fingerprint or not, and labelled
the same or not. Precision is the share of grouped pairs that are truly the same bug; recall
the share of same-bug pairs that were grouped. The target is at least 0.95 for each. The
pairs that went wrong are listed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))  # the source root

from selfheal.monitor import fingerprint, parse_event

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.95


def main() -> int:
    parser = argparse.ArgumentParser()
    fixture = ROOT / "tests" / "fixtures" / "monitor" / "grouping.jsonl"
    parser.add_argument("--fixture", type=Path, default=fixture)
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.fixture.read_text("utf-8").splitlines() if line]
    labelled = [(row.pop("group"), fingerprint(parse_event(row)).value) for row in rows]
    tp = fp = fn = tn = 0
    wrong: list[str] = []
    for (i, (g1, f1)), (j, (g2, f2)) in itertools.combinations(enumerate(labelled), 2):
        same, grouped = g1 == g2, f1 == f2
        if same and grouped:
            tp += 1
        elif grouped:
            fp += 1
            wrong.append(f"  merged   line {i + 1} ({g1}) with line {j + 1} ({g2})")
        elif same:
            fn += 1
            wrong.append(f"  split    line {i + 1} from line {j + 1} ({g1})")
        else:
            tn += 1
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    groups = len({g for g, _ in labelled})
    prints = len({f for _, f in labelled})
    print(f"events {len(labelled)}, labelled groups {groups}, fingerprints {prints}")
    print(f"pairs: {tp} same and grouped, {fp} grouped wrongly, {fn} split wrongly, {tn} apart")
    print(f"pairwise precision {precision:.3f}  recall {recall:.3f}  (target >= {TARGET})")
    for line in wrong[:20]:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
