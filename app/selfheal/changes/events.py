"""What queues a ``request`` job: ``issues`` events on an issue labelled ``selfheal:request``.

The handler only reads the payload and enqueues (key ``request:<repo>#<n>:<delivery>``); the
job (:mod:`selfheal.changes.service`) reads the issue fresh from GitHub, so a burst of events
on one issue converges on the issue's latest state.
"""

from __future__ import annotations

import gidgethub
from gidgethub import routing
from gidgethub.sansio import Event

from selfheal.changes import machine, revert
from selfheal.changes.authorisation import Actor, decide_label
from selfheal.changes.coding import drive_request, kick_queue
from selfheal.changes.service import JOB_KIND
from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import permission_of, split
from selfheal.ledger import requests
from selfheal.model.labels import APPROVED_LABEL, REQUEST_LABEL
from selfheal.runtime.context import JobContext

router = routing.Router()

ACTIONS = ("opened", "labeled", "reopened", "edited")


@router.register("issues")
async def on_issue(event: Event, ctx: JobContext) -> None:
    data = event.data
    action, issue = data.get("action"), data.get("issue") or {}
    if action not in ACTIONS or "pull_request" in issue:
        return
    names = [str(label.get("name") or "").lower() for label in issue.get("labels") or []]
    if REQUEST_LABEL not in names:
        return
    added = str((data.get("label") or {}).get("name") or "").lower()
    if action == "labeled" and added != REQUEST_LABEL:
        return  # another label on a request: the request label's own event queued the job
    repo = str(data["repository"]["full_name"])
    sender = str((data.get("sender") or {}).get("login") or "")
    payload = {
        "repository": repo,
        "installation_id": ctx.installation_id,
        "issue_number": int(issue["number"]),
        "action": action,
        "sender": sender,
        # Who applied selfheal:request; an issue opened with it (the issue form) has none.
        "labeller": sender if action == "labeled" else None,
    }
    if action == "edited":  # the text as this sender left it, not as a later edit leaves it
        payload["edit"] = {"title": issue.get("title"), "body": issue.get("body")}
    key = f"request:{repo}#{issue['number']}:{event.delivery_id}"
    await ctx.enqueue(JOB_KIND, payload, key=key, repository=repo)


async def _revert_label(gh: GitHubAPI, repo: str, number: int, label: str, added: bool) -> None:
    owner, name = split(repo)
    try:
        if added:
            await gh.call("issues.remove_label", owner=owner, repo=name, issue_number=number,
                          name=label)  # fmt: skip
        else:
            await gh.call("issues.add_labels", owner=owner, repo=name, issue_number=number,
                          data={"labels": [label]})  # fmt: skip
    except gidgethub.BadRequest as exc:
        if exc.status_code != 404:  # already reverted (a redelivery)
            raise


@router.register("issues", action="labeled")
@router.register("issues", action="unlabeled")
async def on_label(event: Event, ctx: JobContext) -> None:
    """Only the bot sets the labels that carry its decisions (``selfheal:approved``, the state
    labels, ``selfheal:bot``, the monitor's): anyone else's toggle is reverted and audited, as
    the lock label's is. (Who applied ``selfheal:request`` is checked by the request job.)"""
    data = event.data
    issue = data.get("issue") or {}
    label = str((data.get("label") or {}).get("name") or "")
    sender = str((data.get("sender") or {}).get("login") or "")
    if (
        not label
        or label.lower() == REQUEST_LABEL
        or sender.lower() == (await ctx.bot_login()).lower()
    ):
        return
    names = [str(lb.get("name") or "").lower() for lb in issue.get("labels") or []]
    if REQUEST_LABEL not in names and label.lower() != APPROVED_LABEL:
        return  # not a request (the approved label is the bot's anywhere)
    added = data.get("action") == "labeled"
    # The App-only labels refuse every person, whatever the role: ask GitHub only otherwise.
    probe = decide_label(label, Actor(sender, "none"), added=added)
    if probe is None or probe.allowed:
        return
    repo, number = str(data["repository"]["full_name"]), int(issue["number"])
    gh = await ctx.github()
    decision = decide_label(
        label, Actor(sender, await permission_of(gh, repo, sender)), added=added
    )
    if decision is None or decision.allowed:
        return
    await _revert_label(gh, repo, number, label, added)
    await ctx.audit(sender, "request.label_reverted", {"issue": number, "label": label,
                    "added": added, "reason": decision.reason}, request=number)  # fmt: skip


@router.register("pull_request", action="closed")
async def on_pull_request_closed(event: Event, ctx: JobContext) -> None:
    """A request's PR was merged: the request is merged (GitHub closes the issue itself,
    through ``Fixes #N``). A request's revert PR was closed: recorded on the request. Any
    request's PR closing frees a slot for the queued ones."""
    pr = event.data["pull_request"]
    repo, number = str(event.data["repository"]["full_name"]), int(pr["number"])
    if await revert.on_revert_closed(ctx, repo, number, bool(pr.get("merged"))):
        await kick_queue(ctx, repo, f"pr-closed:{number}:{event.delivery_id}")
        return
    request = await ctx.ledger.aread(lambda c: requests.find_by_pr(c, repo, number))
    if request is None:
        return
    if pr.get("merged"):
        await drive_request(ctx, request, machine.Merged())
    await kick_queue(ctx, repo, f"pr-closed:{number}:{event.delivery_id}")


PUSHED_BY_A_PERSON = (
    "@{who} pushed to `{branch}`, so selfheal will not force-push this branch again. The gate "
    "checks the new commits, and the pull request is not merged automatically."
)


@router.register("pull_request", action="synchronize")
async def on_pull_request_pushed(event: Event, ctx: JobContext) -> None:
    """Someone other than the bot pushed to a request's branch: the branch is shared from now
    on (never force-pushed or deleted by the bot), the request follows the new head, and the
    issue says so once."""
    pr = event.data["pull_request"]
    repo, number = str(event.data["repository"]["full_name"]), int(pr["number"])
    sender = str((event.data.get("sender") or {}).get("login") or "")
    head = str(pr["head"]["sha"])
    request = await ctx.ledger.aread(lambda c: requests.find_by_pr(c, repo, number))
    if request is None or head == request.head_sha:
        return
    if sender.lower() == (await ctx.bot_login()).lower():
        return
    branch = str(pr["head"]["ref"])
    shared = sorted({*(request.data.get("shared_branches") or ()), branch})
    first = branch not in (request.data.get("shared_branches") or ())
    data = {**request.data, "shared_branches": shared}
    await ctx.ledger.awrite(lambda c: requests.update(c, request.id, head_sha=head, data=data))
    await ctx.audit(sender, "request.branch_pushed", {"pr": number, "branch": branch,
                    "sha": head}, request=request.issue_number)  # fmt: skip
    if first:
        gh = await ctx.github()
        owner, name = split(repo)
        text = PUSHED_BY_A_PERSON.format(who=sender, branch=branch)
        await gh.call("issues.create_comment", owner=owner, repo=name,
                      issue_number=request.issue_number, data={"body": text})  # fmt: skip
