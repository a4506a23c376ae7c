"""Change request latency: from the request webhook to the draft PR, with the ``rules`` coder
on a 2,000-file repository.

Starts the GitHub emulator and selfheal (the aiohttp app with its workers) in this process,
creates a repository of 2,000 Python files plus a ``requirements.txt`` with a vulnerable pin,
then for each run files a dependency request (a new issue labelled ``selfheal:request``) and
waits for the draft PR and for the gate on it. It prints each run and the median of:

- intake: issue opened to the request queued for the coder (who asked, reading, pre-review);
- fetch, code, commit+push: the coder job's steps (from the request's recorded timings);
- PR: coded to the draft PR open;
- gate: draft PR to the gate's completed check run;
- total: issue opened to the PR marked ready.

Target: under 10 s to the draft PR, most of it the gate. The first run includes the cold
fetch of the cache clone.

Usage: python bench/request_to_pr.py [--runs 5] [--files 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "app"))

from selfheal.emulator import Emulator  # noqa: E402
from selfheal.emulator.keys import generate_private_key  # noqa: E402
from selfheal.ledger import requests  # noqa: E402
from tests.support.e2e import Server, completed_gate, until  # noqa: E402
from tests.support.forms import render_form  # noqa: E402

REPO = "acme/service"


def module(n: int) -> str:
    return f'"""Module {n}."""\n\n\ndef value_{n}(x: int) -> int:\n    return x + {n}\n'


async def one_run(emu: Emulator, server: Server, n: int) -> dict[str, float]:
    repo = emu.repo(REPO)
    alice = emu.person("alice", "write")
    body = render_form({"type": "dependency", "description": f"Bump requests ({n}).",
                        "target_files": "requirements.txt", "priority": "8"})  # fmt: skip
    # Each run starts from the vulnerable pin again.
    await alice.push(repo, "main", {"requirements.txt": f"requests==2.19.0  # run {n}\n"})
    started = time.monotonic()
    issue = await alice.open_issue(repo, f"Bump requests {n}", body, labels=["selfheal:request"])
    number = int(issue["number"])

    def request() -> requests.Request | None:
        return server.ledger.read(lambda c: requests.find_by_issue(c, REPO, number))

    def queued() -> bool:
        found = request()
        return found is not None and found.state not in ("received", "reviewing")

    await until(queued, timeout=120, what="queued")
    queued_at = time.monotonic()
    found = await until(lambda: (r := request()) is not None and r.pr_number and r, timeout=120)
    pr_at = time.monotonic()
    pr = repo.issues[found.pr_number]
    await until(lambda: completed_gate(repo, pr.pull.head_sha), timeout=120, what="gate")
    gate_at = time.monotonic()
    await until(lambda: not pr.pull.draft, timeout=60, what="ready")
    ready_at = time.monotonic()
    timings = found.data.get("timings") or {}
    coding = sum(float(v) for v in timings.values())
    return {
        "intake": queued_at - started,
        "fetch": float(timings.get("fetch", 0.0)),
        "code": float(timings.get("code", 0.0)),
        "commit+push": float(timings.get("commit_push", 0.0)),
        "PR": max(0.0, (pr_at - queued_at) - coding),
        "to draft PR": pr_at - started,
        "gate": gate_at - pr_at,
        "total": ready_at - started,
    }


async def main(runs: int, files: int, secret_engine: str) -> None:
    with tempfile.TemporaryDirectory(prefix="selfheal-bench-") as tmp:
        root = Path(tmp)
        emu = Emulator(root / "github", private_key_pem=generate_private_key())
        emu.root.mkdir(parents=True, exist_ok=True)
        await emu.start()
        emu.create_app("selfheal")
        tree = {f"pkg/mod_{i:04d}.py": module(i) for i in range(files)}
        tree["requirements.txt"] = "requests==2.19.0\n"
        repo = emu.create_repo(REPO, tree)
        # the runs' PRs stay open: lift the limits on the bot's PRs, which would queue them
        server = await Server.start(emu, root / "ledger.db", SELFHEAL_MAX_OPEN_PRS="1000",
                                    SELFHEAL_MAX_NEW_PRS_PER_HOUR="1000",
                                    SELFHEAL_SECRET_ENGINE=secret_engine)  # fmt: skip
        try:
            emu.install([repo])
            await until(lambda: "selfheal:request" in repo.labels, what="labels")
            results = []
            for n in range(runs):
                result = await one_run(emu, server, n)
                results.append(result)
                shown = "  ".join(f"{k} {v:6.2f} s" for k, v in result.items())
                print(f"run {n + 1}: {shown}", flush=True)
            print(f"\nmedian of {runs} runs ({files} files):")
            for key in results[0]:
                print(f"  {key:12s} {statistics.median(r[key] for r in results):6.2f} s")
        finally:
            await server.stop()
            await emu.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument(
        "--secret-engine",
        choices=("auto", "kingfisher", "builtin"),
        default="auto",
        help="SELFHEAL_SECRET_ENGINE for the coder's review",
    )
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.files, args.secret_engine))
