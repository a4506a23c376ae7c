"""Replay every published GitHub webhook example (@octokit/webhooks-examples) through the
real intake and worker: all accepted, summarised correctly and dispatched once each."""

from __future__ import annotations

import asyncio
import functools
import json
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from gidgethub.sansio import Event

from selfheal.ledger import Ledger, deliveries, jobs
from selfheal.runtime.context import JobContext, Wiring
from selfheal.runtime.server import create_app
from tests.support.appcore import delivery, make_settings
from tests.support.paths import ROOT

EXAMPLES = ROOT / "node_modules/@octokit/webhooks-examples/api.github.com/index.json"


def _examples() -> list[tuple[str, dict[str, Any]]]:
    return [
        (entry["name"], example)
        for entry in json.loads(EXAMPLES.read_text())
        for example in entry["examples"]
    ]


async def test_published_examples_round_trip(tmp_path: Path) -> None:
    examples = _examples()
    assert len(examples) > 300
    seen: list[tuple[str, str]] = []

    async def record(event: Event, ctx: JobContext) -> None:
        seen.append((event.event, event.delivery_id))

    ledger = Ledger.open(tmp_path / "examples.db")
    settings = make_settings(tmp_path / "examples.db", SELFHEAL_WORKERS="2")
    app = create_app(settings, ledger=ledger, wiring=Wiring(dispatchers=(record,)))
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            for n, (name, example) in enumerate(examples):
                body, headers = delivery(example, event=name, delivery_id=f"ex-{n}")
                async with session.post(
                    server.make_url("/webhook"), data=body, headers=headers
                ) as r:
                    assert r.status == 202, (name, await r.text())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while ledger.read(jobs.depth)["done"] < len(examples):
            assert loop.time() < deadline, ledger.read(jobs.depth)
            await asyncio.sleep(0.05)
    finally:
        await server.close()
    assert sorted(seen) == sorted((name, f"ex-{n}") for n, (name, _) in enumerate(examples))
    for n, (name, example) in enumerate(examples):
        stored = ledger.read(functools.partial(deliveries.get_delivery, delivery_id=f"ex-{n}"))
        assert stored is not None and stored.event == name and stored.outcome == "processed"
        assert stored.action == example.get("action")
        assert stored.installation_id == (example.get("installation") or {}).get("id")
        assert stored.repository == (example.get("repository") or {}).get("full_name")
        assert json.loads(stored.payload) == example
    installs = [e for name, e in examples if name == "installation" and e["action"] == "created"]
    account = installs[0]["installation"]["account"]["login"]
    row = ledger.read(
        lambda c: c.execute(
            "SELECT account FROM installations WHERE id = ?", (installs[0]["installation"]["id"],)
        ).fetchone()
    )
    assert row is not None and row["account"] == account
    assert ledger.read(lambda c: c.execute("SELECT COUNT(*) FROM repositories").fetchone()[0]) > 0
    ledger.close()
