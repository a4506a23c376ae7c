"""`selfheal serve` as a real subprocess: kill -9 mid-job, restart, exactly-once completion;
SIGTERM releases the running job for the next start."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

from selfheal.ledger import Ledger, deliveries, jobs
from tests.support import paths
from tests.support.appcore import base_env, delivery, pull_request_payload
from tests.support.e2e import free_port, healthy
from tests.support.paths import ROOT

PLUGINS = paths.FIXTURES / "appcore" / "plugins"


def _start(tmp_path: Path, port: int, slow: float) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SELFHEAL_", "GITHUB_"))}
    env.update(
        base_env(
            tmp_path / "crash.db",
            SELFHEAL_PLUGINS="selfheal_crash_plugin",
            SELFHEAL_WORKERS="1",
            SELFHEAL_JOB_LEASE_SECONDS="1.5",
            SELFHEAL_SHUTDOWN_GRACE_SECONDS="0.5",
            SELFHEAL_TEST_SLOW_SECONDS=str(slow),
            SELFHEAL_TEST_LOG=str(tmp_path / "progress.log"),
            # The real handlers run too; a closed loopback port keeps them off the internet.
            GITHUB_API_URL=f"http://127.0.0.1:{free_port()}",
        )
    )
    env["PYTHONPATH"] = os.pathsep.join([str(PLUGINS), str(ROOT), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [sys.executable, "-m", "selfheal", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / f"server-{port}-{time.monotonic_ns()}.log", "wb"),
    )  # fmt: skip
    _until(lambda: healthy(port) or proc.poll() is not None, 60)
    assert proc.poll() is None, "server exited during startup"
    return proc


def _post(port: int, body: bytes, headers: dict[str, str]) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/webhook", data=body, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _until(predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def _progress(tmp_path: Path) -> list[str]:
    path = tmp_path / "progress.log"
    return path.read_text().splitlines() if path.exists() else []


def test_kill_9_mid_job_then_restart_completes_exactly_once(tmp_path: Path) -> None:
    port = free_port()
    server = _start(tmp_path, port, slow=60)
    ids = [f"crash-{n}" for n in range(5)]
    sent = []
    for n, delivery_id in enumerate(ids):
        payload = pull_request_payload(number=n + 1)
        payload["pull_request"]["head"]["sha"] = f"{n:040d}"  # one check-run effect each
        sent.append(delivery(payload, delivery_id=delivery_id))
        assert _post(port, *sent[-1]) == 202
    assert _post(port, *sent[0]) == 200  # a redelivery before the crash
    try:
        _until(lambda: f"start {ids[0]}" in _progress(tmp_path), 30)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
    assert f"done {ids[0]}" not in _progress(tmp_path)

    server = _start(tmp_path, port, slow=0)
    try:
        _until(lambda: sum(1 for line in _progress(tmp_path) if line.startswith("done")) >= 5, 60)
        assert _post(port, *sent[0]) == 200  # a redelivery after the restart
        time.sleep(0.5)
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0

    counts = Counter(_progress(tmp_path))
    for d in ids:
        assert counts[f"done {d}"] == 1, counts
        assert counts[f"create {d}"] == 1, counts  # no duplicate "check run" after the crash
    assert counts[f"start {ids[0]}"] == 2  # the killed attempt and the rerun
    with Ledger.open(tmp_path / "crash.db") as ledger:
        assert ledger.read(deliveries.count) == 5
        webhook_jobs = ledger.read(lambda c: jobs.find(c, kind="webhook"))
        assert [(j.payload["delivery_id"], j.status) for j in webhook_jobs] == [
            (d, "done") for d in ids
        ]
        assert [j.attempts for j in webhook_jobs] == [2, 1, 1, 1, 1]
        for d in ids:
            got = ledger.read(functools.partial(deliveries.get_delivery, delivery_id=d))
            assert got is not None and got.outcome == "processed"


def test_sigterm_releases_running_job(tmp_path: Path) -> None:
    port = free_port()
    server = _start(tmp_path, port, slow=60)
    body, headers = delivery(delivery_id="term-1")
    assert _post(port, body, headers) == 202
    try:
        _until(lambda: "start term-1" in _progress(tmp_path), 30)
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=30)
    assert code == 0
    with Ledger.open(tmp_path / "crash.db") as ledger:
        (job,) = ledger.read(lambda c: jobs.find(c, kind="webhook"))
        assert (job.status, job.attempts, job.lease_owner) == ("queued", 0, None)
