"""``selfheal demo``: start the embedded GitHub, the scripted model and the App on loopback,
play the story, then keep the web dashboard up (or exit, with ``once``).

Everything runs in this process on 127.0.0.1: the GitHub emulator (``selfheal.emulator``),
the scripted Messages API (``selfheal.demo.messages``) and the App itself (the same
``create_app`` and worker ``selfheal serve`` runs). Its state lives in a temporary folder
that is removed on exit. Nothing reaches the network, unless a real model was asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from aiohttp import web

from selfheal.api import tokens
from selfheal.config.settings import Settings, parse_settings
from selfheal.demo import story, world
from selfheal.demo.messages import ScriptedMessagesAPI, Turn, demo_key, finish, turns_taken
from selfheal.emulator import Emulator
from selfheal.github.manifest import write_private
from selfheal.ledger import Ledger
from selfheal.model.prices import ModelPrice, shipped_price_table
from selfheal.registry import compose
from selfheal.runtime.logs import setup_logging
from selfheal.runtime.server import create_app

DEFAULT_MODEL = "claude-sonnet-4-5"
LABELS_WAIT = 30.0


class DemoError(Exception):
    """The demo cannot start (a port in use, a model without a price or a key)."""


@dataclass(frozen=True)
class DemoOptions:
    port: int = 8000
    once: bool = False
    model: str | None = None  # a real model (needs ANTHROPIC_API_KEY); None: the scripted one
    keep: bool = False  # keep the state folder (the ledger, the repositories, the log)


def fixer(body: dict[str, Any]) -> Turn:
    """The scripted model's side of the conversation about the monitor's issue: read the
    failing helper, guard the division, finish. Stateless: the turn follows from the
    conversation so far."""
    taken = turns_taken(body)
    if taken == 0:
        return Turn(text="The traceback ends in ratio(); reading it first.",
                    tools=[("read_file", {"path": world.STATS})], input_tokens=None,
                    output_tokens=48)  # fmt: skip
    if taken == 1:
        change = {"path": world.STATS, "old": world.BUGGY_RATIO, "new": world.FIXED_RATIO}
        return Turn(text="An empty plan has no steps, so total is 0: guard the division.",
                    tools=[("replace", change)], input_tokens=None, output_tokens=96)  # fmt: skip
    return finish("ratio() returns 0.0 for an empty plan instead of dividing by zero.",
                  input_tokens=None, output_tokens=40)  # fmt: skip


def agent_catalog(model: str) -> str:
    return json.dumps({"default": "coding_agent", "agents": {
        "coding_agent": {"backend": "anthropic", "model": model, "options": {"max_tokens": 4096}},
        "rules": {"backend": "rules"}}})  # fmt: skip


def settings_for(emulator: Emulator, root: Path, model: str, key: str, base_url: str) -> Settings:
    """The App's settings: only what the demo sets, never the caller's environment."""
    app = emulator.app
    env = {
        "SELFHEAL_APP_ID": str(app.id),
        "SELFHEAL_PRIVATE_KEY": app.private_key_pem.decode(),
        "SELFHEAL_WEBHOOK_SECRET": app.webhook_secret,
        "SELFHEAL_DB": str(root / "ledger.db"),
        "GITHUB_API_URL": emulator.base_url,
        "SELFHEAL_POLL_INTERVAL": "0.05",
        "SELFHEAL_JOB_BACKOFF_SECONDS": "0.5",
        "SELFHEAL_CODING_AGENTS": agent_catalog(model),
        "ANTHROPIC_API_KEY": key,
        # the monitor's daily whole-tree scan would file the sample's known finding at once
        "SELFHEAL_MONITOR_SCAN_HOURS": "0",
    }
    if base_url:
        env["ANTHROPIC_BASE_URL"] = base_url
    return parse_settings(env)


def _price(model: str) -> ModelPrice:
    found = shipped_price_table().price_of(model)
    if found is None:
        raise DemoError(f"--model {model}: selfheal has no price for this model, so it cannot "
                        "meter it (see app/selfheal/data/prices.json)")  # fmt: skip
    return found


@contextlib.contextmanager
def _state_folder(keep: bool) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="selfheal-demo-"))
    try:
        yield root
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


@contextlib.asynccontextmanager
async def _listening(app: web.Application, port: int) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", port)
        try:
            await site.start()
        except OSError as exc:
            raise DemoError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); "
                            "pick another with --port N (0: any free port)") from None  # fmt: skip
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        yield f"http://127.0.0.1:{bound}"
    finally:
        await runner.cleanup()


async def _labels_ready(emulator: Emulator) -> None:
    deadline = time.monotonic() + LABELS_WAIT
    repo = emulator.repo(world.REPO)
    while story.REQUEST_LABEL not in repo.labels:
        if time.monotonic() > deadline:
            raise DemoError("the App did not set up the repository's labels")
        await asyncio.sleep(0.05)


async def run(options: DemoOptions, out: TextIO, stop: asyncio.Event) -> int:
    """Play the demo; 0 when every step happened (and, without ``once``, after ``stop``)."""
    started = time.monotonic()

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    model = options.model or DEFAULT_MODEL
    price = _price(model)
    real_key = os.environ.get("ANTHROPIC_API_KEY", "").strip()
    if options.model and not real_key:
        raise DemoError("--model runs the story against the real API: set ANTHROPIC_API_KEY")
    with _state_folder(options.keep) as root:
        log_file = (root / "selfheal.log").open("a", encoding="utf-8")
        model_api = None if options.model else ScriptedMessagesAPI(key=demo_key(),
                                                                   default=fixer)  # fmt: skip
        emulator = Emulator(root / "github")
        try:
            emulator.root.mkdir(parents=True, exist_ok=True)
            github_url = await emulator.start("127.0.0.1", 0)
            emulator.create_app("selfheal")
            if model_api is not None:
                model_api.start()
            key = real_key if model_api is None else model_api.key
            settings = settings_for(emulator, root, model, key,
                                    model_api.base_url if model_api else "")  # fmt: skip
            setup_logging(settings.log_level, secrets=settings.secret_values(), stream=log_file,
                          json_lines=True)  # fmt: skip
            ledger = Ledger.open(settings.db_path)
            try:
                app = create_app(settings, ledger=ledger, wiring=compose())
                async with _listening(app, options.port) as app_url:
                    emulator.set_webhook_url(f"{app_url}/webhook")
                    return await _play(options, say, stop, emulator, ledger, app_url, github_url,
                                       root, model_api, price, model, started)  # fmt: skip
            finally:
                ledger.close()
        finally:
            if model_api is not None:
                model_api.stop()
            await emulator.stop()
            logging.getLogger().handlers[:] = [
                h for h in logging.getLogger().handlers if h.get_name() != "selfheal"
            ]
            log_file.close()


async def _play(
    options: DemoOptions, say: Callable[[str], None], stop: asyncio.Event, emulator: Emulator,
    ledger: Ledger, app_url: str, github_url: str, root: Path,
    model_api: ScriptedMessagesAPI | None, price: ModelPrice, model: str, started: float,
) -> int:  # fmt: skip
    repo = emulator.create_repo(world.REPO, world.FILES)
    operator = emulator.person(world.OPERATOR, "admin")
    developer = emulator.person(world.DEVELOPER, "write")
    emulator.install([repo])
    await _labels_ready(emulator)
    _, dashboard_token = ledger.write(lambda c: tokens.create(
        c, "demo-dashboard", scopes=("read", "halt", "approve", "request"),
        repositories=(world.REPO,), github_login=world.OPERATOR))  # fmt: skip
    _, agent_token = ledger.write(lambda c: tokens.create(
        c, "demo-agent", scopes=("report", "read"), repositories=(world.REPO,)))  # fmt: skip
    token_file = root / "dashboard-token"
    write_private(token_file, dashboard_token + "\n")
    where = "a scripted local Messages API" if model_api else "the Anthropic API"
    say("selfheal demo: the App, an embedded GitHub and a coding model on this machine")
    say(f"  embedded GitHub:  {github_url}  (repository {world.REPO})")
    say(f"  the App:          {app_url}")
    say(f"  web dashboard:    {app_url}/dashboard  (log in with the token in {token_file})")
    say(f"  coding model:     {model} via {where}")
    say(f"  log:              {root / 'selfheal.log'}")
    stage = story.Stage(emulator=emulator, repo=repo, ledger=ledger, app_url=app_url,
                        operator=operator, developer=developer, agent_token=agent_token,
                        model_api=model_api, price=price, say=say)  # fmt: skip
    playing = asyncio.ensure_future(story.play(stage))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({playing, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not playing.done():
        playing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await playing
        say("\nselfheal demo: interrupted")
        return 130
    outcomes = playing.result()
    passed = sum(o.ok for o in outcomes)
    everything = passed == len(story.STEPS)
    elapsed = time.monotonic() - started
    verdict = "every step happened as described" if everything else "a step failed"
    say(f"\nselfheal demo: {passed} of {len(story.STEPS)} steps; {verdict} ({elapsed:.1f} s)")
    if options.once:
        stopping.cancel()
        return 0 if everything else 1
    say(
        f"The web dashboard stays up at {app_url}/dashboard (log in with the token in "
        f"{token_file}):"
    )
    say("  Requests: each request's timeline, diff, gate findings and cost;")
    say("  Monitor: the planner's failure and its fix request;")
    say("  Audit log: every step above, hash-chained (Verify checks the chain).")
    say("Press Ctrl-C to stop.")
    await stopping
    return 0 if everything else 1


def main(options: DemoOptions, out: TextIO) -> int:
    """Run the demo in a new event loop, stopping cleanly on SIGINT or SIGTERM."""

    async def go() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            return await run(options, out, stop)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    return asyncio.run(go())
