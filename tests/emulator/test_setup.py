"""``selfheal setup``: the manifest page and the redirect, end to end against the emulator's
manifest-conversion endpoint (real aiohttp servers on loopback)."""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import socket
import stat
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from selfheal.config.settings import parse_settings
from selfheal.emulator import Emulator
from selfheal.github.manifest import DONE, create_setup_app
from tests.support.paths import ROOT


@pytest.fixture
async def setup_page(
    github_emulator: Emulator, tmp_path: Path
) -> AsyncIterator[tuple[str, web.Application]]:
    app = create_setup_app(
        public_url="http://127.0.0.1:3000",
        webhook_url="https://smee.io/selfheal-test-channel",
        github_url="https://github.example",
        api_url=github_emulator.base_url,
        org="acme",
        env_file=tmp_path / ".env",
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", app
    await runner.cleanup()


def _form(page: str) -> tuple[str, dict[str, object]]:
    action = html.unescape(re.search(r'<form action="([^"]+)"', page).group(1))  # type: ignore[union-attr]
    raw = re.search(r'name="manifest" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    return action, json.loads(html.unescape(raw))


async def test_manifest_flow_writes_env_and_key_with_private_modes(
    github_emulator: Emulator, setup_page: tuple[str, web.Application], tmp_path: Path
) -> None:
    url, app = setup_page
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/") as resp:
            page = await resp.text()
        action, manifest = _form(page)
        assert action.startswith("https://github.example/organizations/acme/settings/apps/new?")
        state = action.split("state=", 1)[1]
        assert manifest["hook_attributes"] == {
            "url": "https://smee.io/selfheal-test-channel",
            "active": True,
        }
        assert manifest["redirect_url"] == "http://127.0.0.1:3000/callback"
        assert manifest["public"] is False
        perms = manifest["default_permissions"]
        assert isinstance(perms, dict) and "workflows" not in perms
        assert perms["checks"] == perms["pull_requests"] == perms["actions"] == "write"
        assert perms["members"] == perms["metadata"] == "read"
        events = manifest["default_events"]
        assert isinstance(events, list)
        assert {"pull_request", "check_run", "installation"} <= set(events)

        code = github_emulator.register_manifest_code(name="selfheal-acme")
        async with session.get(url + "/callback", params={"code": code, "state": "forged"}) as r:
            assert r.status == 400
        assert not (tmp_path / ".env").exists()
        async with session.get(url + "/callback", params={"code": code, "state": state}) as r:
            done_page = await r.text()
            assert r.status == 200
    created = next(a for a in github_emulator.world.apps.values() if a.name == "selfheal-acme")
    assert created.webhook_secret not in done_page
    env_file = tmp_path / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    text = env_file.read_text()
    settings = parse_settings(
        {
            k: v.strip('"')
            for k, v in (line.split("=", 1) for line in text.splitlines() if "=" in line)
        }
    )
    assert settings.app_id == created.id
    assert settings.webhook_secret.get() == created.webhook_secret
    key = Path(text.split("SELFHEAL_PRIVATE_KEY_PATH=", 1)[1].splitlines()[0].strip('"'))
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_bytes() == created.private_key_pem
    assert app[DONE].result()["id"] == str(created.id)


async def test_the_setup_command_serves_the_page_and_exits_when_done(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SELFHEAL_", "GITHUB_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    argv = [sys.executable, "-m", "selfheal", "setup", "--port", str(port), "--api-url",
            github_emulator.base_url, "--env-file", str(tmp_path / ".env"),
            "--webhook-url", "https://smee.io/abc"]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    first = await asyncio.wait_for(proc.stdout.readline(), 60)
    assert f"http://127.0.0.1:{port}/" in first.decode()
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/") as resp:
            action, _ = _form(await resp.text())
        code = github_emulator.register_manifest_code(name="selfheal-cli")
        params = {"code": code, "state": action.split("state=", 1)[1]}
        async with session.get(f"http://127.0.0.1:{port}/callback", params=params) as resp:
            assert resp.status == 200
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0
    created = next(a for a in github_emulator.world.apps.values() if a.name == "selfheal-cli")
    assert f"(id {created.id}) registered" in out.decode()
    assert created.webhook_secret not in out.decode()
    assert f'SELFHEAL_WEBHOOK_SECRET="{created.webhook_secret}"' in (tmp_path / ".env").read_text()
