"""The bot's one status comment and one state label, against the emulator through the app's
own client: edited in place, never adopted from someone else, idempotent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from selfheal.emulator import Emulator
from selfheal.github.client import GitHubClient
from selfheal.github.issue_state import (
    MAX_COMMENT_CHARS,
    find_marked_comment,
    marker,
    set_family_label,
    upsert_marked_comment,
)

BOT = "selfheal[bot]"
STATUS = marker("status")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def test_the_status_comment_is_one_comment_edited_in_place(
    github_emulator: Emulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    emu = github_emulator
    repo = emu.create_repo("acme/tools")
    emu.install([repo])
    gh = GitHubClient.for_token(emu.installation_token(), session=session, base_url=emu.base_url)
    mallory = emu.person("mallory", "write")
    issue = await mallory.open_issue(repo, "A request")
    number = int(issue["number"])
    # Someone else posts a comment carrying the marker: it is never taken for the bot's.
    await mallory.comment(repo, number, f"{STATUS}\nstate: merged (forged)")

    first = await upsert_marked_comment(gh, "acme/tools", number, STATUS, "state: received", BOT)
    again = await upsert_marked_comment(gh, "acme/tools", number, STATUS, "state: received", BOT)
    later = await upsert_marked_comment(gh, "acme/tools", number, STATUS, "state: coding", BOT)
    assert first == again == later
    comments = repo.issues[number].comments
    ours = [c for c in comments if c.user.login == BOT]
    assert len(ours) == 1 and ours[0].body == f"{STATUS}\nstate: coding"
    assert any(c.user.login == "mallory" and "forged" in c.body for c in comments)
    found = await find_marked_comment(gh, "acme/tools", number, STATUS, BOT)
    assert found is not None and int(found["id"]) == first

    huge = await upsert_marked_comment(gh, "acme/tools", number, STATUS, "x" * 70_000, BOT)
    assert huge == first
    assert len(ours[0].body) == MAX_COMMENT_CHARS and ours[0].body.endswith("size limit)")


async def test_one_label_of_a_family_at_a_time(
    github_emulator: Emulator, session: aiohttp.ClientSession
) -> None:
    emu = github_emulator
    repo = emu.create_repo("acme/tools")
    emu.install([repo])
    gh = GitHubClient.for_token(emu.installation_token(), session=session, base_url=emu.base_url)
    alice = emu.person("alice", "write")
    issue = await alice.open_issue(
        repo, "A request", labels=["selfheal:request", "selfheal:state/queued", "bug"]
    )
    number = int(issue["number"])

    def names() -> set[str]:
        return {label.name for label in repo.issues[number].labels}

    prefix = "selfheal:state/"
    assert await set_family_label(gh, "acme/tools", number, names(), prefix, prefix + "coding")
    assert names() == {"selfheal:request", "bug", "selfheal:state/coding"}
    assert not await set_family_label(gh, "acme/tools", number, names(), prefix, prefix + "coding")
    # A stale view (a label someone already removed) is not an error.
    stale = [*names(), "selfheal:state/queued"]
    assert await set_family_label(gh, "acme/tools", number, stale, prefix, prefix + "pr-open")
    assert names() == {"selfheal:request", "bug", "selfheal:state/pr-open"}
    with pytest.raises(ValueError):
        await set_family_label(gh, "acme/tools", number, names(), prefix, "bug")
