"""End to end: slash commands against the emulator and the real server. A writer halts and
resumes by comment, a triage user is refused with the reason, an unknown command gets the
help, and the bot's own comments are never taken for commands."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from selfheal.emulator import Emulator
from selfheal.emulator.state import Repo
from selfheal.github.client import GitHubClient
from tests.support.e2e import BASE_FILES, REPO, Server, until

HALT = "selfheal:halt"
BOT = "selfheal[bot]"


def bot_replies(repo: Repo, number: int) -> list[str]:
    return [c.body for c in repo.issues[number].comments if c.user.login == BOT]


def halting_issues(repo: Repo) -> list[int]:
    return [
        n for n, issue in repo.issues.items()
        if issue.state == "open" and any(label.name == HALT for label in issue.labels)
    ]  # fmt: skip


async def test_halt_and_resume_by_comment_with_permission_checks(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo = emu.create_repo(REPO, BASE_FILES)
    maint = emu.person("maint", "write")
    trudy = emu.person("trudy", "triage")
    server = await Server.start(emu, tmp_path / "ledger.db")
    try:
        emu.install([repo])
        issue = await trudy.open_issue(repo, "The bot broke the build")
        number = int(issue["number"])

        # A triage user may comment, not halt: refused, with the reason, and audited.
        refused = await trudy.comment(repo, number, "/selfheal halt now")
        await until(lambda: server.audit("command.refused"), what="refusal audited")
        await until(lambda: bot_replies(repo, number), what="refusal reply")
        assert "people with write access" in bot_replies(repo, number)[0]
        assert "triage" in bot_replies(repo, number)[0]
        assert halting_issues(repo) == []
        comment = next(c for c in repo.issues[number].comments if c.id == refused["id"])
        assert [r.content for r in comment.reactions] == ["eyes"]

        # A writer halts: the lock label goes on the dashboard issue and the halt starts.
        await maint.comment(repo, number, "/selfheal halt the deploy @everyone is broken")
        await until(lambda: server.audit("halt.started"), what="halt started")
        # the label's webhook starts the halt while the command goes on to comment the reason
        # on the dashboard issue, reply, and only then audit itself
        (halted,) = await until(lambda: server.audit("command.halt"), what="halt audited")
        assert halted.actor == "maint" and halted.request == number
        (dashboard,) = halting_issues(repo)
        assert dashboard != number
        reason = [c.body for c in repo.issues[dashboard].comments if c.user.login == BOT]
        assert any("/selfheal halt by @maint in #" in body for body in reason)
        assert not any("@everyone" in body for body in reason)  # no mention from the args

        # An unknown command gets the generated help; the bot's own comments are ignored.
        await maint.comment(repo, number, "/selfheal frobnicate")
        await until(lambda: server.audit("command.unknown"), what="unknown command")
        help_reply = await until(
            lambda: [b for b in bot_replies(repo, number) if "frobnicate" in b], what="help"
        )
        assert "`/selfheal resume`" in help_reply[0]

        # A comment the bot itself writes is never a command.
        async with aiohttp.ClientSession() as session:
            token = emu.installation_token()
            gh = GitHubClient.for_token(token, session=session, base_url=emu.base_url)
            await gh.call("issues.create_comment", owner="acme", repo="widgets",
                          issue_number=number, data={"body": "/selfheal resume"})  # fmt: skip

        replies = len(bot_replies(repo, number))

        # The writer resumes.
        await maint.comment(repo, number, "/selfheal resume")
        await until(lambda: server.audit("halt.resumed"), what="resume")
        assert halting_issues(repo) == []
        await until(lambda: len(bot_replies(repo, number)) == replies + 1, what="resume reply")
        assert "Resumed" in bot_replies(repo, number)[-1]
        await until(lambda: server.audit("command.resume"), what="resume audited (after its reply)")
        # Every command was handled once, whatever the bot itself wrote in between.
        counts = [len(server.audit(a)) for a in ("command.halt", "command.resume")]
        assert counts == [1, 1]
        assert len(server.audit("command.refused")) == 1
    finally:
        await server.stop()
