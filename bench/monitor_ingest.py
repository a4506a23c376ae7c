"""Monitor ingestion through HTTP: events per second, and memory over 100,000 events.

    python bench/monitor_ingest.py [--events 100000] [--batch 10] [--concurrency 8]

A loopback aiohttp server takes ``POST /api/monitor/events`` and hands the body to the
monitor's sink (:class:`selfheal.monitor.Ingest`) as the API's handler does, over a real
ledger file; the client posts failure events from 2,000 distinct bugs (different hosts, line
numbers, ids and runs). Prints the rate for the whole run and per 10,000 events with the
process's resident memory, so a leak shows as a climbing column, and then the rate with one
event per request: with the client in this process (sharing its core and event loop with the
server, as before) and with the client in a child process of its own, as a real reporter
is. The target is 2,000 events/s. Token checks are the API's and are not
part of this figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "app"))  # the source root

from aiohttp import ClientSession, web

from selfheal.ledger import Ledger
from selfheal.monitor import EventError, Ingest

ROOT = Path(__file__).resolve().parent.parent
PAGE = os.sysconf("SC_PAGE_SIZE")
CHILD_TIMEOUT = 600.0


def rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE / (1024 * 1024)


def event(rng: random.Random, n: int) -> dict[str, Any]:
    bug = rng.randrange(2_000)
    host = rng.choice(["/srv/a", "/srv/b", "/home/runner/work/w/w", "/opt/deploy/w"])
    line = rng.randrange(1, 500)
    trace = (f"Traceback (most recent call last):\n  File \"{host}/app/mod{bug % 40}.py\", "
             f"line {line}, in handler{bug}\n    run()\nValueError: bad {n}\n")  # fmt: skip
    return {"source": "agent", "agent_id": f"agent-{bug % 7}", "error_type": "ValueError",
            "message": f"bad value {rng.randrange(10**6)}", "stack_trace": trace,
            "affected_files": [f"app/mod{bug % 40}.py"], "run_id": f"run-{n}",
            "timestamp": time.time()}  # fmt: skip


async def serve(sink: Ingest) -> tuple[web.AppRunner, str]:
    async def post(request: web.Request) -> web.Response:
        try:
            count = await sink.record(await request.json(), reporter="bench",
                                      repository="acme/widgets")  # fmt: skip
        except (EventError, ValueError) as exc:
            return web.json_response({"error": str(exc)[:200]}, status=422)
        return web.json_response({"recorded": count}, status=202)

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post("/api/monitor/events", post)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/api/monitor/events"


async def drive(
    url: str, total: int, batch: int, concurrency: int, report: bool, start: int = 0
) -> float:
    rng = random.Random(7 + start)
    bodies = (json.dumps([event(rng, start + n + i) for i in range(batch)])
              for n in range(0, total, batch))  # fmt: skip
    sent = 0
    started = mark = time.perf_counter()
    lock = asyncio.Lock()

    async def client(session: ClientSession) -> None:
        nonlocal sent, mark
        while True:
            async with lock:
                body = next(bodies, None)
            if body is None:
                return
            headers = {"Content-Type": "application/json"}
            async with session.post(url, data=body, headers=headers) as resp:
                assert resp.status == 202, await resp.text()
            async with lock:
                sent += batch
                if report and sent % 10_000 == 0:
                    now = time.perf_counter()
                    print(f"  {sent:>7} events  {10_000 / (now - mark):>7.0f}/s"
                          f"  rss {rss_mib():6.1f} MiB")  # fmt: skip
                    mark = now

    async with ClientSession() as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
    return sent / (time.perf_counter() - started)


def _drive_elsewhere(url: str, total: int, batch: int, concurrency: int, start: int,
                     out: Any) -> None:  # fmt: skip
    out.put(asyncio.run(drive(url, total, batch, concurrency, report=False, start=start)))


async def drive_in_a_process(
    url: str, total: int, batch: int, concurrency: int, start: int
) -> float:
    """``drive`` from a child process: the client's own work (building and posting requests,
    reading replies) no longer shares this process's core and event loop with the server."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    child = context.Process(target=_drive_elsewhere,
                            args=(url, total, batch, concurrency, start, out))  # fmt: skip
    child.start()
    loop = asyncio.get_running_loop()
    try:
        rate: float = await loop.run_in_executor(None, out.get, True, CHILD_TIMEOUT)
    finally:
        await loop.run_in_executor(None, child.join, CHILD_TIMEOUT)
        if child.is_alive():
            child.kill()
    return rate


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Ledger.open(Path(tmp) / "ledger.db") as ledger:
        runner, url = await serve(Ingest(ledger))
        try:
            print(f"{args.events} events, {args.batch} per request, {args.concurrency} clients")
            rate = await drive(url, args.events, args.batch, args.concurrency, report=True)
            print(f"batched: {rate:.0f} events/s (target 2,000)")
            single = await drive(url, min(10_000, args.events), 1, args.concurrency,
                                 report=False, start=args.events)  # fmt: skip
            print(f"one event per request, client in this process: {single:.0f} events/s")
            apart = await drive_in_a_process(url, min(10_000, args.events), 1, args.concurrency,
                                             start=args.events * 2)  # fmt: skip
            print(f"one event per request, client in its own process: {apart:.0f} events/s")
            size = (Path(tmp) / "ledger.db").stat().st_size / (1024 * 1024)
            print(f"ledger file {size:.1f} MiB, rss {rss_mib():.1f} MiB")
        finally:
            await runner.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
