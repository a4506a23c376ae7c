"""End to end: signed notifications to local receivers, with failures, retries and a target
that never answers well; the guardians mentioned on a blocked request; a repository that
picks its events."""

from __future__ import annotations

from pathlib import Path

from selfheal.emulator import Emulator
from selfheal.ledger import notifications
from tests.support.e2e import BASE_FILES, until
from tests.support.forms import render_form
from tests.support.notify_receiver import SECRET, Receiver, receiving
from tests.support.requests_e2e import REQUEST, bot_comments, request_server, state_labels

POLICY = "guardians @sec-team @acme/oncall\n/vendor/   protected\n"


def blocked_form() -> str:
    return render_form({"type": "fix-bug", "description": "Patch the vendored lib.",
                        "target_files": "vendor/lib.py", "priority": "5"})  # fmt: skip


async def test_notifications_are_signed_retried_and_recorded(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    files = {**BASE_FILES, ".github/selfheal.policy": POLICY, "vendor/lib.py": "x = 1\n"}
    async with (
        receiving(Receiver(fail_first=2)) as flaky,
        receiving(Receiver(always_fail=True)) as dead,
    ):
        env = {"SELFHEAL_NOTIFY_URLS": f"{flaky.url},{dead.url}",
               "SELFHEAL_NOTIFY_SECRET": SECRET, "SELFHEAL_JOB_MAX_ATTEMPTS": "3"}  # fmt: skip
        async with request_server(emu, tmp_path, files, env=env) as (repo, server):
            alice = emu.person("alice", "write")
            opened = await alice.open_issue(repo, "Vendor", blocked_form(), labels=[REQUEST])
            number = int(opened["number"])
            await until(lambda: state_labels(repo, number) == ["selfheal:state/blocked"],
                        what="blocked")  # fmt: skip
            mention = await until(lambda: [b for b in bot_comments(repo, number)
                                           if "cc @sec-team @acme/oncall" in b],
                                  what="guardians mentioned")  # fmt: skip
            assert "protected" in mention[0]

            (event,) = await until(flaky.events, what="the blocked notice after two failures")
            assert event["event"] == "request.blocked" and event["repository"] == repo.full_name
            assert event["details"]["guardians"] == ["@sec-team", "@acme/oncall"]
            assert event["url"].endswith(f"/issues/{number}")
            headers = flaky.got[-1][0]
            assert headers["X-Selfheal-Event"] == "request.blocked"
            # every retry sent the same signed bytes under the same delivery id
            assert len({body for _, body in flaky.got}) == 1
            assert len({h["X-Selfheal-Delivery"] for h, _ in flaky.got}) == 1

            def outbox() -> list[notifications.Outgoing]:
                return server.ledger.read(lambda c: notifications.recent(c))

            def settled() -> bool:
                return all(n.status != "pending" for n in outbox()) and len(outbox()) == 2

            await until(settled, what="both deliveries settled")
            by_target = {n.target_shown: n for n in outbox()}
            good = by_target[flaky.url.rsplit("/", 1)[0] + "/..."]
            bad = by_target[dead.url.rsplit("/", 1)[0] + "/..."]
            assert (good.status, good.attempts) == ("delivered", 3)
            assert (bad.status, bad.attempts) == ("failed", 3)
            tries = server.ledger.read(lambda c: notifications.attempts(c, good.id))
            assert [t.status_code for t in tries] == [500, 500, 200]
            assert len(dead.got) == 3 and "/hook" not in bad.last_error

            # the halt is notified too, and a failing target never held the bot up
            await alice.open_issue(repo, "Stop", labels=["selfheal:halt"])
            await until(lambda: any(e["event"] == "halt.started" for e in flaky.events()),
                        what="halt notice")  # fmt: skip


async def test_a_repository_picks_which_events_it_is_told_about(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    files = {**BASE_FILES, ".github/selfheal.policy": POLICY, "vendor/lib.py": "x = 1\n",
             ".github/selfheal.yml": "notifications:\n  events: [halt.started]\n"}  # fmt: skip
    async with receiving(Receiver()) as hook:
        env = {"SELFHEAL_NOTIFY_URLS": hook.url, "SELFHEAL_NOTIFY_SECRET": SECRET}
        async with request_server(emu, tmp_path, files, env=env) as (repo, server):
            alice = emu.person("alice", "write")
            opened = await alice.open_issue(repo, "Vendor", blocked_form(), labels=[REQUEST])
            number = int(opened["number"])
            await until(lambda: state_labels(repo, number) == ["selfheal:state/blocked"],
                        what="blocked")  # fmt: skip
            await alice.open_issue(repo, "Stop", labels=["selfheal:halt"])
            (event,) = await until(hook.events, what="the halt notice")
            assert event["event"] == "halt.started"
            assert server.ledger.read(lambda c: len(notifications.recent(c))) == 1
