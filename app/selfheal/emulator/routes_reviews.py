"""Pull request reviews: submit (APPROVE / REQUEST_CHANGES / COMMENT) and list; each submission
sends pull_request_review.submitted. Owners approve "review"-level changes this way."""

from __future__ import annotations

import time

from aiohttp import web

from . import events, gitdata
from .auth import actor_of
from .context import emu, identity, issue_for, repo_for
from .responses import ApiError, body, paged_reply, reply, validation
from .state import Review

EVENTS = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}


async def create_review(request: web.Request) -> web.Response:
    repo = repo_for(request)
    e = emu(request)
    issue = issue_for(repo, request.match_info["pull_number"], pulls=True)
    pr = issue.pull
    assert pr is not None
    user = actor_of(identity(request))
    data = await body(request)
    event = str(data.get("event", "COMMENT"))
    if event not in EVENTS:
        raise validation("PullRequestReview", "event", "invalid")
    if event != "APPROVE" and not data.get("body"):
        raise ApiError(422, "Unprocessable Entity", errors=["Body is required for this event"])
    if event != "COMMENT" and user.login == issue.user.login:
        verb = "approve" if event == "APPROVE" else "request changes on"
        raise ApiError(
            422, "Unprocessable Entity", errors=[f"Can not {verb} your own pull request"]
        )
    review = Review(
        id=e.world.next_id(),
        user=user,
        state=EVENTS[event],
        body=data.get("body") or "",  # GitHub stores an empty review body as ""
        commit_id=str(data.get("commit_id") or pr.head_sha),
        submitted_at=time.time(),
    )
    pr.reviews.append(review)
    git = gitdata.open_repo(repo.path)
    events.emit(
        e,
        "pull_request_review",
        repo,
        user,
        {
            "review": e.render.review(repo, issue, review, hook=True),
            "pull_request": e.render.simple_pull(repo, issue, git),
        },
        action="submitted",
    )
    return reply(e.render.review(repo, issue, review))


async def list_reviews(request: web.Request) -> web.Response:
    repo = repo_for(request)
    issue = issue_for(repo, request.match_info["pull_number"], pulls=True)
    assert issue.pull is not None
    r = emu(request).render
    return paged_reply(request, [r.review(repo, issue, rv) for rv in issue.pull.reviews])


def setup(router: web.UrlDispatcher) -> None:
    path = "/repos/{owner}/{repo}/pulls/{pull_number:\\d+}/reviews"
    router.add_get(path, list_reviews)
    router.add_post(path, create_review)
