"""Webhook deliveries: signatures, headers, recorded failures, replay, and payload shapes
checked against @octokit/webhooks-schemas."""

from __future__ import annotations

import socket

import pytest

from selfheal.emulator import Emulator, Person, PersonError, sign
from selfheal.emulator.state import Repo
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.webhook_schema import problems


@pytest.fixture
def repo(github_emulator: Emulator) -> Repo:
    return github_emulator.create_repo("acme/widgets", {"app.py": "print(1)\n"})


async def test_headers_and_signature(
    github_emulator: Emulator, webhook_receiver: WebhookReceiver, repo: Repo
) -> None:
    inst = github_emulator.install([repo])
    alice = github_emulator.person("alice")
    await alice.open_issue(repo, "hello")
    await github_emulator.drain()
    opened = github_emulator.deliveries[-1]
    assert opened.event == "issues" and opened.action == "opened" and opened.status == 202
    assert opened.headers["X-Hub-Signature-256"] == sign(
        github_emulator.app.webhook_secret, opened.body
    )
    assert opened.headers["User-Agent"].startswith("GitHub-Hookshot/")
    assert opened.headers["X-GitHub-Hook-Installation-Target-ID"] == str(github_emulator.app.id)
    assert opened.headers["X-GitHub-Hook-Installation-Target-Type"] == "integration"
    assert opened.payload["installation"]["id"] == inst.id
    assert opened.payload["organization"]["login"] == "acme"
    assert len({d.guid for d in github_emulator.deliveries}) == len(github_emulator.deliveries)
    assert [e.event for e in webhook_receiver.events] == ["installation", "issues"]


async def test_replay_is_identical(
    github_emulator: Emulator, webhook_receiver: WebhookReceiver, repo: Repo
) -> None:
    github_emulator.install([repo])
    await github_emulator.person("alice").open_issue(repo, "hello")
    await github_emulator.drain()
    original = github_emulator.deliveries[-1]
    again = github_emulator.replay(original)
    await github_emulator.drain()
    assert again.redelivery and again.ok
    assert (again.guid, again.body) == (original.guid, original.body)
    assert again.headers["X-Hub-Signature-256"] == original.headers["X-Hub-Signature-256"]
    first, second = webhook_receiver.events[-2:]
    assert first.delivery_id == second.delivery_id == original.guid
    assert first.data == second.data
    assert webhook_receiver.rejected == 0


async def test_failures_are_recorded_not_raised(github_emulator: Emulator, repo: Repo) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/webhook"
    github_emulator.set_webhook_url(dead)
    github_emulator.install([repo])
    await github_emulator.drain()
    failed = github_emulator.deliveries[-1]
    assert failed.status is None and failed.error and not failed.ok

    rec = WebhookReceiver(secret=github_emulator.app.webhook_secret, status=500)
    github_emulator.set_webhook_url(await rec.start())
    try:
        retried = github_emulator.replay(failed)
        await github_emulator.drain()
        assert retried.status == 500 and not retried.ok
        assert rec.events[0].delivery_id == failed.guid
    finally:
        await rec.stop()


async def test_no_url_means_no_delivery(github_emulator: Emulator, repo: Repo) -> None:
    github_emulator.install([repo])
    await github_emulator.drain()
    assert github_emulator.deliveries == []


