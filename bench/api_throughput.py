"""API throughput and latency: status reads and request creation (up to the issue being filed).

Starts the GitHub emulator and selfheal (the aiohttp app) in this process, with the workers
off so that only the API works: a request is measured up to the App's issue being filed
(validation, the halt check, the issue created on the emulator, the ledger rows, the audit
entry). The load comes from a separate process (this script with ``--client``), so the
client does not share the server's event loop. It prints, for each of:

- status reads, closed loop (``--concurrency`` callers as fast as they can): calls/s, p50, p99;
- status reads at a fixed 100 calls/s (open loop: each call starts on its schedule, and its
  latency counts from that moment, so a stall is not hidden): p50, p99, max;
- request creation, closed loop: calls/s, p50, p99;
- request creation at a fixed 100 calls/s, the same way (when the server files fewer than
  100 issues a second, the backlog grows and so does the latency: the figure shows it).

The per-token limits are raised for the run (SELFHEAL_API_RATE and friends), since the
point is the server's own cost.

Usage: python bench/api_throughput.py [--seconds 10] [--concurrency 16] [--rate 100]
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

import aiohttp  # noqa: E402

REPO = "acme/service"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _call(kind: str, base: str, change_id: str, n: int) -> tuple[str, str, Any]:
    if kind == "status":
        return "GET", f"{base}/api/code/status/{change_id}", None
    body = {"description": f"Bench request {n}.", "target_files": ["app.py"], "priority": 5}
    return "POST", f"{base}/api/code/request", body


async def _one(session: aiohttp.ClientSession, kind: str, base: str, change_id: str,
               n: int) -> int:  # fmt: skip
    method, url, body = _call(kind, base, change_id, n)
    async with session.request(method, url, json=body) as resp:
        await resp.read()
        return resp.status


async def closed_loop(base: str, token: str, kind: str, change_id: str, seconds: float,
                      concurrency: int) -> dict[str, Any]:  # fmt: skip
    latencies: list[float] = []
    errors: dict[int, int] = {}
    deadline = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}"}
    counter = iter(range(10**9))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:

        async def caller() -> None:
            while time.monotonic() < deadline:
                start = time.monotonic()
                status = await _one(session, kind, base, change_id, next(counter))
                latencies.append(time.monotonic() - start)
                if status >= 300:
                    errors[status] = errors.get(status, 0) + 1

        started = time.monotonic()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
    return {"calls": len(latencies), "per_second": len(latencies) / elapsed,
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * percentile(latencies, 99), "errors": errors}  # fmt: skip


async def open_loop(base: str, token: str, kind: str, change_id: str, seconds: float,
                    rate: float) -> dict[str, Any]:  # fmt: skip
    latencies: list[float] = []
    errors: dict[int, int] = {}
    headers = {"Authorization": f"Bearer {token}"}
    total = int(seconds * rate)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        start = time.monotonic()

        async def scheduled(n: int) -> None:
            due = start + n / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            status = await _one(session, kind, base, change_id, n)
            latencies.append(time.monotonic() - due)
            if status >= 300:
                errors[status] = errors.get(status, 0) + 1

        await asyncio.gather(*(scheduled(n) for n in range(total)))
    return {"calls": total, "rate": rate, "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * percentile(latencies, 99), "max_ms": 1000 * max(latencies),
            "errors": errors}  # fmt: skip


async def client_main(args: argparse.Namespace) -> None:
    base, token, change_id = args.client
    # reads first: every request filed makes the emulator send the server two webhooks, which
    # it records while later runs go on
    runs = {
        "status reads, closed loop": closed_loop(base, token, "status", change_id,
                                                 args.seconds, args.concurrency),
        f"status reads at {args.rate:g}/s": open_loop(base, token, "status", change_id,
                                                     args.seconds, args.rate),
        "request creation, closed loop": closed_loop(base, token, "create", change_id,
                                                     args.seconds, args.concurrency),
        f"request creation at {args.rate:g}/s": open_loop(base, token, "create", change_id,
                                                         args.seconds, args.rate),
    }  # fmt: skip
    for name, run in runs.items():
        print(json.dumps({"run": name, **(await run)}), flush=True)


async def server_main(args: argparse.Namespace) -> None:
    from selfheal.api import tokens
    from selfheal.emulator import Emulator, faults
    from selfheal.emulator.keys import generate_private_key
    from selfheal.ledger import installations
    from tests.support.api_e2e import api_url
    from tests.support.e2e import Server

    # The emulator keeps GitHub's primary limit of 5,000 calls an hour per installation, which
    # a few seconds of this load exhaust (a request costs 4 calls); this measures selfheal's
    # own cost, so the stand-in's bucket is raised. GitHub's limits are in docs/api.md.
    faults.CORE_LIMIT = 10**9
    with tempfile.TemporaryDirectory(prefix="selfheal-bench-") as tmp:
        root = Path(tmp)
        emu = Emulator(root / "github", private_key_pem=generate_private_key())
        emu.root.mkdir(parents=True, exist_ok=True)
        await emu.start()
        emu.create_app("selfheal")
        repo = emu.create_repo(REPO, {"app.py": "print('hello')\n", "README.md": "# s\n"})
        limits = {"SELFHEAL_API_RATE": "1000000", "SELFHEAL_API_BURST": "1000000",
                  "SELFHEAL_API_CONCURRENCY": "10000", "SELFHEAL_WORKERS": "0"}  # fmt: skip
        server = await Server.start(emu, root / "ledger.db", **limits)
        try:
            inst = emu.install([repo])
            server.ledger.write(lambda c: installations.upsert_installation(c, inst.id, "acme"))
            server.ledger.write(
                lambda c: installations.upsert_repository(c, repo.id, REPO, inst.id)
            )
            _, token = server.ledger.write(
                lambda c: tokens.create(c, "bench", scopes=["request", "read"],
                                        repositories=[REPO])
            )  # fmt: skip
            base = api_url(server)
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as s:
                async with s.post(f"{base}/api/code/request",
                                  json={"description": "The one to read."}) as resp:  # fmt: skip
                    change_id = (await resp.json())["change_id"]
            child = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--client", base, token, change_id,
                "--seconds", str(args.seconds), "--concurrency", str(args.concurrency),
                "--rate", str(args.rate), stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            assert child.stdout is not None
            async for line in child.stdout:
                result = json.loads(line)
                name = result.pop("run")
                shown = "  ".join(
                    f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in result.items()
                )
                print(f"{name:36s} {shown}", flush=True)
            await asyncio.wait_for(child.wait(), 30)
            issues = len(repo.issues)
            print(f"\nissues filed on the emulator: {issues}")
        finally:
            await server.stop()
            await emu.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--client", nargs=3, metavar=("URL", "TOKEN", "CHANGE_ID"),
                        help=argparse.SUPPRESS)  # fmt: skip
    parsed = parser.parse_args()
    asyncio.run(client_main(parsed) if parsed.client else server_main(parsed))
