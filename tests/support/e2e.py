"""Shared pieces of the end-to-end tests: a real selfheal server (create_app + worker on a
real port) wired to the GitHub emulator, a repository with a policy, and people."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from selfheal.config.settings import Settings, parse_settings
from selfheal.emulator import Emulator, Person
from selfheal.emulator.state import CheckRun, Repo
from selfheal.ledger import Ledger, audit
from selfheal.registry import compose
from selfheal.runtime.context import Wiring
from selfheal.runtime.server import WORKER, create_app
from selfheal.runtime.worker import Worker
from tests.support.paths import ROOT

REPO = "acme/widgets"
GATE = "selfheal/security-gate"
POLICY = "/payments/   review   @alice\n"
BASE_FILES = {
    "README.md": "# widgets\n",
    "app/util.py": "def add(a, b):\n    return a + b\n",
    "payments/charge.py": "def charge(amount):\n    return amount\n",
    ".github/selfheal.policy": POLICY,
}


def leaked_token() -> str:
    """A GitHub token the secret detector recognises, built at run time (never in the repo)."""
    material = base64.b64encode(hashlib.sha512(b"selfheal-e2e-gate").digest()).decode()
    return "ghp_" + "".join(c for c in material if c.isalnum())[:36]


def env_for(emulator: Emulator, db: Path, **extra: str) -> dict[str, str]:
    app = emulator.app
    env = {
        "SELFHEAL_APP_ID": str(app.id),
        "SELFHEAL_PRIVATE_KEY": app.private_key_pem.decode(),
        "SELFHEAL_WEBHOOK_SECRET": app.webhook_secret,
        "SELFHEAL_DB": str(db),
        "GITHUB_API_URL": emulator.base_url,
        "SELFHEAL_POLL_INTERVAL": "0.05",
        "SELFHEAL_JOB_BACKOFF_SECONDS": "0",
        "SELFHEAL_CANCEL_GRACE_SECONDS": "2",
        # the monitor's whole-tree scans of every push to main: only where a test asks
        "SELFHEAL_MONITOR_SCAN_HOURS": "0",
    }
    env.update(extra)
    return env


@dataclass
class Server:
    """selfheal in-process: the aiohttp app with its worker on 127.0.0.1."""

    settings: Settings
    ledger: Ledger
    runner: web.AppRunner
    url: str

    @property
    def worker(self) -> Worker:
        return self.runner.app[WORKER]

    @classmethod
    async def start(
        cls, emulator: Emulator, db: Path, *, wiring: Wiring | None = None, **extra: str
    ) -> Server:
        """selfheal with ``wiring`` (default: the registry's features)."""
        settings = parse_settings(env_for(emulator, db, **extra))
        ledger = Ledger.open(db)
        app = create_app(settings, ledger=ledger, wiring=wiring or compose())
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}/webhook"
        emulator.set_webhook_url(url)
        return cls(settings, ledger, runner, url)

    async def stop(self) -> None:
        await self.runner.cleanup()
        self.ledger.close()

    def audit(self, action: str | None = None) -> list[audit.AuditEntry]:
        found = self.ledger.read(lambda c: audit.entries(c, action=action, limit=10_000))
        return list(found)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for a server subprocess)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(port: int) -> bool:
    """Whether a selfheal server on ``port`` answers ``/healthz`` with 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:  # refused, reset, or an HTTP error status (urllib's errors are OSErrors)
        return False


async def until(predicate: Callable[[], Any], timeout: float = 90.0, what: str = "") -> Any:
    """Poll ``predicate`` (sync) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.05)


def gate_runs(repo: Repo, sha: str) -> list[CheckRun]:
    return sorted(
        (r for r in repo.check_runs.values() if r.head_sha == sha and r.name == GATE),
        key=lambda r: r.id,
    )


def completed_gate(repo: Repo, sha: str) -> CheckRun | None:
    runs = [r for r in gate_runs(repo, sha) if r.status == "completed"]
    return runs[-1] if runs else None


async def open_pr(person: Person, repo: Repo, branch: str, files: dict[str, str | None],
                  **kwargs: Any) -> tuple[int, str]:  # fmt: skip
    sha = await person.push(repo, branch, files, f"change on {branch}")
    pr = await person.open_pr(repo, branch, f"PR from {branch}", **kwargs)
    return int(pr["number"]), sha


async def serve_process(
    emu: Emulator, tmp_path: Path, port: int, plugin: str, **extra: str
) -> subprocess.Popen[bytes]:
    """``selfheal serve`` as a real subprocess on ``port``, wired to the emulator, with one
    worker, short leases, and the test plug-in ``plugin`` (tests/fixtures/appcore/plugins);
    ``extra`` are further environment variables. Its log goes to a file in ``tmp_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SELFHEAL_", "GITHUB_"))}
    env.update(env_for(emu, tmp_path / "ledger.db", SELFHEAL_WORKERS="1",
                       SELFHEAL_JOB_LEASE_SECONDS="2", SELFHEAL_SHUTDOWN_GRACE_SECONDS="1",
                       SELFHEAL_PLUGINS=plugin, **extra))  # fmt: skip
    plugins = ROOT / "tests" / "fixtures" / "appcore" / "plugins"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(plugins), env.get("PYTHONPATH", "")])
    log_path = tmp_path / f"server-{port}-{time.monotonic_ns()}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "selfheal", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=log_path.open("wb"),
    )  # fmt: skip
    ready = await until(lambda: proc.poll() is not None or healthy(port), timeout=60,
                        what="server start")  # fmt: skip
    assert ready and proc.poll() is None, log_path.read_text()
    return proc
