"""The `anthropic` coder's costs that are not the model's: the budget meter per call, the
tool-use loop per turn, and a request to its draft PR with a scripted model of five turns.

1. meter: ``before_call`` plus ``record`` (pricing the usage, charging the run), in process;
   then the same with each call written to the ledger (``spend.record_call``: the row, the
   request's total and the audit entry, one transaction), which the lifecycle does per call.
2. loop: the coder against the fake Messages API on loopback through the real SDK, five
   turns a run (list, read, search, replace, finish) on a 200-file work tree with the path
   guard; the time inside ``messages.create`` (the SDK and the HTTP round trip to the fake)
   is measured and taken out, leaving the loop's own work per turn (prompt estimate, meter,
   tools on the guarded workspace, message bookkeeping).
3. request to draft PR: the GitHub emulator, selfheal's server and worker, the fake model
   scripted for five turns; from the issue opened to the draft PR, and the coder job's split.

Usage: python bench/model_coder.py [--calls 20000] [--runs 5] [--files 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "app"))

from selfheal.coder import anthropic_coder  # noqa: E402
from selfheal.coder.interface import BackendOptions, CodeTask, Limits, RunControl  # noqa: E402
from selfheal.coder.meter import meter_for  # noqa: E402
from selfheal.coder.runner import run_coder  # noqa: E402
from selfheal.config.secret import Secret  # noqa: E402
from selfheal.emulator import Emulator  # noqa: E402
from selfheal.emulator.keys import generate_private_key  # noqa: E402
from selfheal.ledger import Ledger, requests, spend  # noqa: E402
from selfheal.model.policy import load_default_policy  # noqa: E402
from selfheal.model.prices import Usage, shipped_price_table  # noqa: E402
from tests.support.coder import make_worktree  # noqa: E402
from tests.support.e2e import Server, until  # noqa: E402
from tests.support.fake_anthropic import API_KEY, FakeAnthropic, Turn, finish  # noqa: E402
from tests.support.forms import render_form  # noqa: E402

MODEL = "claude-sonnet-4-5"
REPO = "acme/service"


def module(n: int) -> str:
    return f'"""Module {n}."""\n\n\ndef value_{n}(x: int) -> int:\n    return x + {n}\n'


def five_turns(n: int) -> list[Turn]:
    path = f"pkg/mod_{n:04d}.py"
    return [
        Turn(tools=[("list_files", {"path": "pkg"})], cache_write_5m=2000),
        Turn(tools=[("read_file", {"path": path})], cache_read=2000),
        Turn(tools=[("search", {"text": f"value_{n}"})], cache_read=2000),
        Turn(tools=[("replace", {"path": path, "old": f"x + {n}", "new": f"{n} + x"})]),
        finish(f"Swapped the operands in {path}."),
    ]


def bench_meter(calls: int, db: Path) -> None:
    table = shipped_price_table()
    control = RunControl(Limits(budget_usd=1e9))
    meter = meter_for(table, MODEL, control)
    usage = Usage(1200, 300, 100, 50, 800)
    started = time.perf_counter()
    for _ in range(calls):
        meter.before_call(5000, 4096)
        meter.record(usage)
    pure = (time.perf_counter() - started) / calls
    with Ledger.open(db) as ledger:
        request, _ = ledger.write(lambda c: requests.create_request(c, REPO, 1, requester="a"))
        row = spend.Call(request.id, "coding_agent", MODEL, 1200, 300, 100, 50, 800, 0.01, 1.0)
        persisted_calls = min(calls, 2000)
        started = time.perf_counter()
        for _ in range(persisted_calls):
            ledger.write(lambda c: spend.record_call(c, row))
        persisted = (time.perf_counter() - started) / persisted_calls
    print("meter, per call:")
    print(f"  price + worst case + charge       {pure * 1e6:8.2f} us  ({calls} calls)")
    print(
        f"  + the ledger row and audit entry  {persisted * 1e6:8.2f} us  ({persisted_calls} calls)"
    )


def bench_loop(runs: int, files: int, tmp: Path) -> None:
    tree = {f"pkg/mod_{i:04d}.py": module(i) for i in range(files)}
    fake = FakeAnthropic().start()
    inside: list[float] = []
    totals: list[float] = []
    loops: list[float] = []
    try:
        for n in range(runs):
            root = tmp / f"loop-{n}"
            make_worktree(root, tree)
            fake.add(*five_turns(n))
            options = BackendOptions(model=MODEL, api_key=Secret(API_KEY), base_url=fake.base_url)
            coder = anthropic_coder.AnthropicCoder(options)
            made = coder._client

            def timed_client(made: Any = made) -> Any:
                client = made()
                create = client.messages.create

                def wrapper(*args: Any, **kwargs: Any) -> Any:
                    t = time.perf_counter()
                    try:
                        return create(*args, **kwargs)
                    finally:
                        inside.append(time.perf_counter() - t)

                client.messages.create = wrapper
                return client

            coder._client = timed_client  # type: ignore[method-assign]
            run = coder.run

            def timed_run(*args: Any, run: Any = run) -> Any:
                t = time.perf_counter()
                try:
                    return run(*args)
                finally:
                    loops.append(time.perf_counter() - t)

            coder.run = timed_run  # type: ignore[method-assign]
            task = CodeTask(f"bench-{n}", "Swap the operands.", "refactor", ("pkg/",))
            defaults = load_default_policy()
            started = time.perf_counter()
            coding = run_coder(coder, root, task, Limits(), policy=defaults, defaults=defaults,
                               scan=False)  # fmt: skip
            totals.append(time.perf_counter() - started)
            assert coding.result.files_changed == (f"pkg/mod_{n:04d}.py",), coding.result
    finally:
        fake.stop()
    turns = 5 * runs
    per_turn = sum(loops) / turns
    per_call = sum(inside) / len(inside)
    wrapper = (sum(totals) - sum(loops)) / runs
    print(f"loop, per turn ({runs} runs of 5 turns, {files}-file tree, guard on, no scan):")
    print(f"  whole turn                         {per_turn * 1e3:8.2f} ms")
    print(f"  inside messages.create (SDK+HTTP)  {per_call * 1e3:8.2f} ms")
    print(f"  the loop's own work                {(per_turn - per_call) * 1e3:8.2f} ms")
    print(
        f"  (per run, outside the loop: the guard's checks, snapshot and review "
        f"{wrapper * 1e3:.1f} ms)"
    )


async def one_request(
    emu: Emulator, server: Server, fake: FakeAnthropic, n: int
) -> dict[str, float]:
    repo = emu.repo(REPO)
    alice = emu.person("alice", "write")
    fake.add(*five_turns(n))
    body = render_form({"type": "refactor", "description": f"Swap the operands ({n}).",
                        "target_files": f"pkg/mod_{n:04d}.py", "priority": "5"})  # fmt: skip
    started = time.monotonic()
    issue = await alice.open_issue(repo, f"Swap {n}", body, labels=["selfheal:request"])
    number = int(issue["number"])

    def found() -> requests.Request | None:
        r = server.ledger.read(lambda c: requests.find_by_issue(c, REPO, number))
        return r if r is not None and r.pr_number else None

    request = await until(found, timeout=120, what="draft PR")
    timings = request.data.get("timings") or {}
    return {
        "to draft PR": time.monotonic() - started,
        "fetch": float(timings.get("fetch", 0.0)),
        "code (5 turns)": float(timings.get("code", 0.0)),
        "commit+push": float(timings.get("commit_push", 0.0)),
        "cost $": request.cost_usd,
    }


async def bench_request(runs: int, files: int, tmp: Path) -> None:
    emu = Emulator(tmp / "github", private_key_pem=generate_private_key())
    emu.root.mkdir(parents=True, exist_ok=True)
    await emu.start()
    emu.create_app("selfheal")
    repo = emu.create_repo(REPO, {f"pkg/mod_{i:04d}.py": module(i) for i in range(files)})
    fake = FakeAnthropic().start()
    agents = json.dumps({"agents": {"coding_agent": {"backend": "anthropic", "model": MODEL}}})
    server = await Server.start(emu, tmp / "ledger.db", wiring=None,
                                ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=fake.base_url,
                                SELFHEAL_CODING_AGENTS=agents)  # fmt: skip
    try:
        emu.install([repo])
        await until(lambda: "selfheal:request" in repo.labels, what="labels")
        results = []
        for n in range(runs):
            result = await one_request(emu, server, fake, n)
            results.append(result)
            print(f"run {n + 1}: " + "  ".join(f"{k} {v:6.3f}" for k, v in result.items()),
                  flush=True)  # fmt: skip
        print(f"request to draft PR, median of {runs} runs ({files} files), seconds:")
        for key in results[0]:
            print(f"  {key:16s} {statistics.median(r[key] for r in results):8.3f}")
    finally:
        await server.stop()
        fake.stop()
        await emu.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--files", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="selfheal-bench-") as tmp:
        root = Path(tmp)
        bench_meter(args.calls, root / "meter.db")
        bench_loop(args.runs, args.files, root)
        asyncio.run(bench_request(args.runs, args.files, root))


if __name__ == "__main__":
    main()
