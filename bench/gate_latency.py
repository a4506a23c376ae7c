"""Gate latency benchmark: webhook to completed check run, on a 2,000-file repository.

Starts the GitHub emulator in this process and ``selfheal serve`` as a subprocess (its own
ledger, its webhook URL registered with the emulator), creates a repository of 2,000 Python
files, then for each run pushes a branch changing 10 files, opens a pull request and times
from the moment the PR is opened (GitHub queues the webhook then) until the
``selfheal/security-gate`` check run is completed. The first run includes the cold fetch of
the cache clone. Prints every run, the median and p90 (target: median under 5 s), and the
server's RSS idle and after the runs (VmRSS / VmHWM from /proc; target under 200 MiB).

Usage: python bench/gate_latency.py [--runs 7] [--files 2000] [--changed 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from selfheal.emulator import Emulator  # noqa: E402
from tests.support.e2e import completed_gate, env_for, free_port, healthy  # noqa: E402


def _rss(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def semgrep_floor(work: Path, *flags: str) -> float:
    """Seconds for semgrep to run ONE small rule on ONE tiny file: its start-up cost here.
    ``--experimental`` measures osemgrep (the gate's default engine) instead of pysemgrep."""
    target = work / "floor.py"
    target.write_text("x = 1\n")
    rule = ROOT / "rules" / "python" / "xxe.yaml"
    argv = ["semgrep", "scan", *flags, "--json", "--metrics=off", "--disable-version-check",
            "--quiet", "--config", str(rule), "--", str(target)]  # fmt: skip
    env = {**os.environ, "SEMGREP_ENABLE_VERSION_CHECK": "0"}
    started = time.perf_counter()
    subprocess.run(argv, env=env, capture_output=True, check=False, timeout=300)
    return time.perf_counter() - started


def module(n: int, variant: int = 0) -> str:
    return (
        f'"""Module {n}."""\n\n\ndef value_{n}(x: int) -> int:\n    return x + {n + variant}\n\n\n'
        f"def name_{n}() -> str:\n    return 'module-{n}-{variant}'\n"
    )


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="selfheal-gate-bench-"))
    emu = Emulator(work / "github")
    emu.root.mkdir(parents=True)
    await emu.start()
    emu.create_app("selfheal")
    files = {f"pkg{n // 100}/mod_{n}.py": module(n) for n in range(args.files)}
    repo = emu.create_repo("bench/big", files)
    bob = emu.person("bob", "write")
    port = free_port()
    emu.set_webhook_url(f"http://127.0.0.1:{port}/webhook")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SELFHEAL_", "GITHUB_"))}
    env.update(env_for(emu, work / "ledger.db", SELFHEAL_LOG_LEVEL="WARNING"))
    env["PYTHONPATH"] = str(ROOT)
    env["SEMGREP_ENABLE_VERSION_CHECK"] = "0"
    server = subprocess.Popen(
        [sys.executable, "-m", "selfheal", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "wb"),
    )  # fmt: skip
    try:
        while not healthy(port):
            if server.poll() is not None:
                raise SystemExit((work / "server.log").read_text())
            await asyncio.sleep(0.1)
        emu.install([repo])
        await emu.drain()
        await asyncio.sleep(1.0)
        idle = _rss(server.pid)
        print(f"repository: {args.files} files; PR: {args.changed} changed files; "
              f"server pid {server.pid}")  # fmt: skip
        timings = []
        for run in range(args.runs):
            step = args.files // args.changed
            picked = range(run * 37 % step, args.files, step)
            changed = {f"pkg{n // 100}/mod_{n}.py": module(n, run + 1) for n in picked}
            changed = dict(list(changed.items())[: args.changed])
            sha = await bob.push(repo, f"bench-{run}", changed, f"bench run {run}")
            started = time.perf_counter()
            await bob.open_pr(repo, f"bench-{run}", f"bench {run}")
            while (gate := completed_gate(repo, sha)) is None:
                await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - started
            timings.append(elapsed)
            print(f"run {run + 1}: {elapsed:.2f} s ({gate.conclusion})", flush=True)
        after = _rss(server.pid)
    finally:
        server.terminate()
        server.wait(30)
        await emu.stop()
    floor = semgrep_floor(work)
    floor_osemgrep = semgrep_floor(work, "--experimental")
    ordered = sorted(timings)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    print(f"gate latency: median {statistics.median(timings):.2f} s, p90 {p90:.2f} s, "
          f"min {ordered[0]:.2f} s, max {ordered[-1]:.2f} s over {len(timings)} runs")  # fmt: skip
    warm = timings[1:] or timings
    print(f"warm runs (cache clone present): median {statistics.median(warm):.2f} s")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"semgrep start-up floor (1 rule, 1 file): pysemgrep {floor:.2f} s, "
          f"osemgrep {floor_osemgrep:.2f} s; load average {load} "
          f"on {os.cpu_count()} CPUs")  # fmt: skip
    print(f"server RSS: idle {idle[0]:.0f} MiB; after the runs {after[0]:.0f} MiB "
          f"(peak {after[1]:.0f} MiB)")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--changed", type=int, default=10)
    asyncio.run(main(parser.parse_args()))
