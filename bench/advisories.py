"""Advisory data and dependency matching speed: prints figures, asserts nothing.

    python bench/advisories.py [--seconds 2]

Reports the time to load the bundled snapshot, lookups per second for exact pins (names
drawn from the data, half of them vulnerable versions), and the time to scan a
requirements file of a few hundred pins.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))  # the source root

from selfheal.scanner.advisories import AdvisoryDB, bundled_path
from selfheal.scanner.deps import scan_dependencies
from selfheal.scanner.versions import parse_version


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()

    start = time.perf_counter()
    db = AdvisoryDB.load(bundled_path())
    load = time.perf_counter() - start
    print(f"load bundled snapshot: {load * 1000:.0f} ms ({len(db.advisories)} advisories)")

    rng = random.Random(7)
    mentioned: dict[str, set[str]] = {}
    for adv in db.advisories:
        for aff in adv.affected:
            found = {v for r in aff.ranges for _, v in r if v != "0" and parse_version(v)}
            mentioned.setdefault(aff.package, set()).update(found)
    # One pin per distinct package (as in a real requirements file), at a version the data
    # mentions (an introduced or fixed version), so a good share of pins are vulnerable.
    pins = [f"{name}=={rng.choice(sorted(vs))}" for name, vs in mentioned.items() if vs]
    rng.shuffle(pins)

    first = time.perf_counter()
    text = "\n".join(pins[:300]) + "\n"
    findings = scan_dependencies(["requirements.txt"], {"requirements.txt": text}.get, db)
    cold = time.perf_counter() - first
    print(
        f"scan a 300-pin requirements.txt (cold cache): {cold * 1000:.0f} ms, "
        f"{len(findings)} findings"
    )
    print(f"load + cold scan: {(load + cold) * 1000:.0f} ms")

    files = {
        f"r{i}/requirements.txt": "\n".join(pins[i * 50 : (i + 1) * 50]) + "\n"
        for i in range(len(pins) // 50)
    }
    lookups = 0
    deadline = time.perf_counter() + args.seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        for path, body in files.items():
            scan_dependencies([path], {path: body}.get, db)
            lookups += body.count("\n")
    elapsed = time.perf_counter() - started
    print(f"pin lookups (parse + match, warm): {lookups / elapsed:,.0f} per second")
    print(f"requirements files per second (50 pins each): {lookups / 50 / elapsed:,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
