"""The label set created on install."""

from __future__ import annotations

import re

import aiohttp

from selfheal.github.client import GitHubClient
from selfheal.install.events import ensure_labels
from selfheal.model.labels import HALT_LABEL, label_set
from tests.github_emulator import Emulator


def test_every_label_has_a_colour_and_a_short_description() -> None:
    labels = label_set()
    names = [label.name for label in labels]
    assert len(names) == len(set(names))
    for label in labels:
        assert re.fullmatch(r"[0-9a-f]{6}", label.color), label
        assert 0 < len(label.description) <= 100, label
    for name in ("selfheal:request", "selfheal:approved", HALT_LABEL, "selfheal:source/monitor",
                 "selfheal:type/security", "selfheal:priority/1", "selfheal:priority/10",
                 "selfheal:state/coding"):  # fmt: skip
        assert name in names


def test_a_configured_halt_label_replaces_the_default() -> None:
    names = [label.name for label in label_set("ops:stop-bot")]
    assert "ops:stop-bot" in names and HALT_LABEL not in names
    assert label_set()[0].as_api() == {
        "name": "selfheal:request",
        "color": "1d76db",
        "description": "A change request for selfheal",
    }


async def test_ensure_labels_creates_then_updates_idempotently(github_emulator: Emulator) -> None:
    repo = github_emulator.create_repo("acme/labels")
    github_emulator.install([repo])
    repo.labels.clear()  # as if the install event had not been handled yet
    async with aiohttp.ClientSession() as session:
        gh = GitHubClient.for_token(
            github_emulator.installation_token(), session=session, base_url=github_emulator.base_url
        )
        assert await ensure_labels(gh, "acme/labels") == len(label_set())
        repo.labels[HALT_LABEL].color = "000000"  # someone recoloured it
        assert await ensure_labels(gh, "acme/labels") == 0
    assert repo.labels[HALT_LABEL].color == "b60205"
    assert len(repo.labels) == len(label_set())
