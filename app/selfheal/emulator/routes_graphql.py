"""A minimal POST /graphql: only the mutations markPullRequestReadyForReview and
convertPullRequestToDraft (GitHub offers draft changes only through GraphQL), and pinIssue
(at most three pinned issues a repository, as on GitHub; writers only). The pull request
id comes inline (``pullRequestId: "..."``) or from the variables; the answer is
``{data: {<mutation>: {pullRequest: {id, number, isDraft}}}}``. Anything else gets a GraphQL
error, never a guess."""

from __future__ import annotations

import re
import time
from typing import Any

from aiohttp import web

from . import events
from .auth import NOT_INTEGRATION, permission
from .context import emu, identity
from .responses import ApiError, body, reply
from .serializers import parse_node_id
from .state import permission_at_least

GRAPHQL_MUTATIONS = ("markPullRequestReadyForReview", "convertPullRequestToDraft")


MAX_PINNED = 3


def _error(kind: str, message: str, path: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": kind, "message": message}
    if path:
        error["path"] = [path]
    return error


def _pin(request: web.Request, query: str, variables: Any) -> web.Response:
    e, ident = emu(request), identity(request)
    literal = re.search(r'issueId\s*:\s*"([^"]+)"', query)
    node = literal.group(1) if literal else _find_id(variables, ("issueId", "id"))
    parsed = parse_node_id(node or "")
    wanted = parsed[1] if parsed and parsed[0] == "Issue" else None
    found = [(r, i) for r in e.world.repos.values() for i in r.issues.values()
             if i.id == wanted and i.pull is None]  # fmt: skip
    if not found:
        missing = f"Could not resolve to a node with the global id of '{node}'."
        return reply(
            {"data": {"pinIssue": None}, "errors": [_error("NOT_FOUND", missing, "pinIssue")]}
        )
    repo, issue = found[0]
    if not permission_at_least(permission(ident, repo), "write"):
        return reply({"data": {"pinIssue": None},
                      "errors": [_error("FORBIDDEN", NOT_INTEGRATION, "pinIssue")]})  # fmt: skip
    pinned = [i for i in repo.issues.values() if i.pinned and i is not issue]
    if len(pinned) >= MAX_PINNED:
        full = "You can only pin up to three issues per repository."
        return reply({"data": {"pinIssue": None},
                      "errors": [_error("UNPROCESSABLE", full, "pinIssue")]})  # fmt: skip
    issue.pinned = True
    return reply({"data": {"pinIssue": {"issue": {"number": issue.number}}}})


async def graphql(request: web.Request) -> web.Response:
    """The two draft mutations and pinIssue; anything else gets a GraphQL error."""
    ident = identity(request)
    if ident.user is None:
        raise ApiError(401, "This endpoint requires you to be authenticated.")
    data = await body(request)
    query = str(data.get("query", ""))
    variables = data.get("variables") or {}
    if "pinIssue" in query:
        return _pin(request, query, variables)
    return _draft(request, query, variables)


def _draft(request: web.Request, query: str, variables: Any) -> web.Response:
    """markPullRequestReadyForReview / convertPullRequestToDraft."""
    e, ident = emu(request), identity(request)
    assert ident.user is not None
    mutation = next((m for m in GRAPHQL_MUTATIONS if m in query), None)
    if mutation is None:
        return reply(
            {
                "errors": [
                    {
                        "message": "The emulator supports only the "
                        "markPullRequestReadyForReview, convertPullRequestToDraft and pinIssue "
                        "mutations",
                        "type": "NOT_IMPLEMENTED",
                    }
                ]
            }
        )
    literal = re.search(r'pullRequestId\s*:\s*"([^"]+)"', query)
    node = literal.group(1) if literal else _find_pr_id(variables)
    parsed = parse_node_id(node or "")
    found = None
    if parsed and parsed[0] == "PullRequest":
        for repo in e.world.repos.values():
            for issue in repo.issues.values():
                if issue.pull and issue.pr_id == parsed[1]:
                    found = (repo, issue)
    if found is None:
        return reply(
            {
                "data": {mutation: None},
                "errors": [
                    {
                        "type": "NOT_FOUND",
                        "path": [mutation],
                        "message": f"Could not resolve to a node with the global id of '{node}'.",
                    }
                ],
            }
        )
    repo, issue = found
    assert issue.pull is not None
    if (
        not permission_at_least(permission(ident, repo), "write")
        and ident.user.login != issue.user.login
    ):
        return reply(
            {
                "data": {mutation: None},
                "errors": [
                    {
                        "type": "FORBIDDEN",
                        "path": [mutation],
                        "message": NOT_INTEGRATION,
                    }
                ],
            }
        )
    want_draft = mutation == "convertPullRequestToDraft"
    if issue.pull.draft != want_draft:
        issue.pull.draft, issue.updated_at = want_draft, time.time()
        action = "converted_to_draft" if want_draft else "ready_for_review"
        events.pull_request(e, repo, issue, action, ident.user)
    pr_json = {"id": node, "number": issue.number, "isDraft": issue.pull.draft}
    return reply({"data": {mutation: {"pullRequest": pr_json}}})


def _find_pr_id(variables: Any) -> str | None:
    return _find_id(variables, ("pullRequestId", "id"))


def _find_id(variables: Any, keys: tuple[str, ...]) -> str | None:
    if isinstance(variables, dict):
        for key, value in variables.items():
            if key in keys and isinstance(value, str):
                return value
            found = _find_id(value, keys)
            if found:
                return found
    return None


def setup(router: web.UrlDispatcher) -> None:
    router.add_post("/graphql", graphql)
