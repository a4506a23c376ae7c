"""Webhook intake benchmark: signed pull_request deliveries at rising rates to a real server.

Starts ``selfheal serve`` as a subprocess on a loopback port with a fresh ledger, then for each
rate (deliveries/s) sends an open-loop stream for a fixed duration and prints:

- ack latency p50 / p99 / max;
- the sustained rate acknowledged;
- the server's RSS (VmRSS from /proc) when idle and after each step;
- whether every delivery reached the ledger.

A one-second warm-up at 20/s runs first and is not measured (its deliveries are still checked
against the ledger).

Usage: python bench/webhook_intake.py [--rates 50,100,200,400] [--seconds 5] [--workers 2] [--split]

With ``--split`` the deployment is two processes sharing one ledger (``SELFHEAL_WORKERS=0``
in docs/operations.md): a public intake process that runs no workers and a second
``selfheal serve`` on another loopback port that runs them. Both run on the same
two CPUs, so the workers' cost is still measured; it just no longer shares a GIL with intake.

With ``--flood`` it measures memory under unauthenticated load instead: COUNT concurrent posts
of MIB MiB each (default 20 x 24), with no ``X-Hub-Signature-256`` at all, or with
``--flood-signature wrong`` a well-formed one that does not match (those bodies are read and
hashed, within the server's body budget). It prints the server's RSS before, at its peak
(sampled every 50 ms) and after, and every status answered. Usage:
python bench/webhook_intake.py --flood [--flood-count 20] [--flood-mib 24]
[--flood-signature none|wrong]

The payload is GitHub's published ``pull_request.opened`` example (from
@octokit/webhooks-examples) when node_modules is present. The workers run too, because they
share the CPU with intake in production. GITHUB_API_URL points at a closed loopback port, so a
handler that calls GitHub fails fast instead of reaching the internet.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "node_modules/@octokit/webhooks-examples/api.github.com/index.json"
SECRET = "bench-webhook-secret-0123456789"


def example_payload() -> dict[str, Any]:
    if EXAMPLES.is_file():
        for entry in json.loads(EXAMPLES.read_text()):
            if entry["name"] == "pull_request":
                for example in entry["examples"]:
                    if example.get("action") == "opened":
                        return dict(example)
    return {
        "action": "opened",
        "number": 1,
        "pull_request": {"number": 1, "head": {"sha": "a" * 40}},
        "repository": {"id": 1, "full_name": "octo/bench"},
        "installation": {"id": 1},
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(workdir: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SELFHEAL_", "GITHUB_"))}
    env.update(
        SELFHEAL_APP_ID="1",
        SELFHEAL_PRIVATE_KEY=pem,
        SELFHEAL_WEBHOOK_SECRET=SECRET,
        SELFHEAL_DB=str(workdir / "bench.db"),
        SELFHEAL_WORKERS=str(workers),
        SELFHEAL_LOG_LEVEL="INFO",  # the production default: one log line per delivery
        SELFHEAL_JOB_MAX_ATTEMPTS="1",
        GITHUB_API_URL=f"http://127.0.0.1:{free_port()}",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "selfheal", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL,
        stderr=open(workdir / f"server-{port}.log", "wb"),
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: see {workdir / f'server-{port}.log'}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not become healthy")


async def run_step(
    session: aiohttp.ClientSession, url: str, rate: int, seconds: float, template: dict[str, Any],
    tag: str,
) -> tuple[list[float], list[int], list[str], float]:  # fmt: skip
    total = int(rate * seconds)
    latencies: list[float] = []
    statuses: list[int] = []
    ids: list[str] = []
    requests: list[tuple[str, bytes, str]] = []
    for i in range(total):
        payload = dict(template)
        payload["number"] = i
        body = json.dumps(payload).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        requests.append((f"{tag}-{i}", body, signature))

    async def send(delivery_id: str, body: bytes, signature: str) -> None:
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": delivery_id,
            "X-Hub-Signature-256": signature,
        }
        started = time.perf_counter()
        async with session.post(url, data=body, headers=headers) as resp:
            await resp.read()
            latencies.append(time.perf_counter() - started)
            statuses.append(resp.status)
        ids.append(delivery_id)

    loop = asyncio.get_running_loop()
    t0 = loop.time()
    tasks = []
    for i, (delivery_id, body, signature) in enumerate(requests):
        delay = t0 + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(delivery_id, body, signature)))
    await asyncio.gather(*tasks)
    return latencies, statuses, ids, loop.time() - t0


async def flood(
    url: str, pid: int, count: int, size: int, signature: str | None
) -> tuple[list[int], float]:
    """``count`` concurrent posts of ``size`` bytes; the statuses and the server's peak RSS."""
    body = b"{" + b" " * (size - 2) + b"}"  # one buffer shared by every request
    peak = rss_mib(pid)

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, rss_mib(pid))
            await asyncio.sleep(0.05)

    async def send(session: aiohttp.ClientSession, n: int) -> int:
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": f"flood-{n}",
        }
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        try:
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                return resp.status
        except aiohttp.ClientError:
            return -1  # the connection broke before an answer

    sampler = asyncio.create_task(sample())
    try:
        connector = aiohttp.TCPConnector(limit=count)
        async with aiohttp.ClientSession(connector=connector) as session:
            statuses = await asyncio.gather(*(send(session, n) for n in range(count)))
    finally:
        sampler.cancel()
    return list(statuses), peak


