"""How fast is the emulator? ``python bench/emulator_throughput.py`` prints figures for
REST calls, webhook deliveries and git pushes (so end-to-end test time is spent in the app,
not here). Bounded: a fixed number of operations, no timing assertions."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "app"))

from selfheal.emulator import Emulator  # noqa: E402
from tests.support.webhook_receiver import WebhookReceiver  # noqa: E402

REST_CALLS = 300
ISSUES = 100
PUSHES = 10


async def run() -> None:
    async with Emulator(Path(tempfile.mkdtemp(prefix="emulator-bench-"))) as emu:
        app = emu.create_app("selfheal")
        repo = emu.create_repo("acme/widgets", {"app.py": "x = 1\n"})
        inst = emu.install([repo])
        receiver = WebhookReceiver(secret=app.webhook_secret)
        emu.set_webhook_url(await receiver.start())
        alice = emu.person("alice")
        headers = {"Authorization": f"token {emu.installation_token(inst)}"}
        async with aiohttp.ClientSession(headers=headers) as session:
            start = time.perf_counter()
            for _ in range(REST_CALLS):
                async with session.get(f"{emu.base_url}/repos/acme/widgets") as resp:
                    await resp.read()
            rest = time.perf_counter() - start
        start = time.perf_counter()
        for n in range(ISSUES):
            await alice.open_issue(repo, f"issue {n}", labels=["bug"])
        await emu.drain()
        issues = time.perf_counter() - start
        start = time.perf_counter()
        for n in range(PUSHES):
            await alice.push(repo, "bench", {"app.py": f"x = {n}\n"})
        pushes = time.perf_counter() - start
        await emu.drain()
        await receiver.stop()
        sent = sum(1 for d in emu.deliveries if d.ok)
    print(
        f"REST GET /repos/{{owner}}/{{repo}}: {REST_CALLS / rest:.0f} req/s "
        f"({rest / REST_CALLS * 1000:.1f} ms each)"
    )
    print(
        f"open issue + issues.opened webhook delivered: {ISSUES / issues:.0f}/s "
        f"({issues / ISSUES * 1000:.1f} ms each)"
    )
    print(
        f"person push (pygit2 clone + commit + smart-HTTP push): "
        f"{pushes / PUSHES * 1000:.0f} ms each"
    )
    print(f"webhook deliveries OK: {sent} of {len(emu.deliveries)}")


if __name__ == "__main__":
    asyncio.run(run())
