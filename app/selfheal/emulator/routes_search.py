"""GET /search/issues with the qualifiers the app uses: repo:, is:issue|pr, is:open|closed,
state:, label:"..." (repeatable, all must match), author:, in:title|body, free-text terms."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from aiohttp import web

from .auth import permission
from .context import emu, identity
from .responses import paginate, reply, validation
from .state import Issue, Repo


@dataclass
class Query:
    repos: list[str] = field(default_factory=list)
    kind: str | None = None  # issue | pr
    state: str | None = None
    labels: list[str] = field(default_factory=list)
    author: str | None = None
    fields: set[str] = field(default_factory=set)
    terms: list[str] = field(default_factory=list)


def parse_query(q: str) -> Query:
    try:
        tokens = shlex.split(q)
    except ValueError as exc:
        raise validation("Search", "q", message=str(exc)) from exc
    out = Query()
    for token in tokens:
        key, sep, value = token.partition(":")
        key = key.lower()
        if not sep:
            out.terms.append(token.lower())
        elif key == "repo":
            out.repos.append(value.lower())
        elif key in ("is", "type") and value in ("issue", "pr"):
            out.kind = value
        elif key in ("is", "state") and value in ("open", "closed"):
            out.state = value
        elif key == "label":
            out.labels.append(value.lower())
        elif key == "author":
            out.author = value.lower()
        elif key == "in":
            out.fields.update(value.lower().split(","))
        else:
            out.terms.append(token.lower())
    return out


def matches(query: Query, repo: Repo, issue: Issue) -> bool:
    if query.repos and repo.full_name.lower() not in query.repos:
        return False
    if query.kind == "issue" and issue.pull is not None:
        return False
    if query.kind == "pr" and issue.pull is None:
        return False
    if query.state and issue.state != query.state:
        return False
    names = {lb.name.lower() for lb in issue.labels}
    if any(lb not in names for lb in query.labels):
        return False
    if query.author and issue.user.login.lower() != query.author:
        return False
    fields = query.fields or {"title", "body"}
    text = " ".join(str(getattr(issue, f) or "") for f in ("title", "body") if f in fields).lower()
    return all(term in text for term in query.terms)


async def search_issues(request: web.Request) -> web.Response:
    q = request.query.get("q")
    if not q:
        raise validation("Search", "q", "missing")
    query = parse_query(q)
    e, ident = emu(request), identity(request)
    found: list[tuple[Repo, Issue]] = []
    for repo in e.world.repos.values():
        if permission(ident, repo) == "none":
            continue
        found.extend((repo, i) for i in repo.issues.values() if matches(query, repo, i))
    sort = request.query.get("sort")
    key = (lambda x: x[1].updated_at) if sort == "updated" else (lambda x: x[1].created_at)
    found.sort(key=key, reverse=request.query.get("order", "desc") != "asc")
    items = [e.render.issue(r, i) | {"score": 1.0} for r, i in found]
    chunk, headers = paginate(request, items)
    return reply(
        {
            "total_count": len(items),
            "incomplete_results": False,
            "items": chunk,
            "search_type": "lexical",
        },
        headers=headers,
    )


def setup(router: web.UrlDispatcher) -> None:
    router.add_get("/search/issues", search_issues)