async def flood_main(args: argparse.Namespace) -> int:
    signature = {"none": None, "wrong": "sha256=" + "0" * 64}[args.flood_signature]
    with tempfile.TemporaryDirectory(prefix="selfheal-bench-") as tmp:
        port = free_port()
        proc = start_server(Path(tmp), port, args.workers)
        try:
            await asyncio.sleep(1.0)
            before = rss_mib(proc.pid)
            print(f"flood: {args.flood_count} concurrent posts of {args.flood_mib} MiB, "
                  f"signature {args.flood_signature}")  # fmt: skip
            statuses, peak = await flood(
                f"http://127.0.0.1:{port}/webhook", proc.pid, args.flood_count,
                args.flood_mib * 1024 * 1024, signature,
            )  # fmt: skip
            await asyncio.sleep(1.0)
            after = rss_mib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    answers = {status: statuses.count(status) for status in sorted(set(statuses))}
    print(f"server RSS before {before:.1f} MiB, peak {peak:.1f} MiB, after {after:.1f} MiB "
          f"(peak - before: {peak - before:+.1f} MiB)")  # fmt: skip
    print(f"answers: {answers}")
    return 0 if set(statuses) <= {401} else 1


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def main_async(args: argparse.Namespace) -> int:
    template = example_payload()
    with tempfile.TemporaryDirectory(prefix="selfheal-bench-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        proc = start_server(workdir, port, 0 if args.split else args.workers)
        worker_proc = start_server(workdir, free_port(), args.workers) if args.split else None
        try:
            await asyncio.sleep(1.0)
            idle = rss_mib(proc.pid)
            mode = f"split: intake + worker process ({args.workers} workers)" if args.split \
                else f"one process, workers={args.workers}"  # fmt: skip
            print(f"payload: pull_request.opened, {len(json.dumps(template))} bytes; "
                  f"{mode}; {args.seconds:g} s per step")  # fmt: skip
            print(f"server RSS idle: {idle:.1f} MiB; machine load average {os.getloadavg()[0]:.2f}"
                  f" on {os.cpu_count()} CPUs")  # fmt: skip
            print(f"{'rate/s':>7} {'sent':>6} {'202':>6} {'p50 ms':>8} {'p99 ms':>8} "
                  f"{'max ms':>8} {'acked/s':>8} {'RSS MiB':>8} {'CPU ms/d':>8}")  # fmt: skip
            url = f"http://127.0.0.1:{port}/webhook"
            all_ids: list[str] = []
            peak = idle
            ok = True
            connector = aiohttp.TCPConnector(limit=200)
            async with aiohttp.ClientSession(connector=connector) as session:
                # Warm-up, not measured: the first jobs import and initialise the handlers
                # (one-off stalls of ~0.2 s), which says nothing about steady-state intake.
                _, _, warm_ids, _ = await run_step(session, url, 20, 1.0, template, "warm")
                all_ids.extend(warm_ids)
                await asyncio.sleep(2.0)
                for rate in args.rates:
                    cpu_before = cpu_seconds(proc.pid)
                    lat, statuses, ids, wall = await run_step(
                        session, url, rate, args.seconds, template, f"r{rate}"
                    )
                    all_ids.extend(ids)
                    accepted = sum(1 for s in statuses if s == 202)
                    rss = rss_mib(proc.pid)
                    cpu_ms = (cpu_seconds(proc.pid) - cpu_before) * 1000 / max(1, len(lat))
                    peak = max(peak, rss)
                    print(
                        f"{rate:>7} {len(lat):>6} {accepted:>6} "
                        f"{statistics.median(lat) * 1000:>8.1f} "
                        f"{percentile(lat, 0.99) * 1000:>8.1f} "
                        f"{max(lat) * 1000:>8.1f} {accepted / wall:>8.1f} {rss:>8.1f}"
                        f" {cpu_ms:>8.2f}"
                    )
                    ok = ok and accepted == len(lat)
            await asyncio.sleep(1.0)
            conn = sqlite3.connect(workdir / "bench.db")
            stored = {row[0] for row in conn.execute("SELECT delivery_id FROM deliveries")}
            queued = dict(
                conn.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall()
            )
            conn.close()
            missing = [d for d in all_ids if d not in stored]
            print(f"server RSS peak: {peak:.1f} MiB")
            if worker_proc is not None:
                print(f"worker process RSS: {rss_mib(worker_proc.pid):.1f} MiB")
            print(f"ledger: {len(stored)} deliveries stored of {len(all_ids)} sent; "
                  f"missing {len(missing)}; jobs by status {queued}")  # fmt: skip
            ok = ok and not missing and len(stored) == len(all_ids)
            print(
                "RESULT:", "every delivery acknowledged and recorded" if ok else "LOST DELIVERIES"
            )
            return 0 if ok else 1
        finally:
            for running in (proc, worker_proc):
                if running is None:
                    continue
                running.terminate()
                try:
                    running.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    running.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=lambda s: [int(x) for x in s.split(",")],
                        default=[50, 100, 200, 400])  # fmt: skip
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--split", action="store_true", help="intake and workers in two processes")
    parser.add_argument("--flood", action="store_true", help="memory under unauthenticated posts")
    parser.add_argument("--flood-count", type=int, default=20)
    parser.add_argument("--flood-mib", type=int, default=24)
    parser.add_argument("--flood-signature", choices=("none", "wrong"), default="none")
    args = parser.parse_args()
    return asyncio.run(flood_main(args) if args.flood else main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