async def test_every_payload_matches_its_schema(
    github_emulator: Emulator, webhook_receiver: WebhookReceiver, repo: Repo
) -> None:
    emu = github_emulator
    inst = emu.install([repo])
    alice = emu.person("alice", permission="write")
    issue = await alice.open_issue(repo, "Bug", "body", labels=["bug"])
    number = issue["number"]
    await alice.add_labels(repo, number, "selfheal:request")
    await alice.remove_label(repo, number, "bug")
    comment = await alice.comment(repo, number, "/selfheal status")
    await alice.call(
        "PATCH",
        f"/repos/acme/widgets/issues/comments/{comment['id']}",
        {"body": "/selfheal approve"},
    )
    await alice.call("PATCH", f"/repos/acme/widgets/issues/{number}", {"title": "Bug!"})
    await alice.call("DELETE", f"/repos/acme/widgets/issues/comments/{comment['id']}")
    await alice.close(repo, number)
    await alice.call("PATCH", f"/repos/acme/widgets/issues/{number}", {"state": "open"})
    await alice.push(repo, "feature", {"app.py": "print(2)\n"})
    pr = await alice.open_pr(repo, "feature", "Change", f"Fixes #{number}", draft=True)
    await alice.add_labels(repo, pr["number"], "selfheal:state/coding")
    head = await alice.push(repo, "feature", {"new.py": "x = 1\n"})
    token = emu.installation_token(inst)
    app_as_person = Person(emu, emu.world.tokens[token])
    run = await app_as_person.call(
        "POST",
        "/repos/acme/widgets/check-runs",
        {
            "name": "selfheal/security-gate",
            "head_sha": head,
            "actions": [{"label": "Approve", "description": "Override", "identifier": "approve"}],
        },
    )
    await app_as_person.call(
        "PATCH",
        f"/repos/acme/widgets/check-runs/{run['id']}",
        {"conclusion": "neutral", "output": {"title": "t", "summary": "s"}},
    )
    await app_as_person.call("POST", f"/repos/acme/widgets/check-runs/{run['id']}/rerequest")
    await app_as_person.call(
        "POST", f"/repos/acme/widgets/check-suites/{run['check_suite']['id']}/rerequest"
    )
    await alice.click_check_run_action(run["id"], "approve")
    for mutation in ("markPullRequestReadyForReview", "convertPullRequestToDraft"):
        await alice.call(
            "POST",
            "/graphql",
            {
                "query": f'mutation {{ {mutation}(input: {{pullRequestId: "{pr["node_id"]}"}}) '
                "{ pullRequest { isDraft } } }"
            },
        )
    await alice.call(
        "POST",
        "/graphql",
        {
            "query": "mutation($id: ID!) { markPullRequestReadyForReview(input: "
            "{pullRequestId: $id}) { pullRequest { isDraft } } }",
            "variables": {"id": pr["node_id"]},
        },
    )
    reviewer = emu.person("olga", permission="maintain")
    with pytest.raises(PersonError) as own:
        await alice.review(repo, pr["number"], "APPROVE")
    assert own.value.status == 422
    approval = await reviewer.review(repo, pr["number"], "APPROVE")
    assert approval["state"] == "APPROVED" and approval["commit_id"] == head
    reviews = await alice.call("GET", f"/repos/acme/widgets/pulls/{pr['number']}/reviews")
    assert [(r["user"]["login"], r["state"]) for r in reviews] == [("olga", "APPROVED")]
    await alice.merge(repo, pr["number"], method="squash")
    emu.complete_workflow_run(repo, head_sha=head, head_branch="feature", conclusion="failure")
    other = emu.create_repo("acme/other")
    emu.add_installation_repos(inst, [other])
    emu.remove_installation_repos(inst, [other])
    emu.uninstall(inst)
    await emu.drain()

    kinds = {(d.event, d.action) for d in emu.deliveries}
    expected = {
        ("installation", "created"),
        ("installation", "deleted"),
        ("installation_repositories", "added"),
        ("installation_repositories", "removed"),
        ("issues", "opened"),
        ("issues", "labeled"),
        ("issues", "unlabeled"),
        ("issues", "edited"),
        ("issues", "closed"),
        ("issues", "reopened"),
        ("issue_comment", "created"),
        ("issue_comment", "edited"),
        ("issue_comment", "deleted"),
        ("push", None),
        ("pull_request", "opened"),
        ("pull_request", "labeled"),
        ("pull_request", "synchronize"),
        ("pull_request", "ready_for_review"),
        ("pull_request", "converted_to_draft"),
        ("pull_request", "closed"),
        ("check_suite", "requested"),
        ("check_suite", "rerequested"),
        ("check_suite", "completed"),
        ("check_run", "created"),
        ("check_run", "completed"),
        ("check_run", "rerequested"),
        ("check_run", "requested_action"),
        ("workflow_run", "completed"),
        ("workflow_job", "completed"),
        ("pull_request_review", "submitted"),
    }
    assert expected <= kinds, expected - kinds
    found = {
        f"{d.event}.{d.action}": errors
        for d in emu.deliveries
        if (errors := problems(d.event, d.payload, formats=True))
    }
    assert found == {}
    assert all(d.ok for d in emu.deliveries)
    assert webhook_receiver.rejected == 0
    labeled = [d.payload for d in emu.deliveries if (d.event, d.action) == ("issues", "labeled")]
    assert labeled[-1]["label"]["name"] == "selfheal:request"
    assert labeled[-1]["sender"]["login"] == "alice"
    sync = next(d.payload for d in emu.deliveries if d.action == "synchronize")
    assert sync["after"] == head and sync["pull_request"]["head"]["sha"] == head
