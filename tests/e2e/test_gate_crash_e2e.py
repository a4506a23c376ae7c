"""End to end: a graceful stop, then ``kill -9`` of the server in the middle of a gate, a
restart, and the check run completes exactly once; then ``selfheal audit verify`` on that
ledger, and on an edited copy."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from selfheal.emulator import Emulator
from selfheal.ledger import Ledger, audit, connect, effects
from tests.support.e2e import (
    BASE_FILES,
    REPO,
    free_port,
    gate_runs,
    open_pr,
    serve_process,
    until,
)
from tests.support.gate_delay import DELAY_ENV
from tests.support.paths import ROOT


async def _serve(emu: Emulator, tmp_path: Path, port: int, delay: str) -> subprocess.Popen[bytes]:
    return await serve_process(emu, tmp_path, port, "selfheal_gate_delay", **{DELAY_ENV: delay})


def _gate_job_status(db: Path) -> str | None:
    conn = connect(db, readonly=True)
    try:
        row = conn.execute("SELECT status FROM jobs WHERE kind = 'gate'").fetchone()
        return None if row is None else str(row[0])
    finally:
        conn.close()


def _audit_verify(db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "selfheal", "audit", "verify", "--db", str(db)],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip


async def test_kill_9_mid_gate_then_restart_completes_the_check_once(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    emu.record_exchanges = True
    repo = emu.create_repo(REPO, BASE_FILES)
    bob = emu.person("bob", "write")
    port = free_port()
    emu.set_webhook_url(f"http://127.0.0.1:{port}/webhook")
    db = tmp_path / "ledger.db"
    server = await _serve(emu, tmp_path, port, delay="120")
    try:
        emu.install([repo])
        fix = BASE_FILES["app/util.py"] + "\n\ndef neg(a):\n    return -a\n"
        _, sha = await open_pr(bob, repo, "selfheal/9-neg", {"app/util.py": fix})
        await until(lambda: gate_runs(repo, sha), what="check run created")

        def in_slow_part() -> bool:  # the job read the halt state, so it is sleeping now
            conn = connect(db, readonly=True)
            try:
                return effects.get_effect(conn, f"halt:{REPO}") is not None
            finally:
                conn.close()

        await until(in_slow_part, what="gate mid-run")
    finally:
        server.send_signal(signal.SIGTERM)  # a graceful stop first: the job is released
        assert await asyncio.to_thread(server.wait, 30) == 0
    (run,) = gate_runs(repo, sha)
    assert run.status == "in_progress"  # not completed as "halted" by the shutdown
    assert _gate_job_status(db) == "queued"

    server = await _serve(emu, tmp_path, port, delay="120")
    try:
        await until(lambda: _gate_job_status(db) == "running", what="gate running again")
    finally:
        server.send_signal(signal.SIGKILL)
        await asyncio.to_thread(server.wait, 30)
    assert run.status == "in_progress" and len(gate_runs(repo, sha)) == 1

    server = await _serve(emu, tmp_path, port, delay="0")
    try:
        await until(lambda: run.status == "completed", timeout=120, what="completion")
        # The job records and audits after GitHub's side: stop the server only once it is done.
        await until(lambda: _gate_job_status(db) == "done", what="gate job done")
        await emu.drain()
    finally:
        server.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(server.wait, 30) == 0

    assert run.conclusion == "success", run.output
    assert len(gate_runs(repo, sha)) == 1
    creates = [x for x in emu.exchanges if x.method == "POST" and x.path.endswith("/check-runs")]
    patches = [x for x in emu.exchanges if x.method == "PATCH" and str(run.id) in x.path]
    assert (len(creates), len(patches)) == (1, 1)  # one create, one completing update
    with Ledger.open(db) as ledger:
        done = ledger.read(lambda c: audit.entries(c, action="gate.completed"))
        assert [e.details["sha"] for e in done] == [sha]

    ok = _audit_verify(db)
    assert ok.returncode == 0 and "audit chain ok" in ok.stdout, ok.stdout + ok.stderr
    tampered = tmp_path / "tampered.db"
    shutil.copy(db, tampered)
    with sqlite3.connect(tampered) as conn:
        conn.execute("DROP TRIGGER audit_no_update")
        conn.execute("UPDATE audit SET actor = 'mallory' WHERE id = 2")
    broken = _audit_verify(tampered)
    assert broken.returncode == 1 and "BROKEN at entry 2" in broken.stdout, broken.stdout
