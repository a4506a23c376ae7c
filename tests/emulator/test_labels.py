"""The label set created on install, and the label migration on installed repositories."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest

from selfheal.cli import main
from selfheal.emulator import Emulator
from selfheal.emulator.state import Label, Repo
from selfheal.github.client import GitHubClient
from selfheal.install import migrate_labels
from selfheal.install.events import ensure_labels
from selfheal.model.labels import HALT_LABEL, label_set


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


OLD = {  # old spelling -> current label, as RENAMED_LABELS would list them
    "selfheal:state/waiting": "selfheal:state/queued",
    "selfheal:state/pr-ready": "selfheal:state/pr-open",
    "selfheal:state/ready": "selfheal:state/pr-open",
}


def _label(repo: Repo, name: str, color: str, description: str | None = None) -> Label:
    label = Label(id=len(repo.labels) + 1000, name=name, color=color, description=description)
    repo.labels[name.lower()] = label
    return label


async def test_migration_renames_creates_updates_and_deletes_only_unused_labels(
    github_emulator: Emulator,
) -> None:
    emu = github_emulator
    repo = emu.create_repo("acme/old")
    repo.labels.clear()  # a repository labelled by an older selfheal
    waiting = _label(repo, "selfheal:state/waiting", "ffffff", "old words")
    _label(repo, "selfheal:halt", "000000", "Stop")
    _label(repo, "bug", "d73a4a", "Something isn't working")
    _label(repo, "selfheal:state/pr-open", "0e8a16", "old")
    _label(repo, "selfheal:state/pr-ready", "0e8a16")  # both spellings, no issue: deleted
    ready = _label(repo, "selfheal:state/ready", "0e8a16")  # both, on a closed issue: kept
    alice = emu.person("alice", "write", repos=[repo])
    carried = await alice.open_issue(repo, "An old request")
    closed = await alice.open_issue(repo, "Another")
    repo.issues[carried["number"]].labels = [waiting]
    repo.issues[closed["number"]].labels = [ready]
    await alice.close(repo, closed["number"])
    emu.install([repo])
    wanted = label_set()
    async with aiohttp.ClientSession() as session:
        gh = GitHubClient.for_token(emu.installation_token(), session=session,
                                    base_url=emu.base_url)  # fmt: skip
        before = {name: (lb.name, lb.color) for name, lb in repo.labels.items()}
        planned = await migrate_labels(gh, "acme/old", renames=OLD, dry_run=True)
        assert {name: (lb.name, lb.color) for name, lb in repo.labels.items()} == before
        done = await migrate_labels(gh, "acme/old", renames=OLD)
        again = await migrate_labels(gh, "acme/old", renames=OLD)

    assert (planned.renamed, planned.deleted) == (done.renamed, done.deleted)
    assert done.renamed == [("selfheal:state/waiting", "selfheal:state/queued")]
    assert done.deleted == ["selfheal:state/pr-ready"] and done.kept == ["selfheal:state/ready"]
    assert {"selfheal:halt", "selfheal:state/pr-open"} <= set(done.updated)
    # The issue keeps its label under the new name: the same label, renamed in place.
    issue_labels = repo.issues[carried["number"]].labels
    assert [lb.name for lb in issue_labels] == ["selfheal:state/queued"]
    assert issue_labels[0] is repo.labels["selfheal:state/queued"]
    queued = next(spec for spec in wanted if spec.name == "selfheal:state/queued")
    assert (waiting.color, waiting.description) == (queued.color, queued.description)
    assert repo.labels[HALT_LABEL].color == "b60205"
    assert repo.labels["bug"].color == "d73a4a"  # not ours: untouched
    assert "selfheal:state/pr-ready" not in repo.labels
    assert "selfheal:state/waiting" not in repo.labels
    assert [lb.name for lb in repo.issues[closed["number"]].labels] == ["selfheal:state/ready"]
    assert {spec.name.lower() for spec in wanted} <= set(repo.labels)
    assert not again.changed and again.kept == ["selfheal:state/ready"]


async def test_the_labels_command_migrates_one_repository(
    github_emulator: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = github_emulator
    repo = emu.create_repo("acme/cli")
    emu.install([repo])
    repo.labels.clear()
    _label(repo, "selfheal:request", "000000", "old")
    maint = emu.person("maint", "maintain", repos=[repo])
    common = ["--api-url", emu.base_url, "--token", maint.token]
    argv = ["labels", "--repo", "acme/cli", "--dry-run", *common]
    assert await asyncio.to_thread(main, argv) == 0
    assert len(repo.labels) == 1 and repo.labels["selfheal:request"].color == "000000"
    assert "would change" in capsys.readouterr().out
    assert await asyncio.to_thread(main, ["labels", "--repo", "acme/cli", *common]) == 0
    out = capsys.readouterr().out
    created = len(label_set()) - 1
    summary = f"acme/cli: labels changed: 0 renamed, {created} created, 1 updated, 0 deleted"
    assert summary in out and "update selfheal:request" in out
    assert len(repo.labels) == len(label_set())
    assert repo.labels["selfheal:request"].color == "1d76db"
    assert await asyncio.to_thread(main, ["labels", "--repo", "acme/x/y", *common]) == 2
