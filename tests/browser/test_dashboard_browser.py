"""The web dashboard in real headless Chromium (Playwright), on a real server with the GitHub
emulator: log in with the keyboard, watch a request move, press halt, and a read-only token.

Chromium is Debian's (/usr/bin/chromium; .ci/run installs it): these tests fail, never skip,
when it is missing. ``UPDATE_SCREENSHOTS=1`` writes the main pages to docs/screenshots/.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from selfheal.emulator import Emulator
from selfheal.emulator.state import Repo
from tests.support.api_e2e import api_url, client, make_token
from tests.support.e2e import BASE_FILES, REPO, Server, until
from tests.support.gate_delay import slow_down
from tests.support.paths import ROOT
from tests.support.requests_e2e import REQUEST

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]  # fmt: skip
SHOTS = ROOT / "docs" / "screenshots"
HOSTILE = "Bump requests to a fixed version. <script>document.title='pwned'</script>"
FILES = {**BASE_FILES, "requirements.txt": "requests==2.19.0\n"}
DONE = {"pr_ready", "failed", "blocked", "cancelled", "rolled_back"}


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium"
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


def locked(repo: Repo) -> bool:
    return any("selfheal:halt" in [x.name for x in i.labels] for i in repo.issues.values())


async def started(emu: Emulator, tmp_path: Path) -> tuple[Repo, Server]:
    repo = emu.create_repo(REPO, FILES)
    server = await Server.start(emu, tmp_path / "ledger.db")
    emu.install([repo])
    await until(lambda: REQUEST in repo.labels, what="labels created")
    return repo, server


async def log_in(page: Page, server: Server, token: str) -> None:
    """Log in as a keyboard user: the field by its label, typed, then Enter."""
    await page.goto(api_url(server) + "/dashboard")
    assert page.url.endswith("/dashboard/login")
    field = page.get_by_label("API token")
    await field.focus()
    await page.keyboard.type(token)
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/dashboard")
    assert await page.locator("h1").inner_text() == "Repositories"


async def shoot(page: Page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SHOTS / f"{name}.png")


async def state_of(page: Page) -> str:
    await page.reload()
    return (await page.locator("#state").inner_text()).strip()


async def test_a_request_appears_moves_and_the_halt_button_labels_the_repository(
    github_emulator: Emulator, tmp_path: Path, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, server = await started(github_emulator, tmp_path)
    # the gate holds the request short of pr_ready until the page has shown it once, so the
    # page is seen to follow it whichever of the browser and the bot is quicker
    gate = slow_down(monkeypatch, 600)
    try:
        ops = make_token(server, "ops", [REPO], ("request", "read", "halt"))
        page = await browser.new_page()
        await log_in(page, server, ops)

        async with client(server, ops) as sdk:
            created = await sdk.request_change(HOSTILE, change_type="dependency",
                                               target_files=["requirements.txt"])  # fmt: skip
        change_id = created["change_id"]
        await page.get_by_role("link", name="Requests").click()
        await page.wait_for_url("**/dashboard/requests")
        link = page.get_by_role("link", name=change_id)
        deadline = time.monotonic() + 30
        while not await link.count():
            assert time.monotonic() < deadline, "the request never appeared"
            await page.reload()
        await shoot(page, tmp_path, "requests")
        await link.click()
        seen = [await state_of(page)]
        assert seen[0] not in DONE, seen
        gate.seconds = 0
        deadline = time.monotonic() + 120
        while seen[-1] not in DONE:
            assert time.monotonic() < deadline, f"stuck: {seen}"
            await page.wait_for_timeout(200)
            state = await state_of(page)
            if state != seen[-1]:
                seen.append(state)
        assert seen[-1] == "pr_ready", seen
        assert len(seen) >= 2, seen  # it moved through states while we watched
        assert await page.title() != "pwned"  # the issue's script is text, not code
        assert "<script>" in await page.locator("pre").inner_text()
        assert await page.get_by_role("link", name="#", exact=False).count() >= 2  # issue, PR
        await shoot(page, tmp_path, "request")

        for name in ("Monitor", "Notifications", "Audit log"):
            await page.get_by_role("link", name=name).click()
            await page.wait_for_load_state()
            assert await page.locator("h1").inner_text() == name
            await shoot(page, tmp_path, name.lower().replace(" ", "-"))
        await page.get_by_role("button", name="Verify chain").click()
        await page.get_by_text("The chain verifies").wait_for()

        await page.get_by_role("link", name="Repositories").click()
        await page.get_by_text("running").wait_for()  # the request job looked the state up
        await shoot(page, tmp_path, "repositories")
        await page.get_by_role("button", name="Halt all").click()
        await page.get_by_text("Halted: the lock label").wait_for()
        await until(lambda: locked(repo), what="the lock label on the emulator")
    finally:
        await server.stop()


async def test_a_read_only_token_sees_no_buttons(
    github_emulator: Emulator, tmp_path: Path, browser: Browser
) -> None:
    repo, server = await started(github_emulator, tmp_path)
    try:
        reader = make_token(server, "reader", [REPO], ("read",))
        page = await browser.new_page()
        await log_in(page, server, reader)
        assert await page.get_by_role("button").all_inner_texts() == ["Log out"]
        csrf = await page.locator('input[name="csrf"]').first.get_attribute("value")
        assert csrf
        # a hand-made form post with the session's own CSRF token: the API's scope check
        refused = await page.request.post(api_url(server) + "/dashboard/halt",
                                          form={"csrf": csrf})  # fmt: skip
        assert refused.status == 403
        assert not locked(repo)
        await page.get_by_role("button", name="Log out").click()
        await page.wait_for_url("**/dashboard/login")
    finally:
        await server.stop()
