"""The web dashboard's page load times over a ledger with 1,000 requests.

Starts the GitHub emulator and selfheal (the aiohttp app, workers off) in this process, fills
the ledger with ``--requests`` requests (each created and moved through four states, so the
audit log holds five entries per request and a timeline to show), fingerprints and
notifications with attempts, logs in with a token and loads each page ``--runs`` times. It
prints, per page, the median, p95 and max time to the whole body, and the body's size. The
target is under 200 ms a page.

Usage: python bench/dashboard_pages.py [--requests 1000] [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# bench/secrets.py would shadow the standard library's secrets module: leave bench/ off the path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "app"))

import aiohttp  # noqa: E402

REPO = "acme/service"
STATES = ("received", "reviewing", "queued", "coding", "pr_ready")
TARGET_MS = 200.0


def fill(conn: Any, count: int) -> str:
    """``count`` requests with their transitions, 100 fingerprints, 200 notifications; returns
    one request's id (for its page)."""
    from selfheal.ledger import monitor, notifications, requests

    now = time.time() - count
    last = ""
    for n in range(count):
        at = now + n
        request, _ = requests.create_request(
            conn, REPO, n + 1, requester="alice", targets=["app.py"], now=at,
            state="received",
        )  # fmt: skip
        for before, after in itertools.pairwise(STATES[: 2 + n % 4]):
            requests.move(conn, request.id, before, after, event="bench", actor="selfheal",
                          reason="bench", now=at)  # fmt: skip
        conn.execute("UPDATE requests SET data = ? WHERE id = ?",
                     ('{"description": "Fix <b>it</b> please."}', request.id))  # fmt: skip
        last = request.id
    for n in range(100):
        fid = monitor.upsert(conn, REPO, f"{n:064x}", identity=f"id{n}", signature=f"E{n}: boom",
                             sample={"error_type": "E"}, immediate=False, at=now + n)  # fmt: skip
        monitor.add_occurrence(conn, fid, f"run{n}", at=now + n, source="api")
    for n in range(200):
        out = notifications.add(conn, "request.blocked", REPO, "k", "https://hooks.example",
                                b"{}", now=now + n)  # fmt: skip
        notifications.record_attempt(conn, out.id, status_code=500, error="server error",
                                     seconds=0.1, delivered=False)  # fmt: skip
    return last


async def measure(http: aiohttp.ClientSession, url: str, runs: int) -> tuple[list[float], int]:
    times: list[float] = []
    size = 0
    for _ in range(runs):
        start = time.perf_counter()
        async with http.get(url, allow_redirects=False) as resp:
            body = await resp.read()
            assert resp.status == 200, (url, resp.status)
        times.append(1000 * (time.perf_counter() - start))
        size = len(body)
    return times, size


async def main(args: argparse.Namespace) -> int:
    from selfheal.api import tokens
    from selfheal.emulator import Emulator
    from selfheal.emulator.keys import generate_private_key
    from tests.support.api_e2e import api_url
    from tests.support.e2e import Server

    with tempfile.TemporaryDirectory(prefix="selfheal-bench-") as tmp:
        root = Path(tmp)
        emu = Emulator(root / "github", private_key_pem=generate_private_key())
        emu.root.mkdir(parents=True, exist_ok=True)
        await emu.start()
        emu.create_app("selfheal")
        emu.create_repo(REPO, {"app.py": "print('hello')\n"})
        server = await Server.start(emu, root / "ledger.db", SELFHEAL_WORKERS="0")
        try:
            started = time.perf_counter()
            one = server.ledger.write(lambda c: fill(c, args.requests))
            print(f"filled the ledger with {args.requests} requests in "
                  f"{time.perf_counter() - started:.1f} s")  # fmt: skip
            _, token = server.ledger.write(
                lambda c: tokens.create(c, "bench", scopes=["read"], repositories=[REPO])
            )
            base = api_url(server)
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(cookie_jar=jar) as http:
                # the login form sets its CSRF cookie; the post sends the value back
                async with http.get(f"{base}/dashboard/login") as resp:
                    form = await resp.text()
                csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
                async with http.post(f"{base}/dashboard/login", data={"token": token,
                                     "csrf": csrf}, allow_redirects=False) as resp:  # fmt: skip
                    assert resp.status == 303, resp.status
                pages = {
                    "repositories": "/dashboard",
                    "requests": "/dashboard/requests",
                    "requests, filtered": f"/dashboard/requests?repository={REPO}&state=pr_ready",
                    "requests, last page": "/dashboard/requests?offset=900",
                    "request": f"/dashboard/requests/{one}",
                    "monitor": "/dashboard/monitor",
                    "notifications": "/dashboard/notifications",
                    "audit log": "/dashboard/audit",
                }
                worst = 0.0
                print(f"{'page':22s} {'median ms':>10s} {'p95 ms':>8s} {'max ms':>8s} {'KiB':>6s}")
                for name, path in pages.items():
                    await measure(http, base + path, 2)  # warm-up
                    times, size = await measure(http, base + path, args.runs)
                    p95 = sorted(times)[max(0, round(0.95 * len(times)) - 1)]
                    worst = max(worst, p95)
                    print(f"{name:22s} {statistics.median(times):10.1f} {p95:8.1f} "
                          f"{max(times):8.1f} {size / 1024:6.1f}")  # fmt: skip
            verdict = "under" if worst < TARGET_MS else "OVER"
            print(f"\nworst p95 {worst:.1f} ms: {verdict} the {TARGET_MS:.0f} ms target")
        finally:
            await server.stop()
            await emu.stop()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=20)
    sys.exit(asyncio.run(main(parser.parse_args())))
