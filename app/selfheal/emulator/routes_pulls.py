"""Pull requests: create (incl. draft), get, update, list, files, commits, merge honouring
required checks; and a minimal POST /graphql for markPullRequestReadyForReview and
convertPullRequestToDraft (GitHub offers those only through GraphQL)."""

from __future__ import annotations

import re
import time
from typing import Any

import pygit2
from aiohttp import web

from . import events, forks, gitdata
from .auth import NEEDS_PUSH, actor_of, permission
from .context import emu, identity, issue_for, repo_for
from .issue_ops import set_state
from .responses import ApiError, body, custom, paged_reply, reply, validation
from .state import Issue, PullRequest, Repo, permission_at_least, required_check_problem

CLOSING_RE = re.compile(
    r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?):?\s+(?:(?P<repo>[\w.-]+/[\w.-]+))?#(?P<n>\d+)\b",
    re.IGNORECASE,
)
# GitHub links no reference inside code: fenced blocks and inline code spans.
CODE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})[^\n]*\n.*?(?:^ {0,3}\1[^\n]*$|\Z)|(`+)[^`].*?\2",
                     re.MULTILINE | re.DOTALL)  # fmt: skip


def closing_references(text: str, repository: str) -> list[int]:
    """The issue numbers of ``repository`` that ``text`` (a pull request's body or a commit
    message) says it closes: a keyword, an optional colon, then ``#N`` or ``owner/repo#N``;
    never in code."""
    found = []
    for m in CLOSING_RE.finditer(CODE_RE.sub(" ", text)):
        if m.group("repo") is None or m.group("repo").lower() == repository.lower():
            found.append(int(m.group("n")))
    return found


def _head_repo(request: web.Request, repo: Repo, head: str, head_repo: Any) -> tuple[Repo, str]:
    """Where ``head`` (``branch`` or ``owner:branch``, with an optional ``head_repo`` name)
    lives: the base repository or a repository of its fork network the caller can read."""
    owner, _, branch = head.rpartition(":")
    name = str(head_repo) if head_repo else None
    found = forks.head_repo_for(repo, owner or repo.owner.login, name)
    if found is None or permission(identity(request), found) == "none":
        raise validation("PullRequest", "head", "invalid")
    return found, branch


async def create_pull(request: web.Request) -> web.Response:
    repo = repo_for(request)
    e = emu(request)
    data = await body(request)
    head_repo, head = _head_repo(request, repo, str(data.get("head", "")), data.get("head_repo"))
    base = str(data.get("base", ""))
    head_sha = gitdata.refs(gitdata.open_repo(head_repo.path)).get(f"refs/heads/{head}")
    if head_sha is None:
        raise validation("PullRequest", "head", "invalid")
    git = gitdata.open_repo(repo.path)
    base_sha = gitdata.refs(git).get(f"refs/heads/{base}")
    if base_sha is None:
        raise validation("PullRequest", "base", "invalid")
    if not data.get("title"):
        raise validation("PullRequest", "title", "missing_field")
    if head_repo is not repo:  # the base repository must hold the head commit to compare
        gitdata.import_commit(git, head_repo.path, head_sha)
    if gitdata.is_ancestor(git, head_sha, base_sha):
        raise custom("PullRequest", f"No commits between {base} and {head}")
    for other in repo.issues.values():
        pr = other.pull
        if (
            pr
            and other.state == "open"
            and pr.head_ref == head
            and pr.base_ref == base
            and (pr.head_repo or repo) is head_repo
        ):
            owner = head_repo.owner.login
            raise custom("PullRequest", f"A pull request already exists for {owner}:{head}.")
    now, actor = time.time(), actor_of(identity(request))
    issue = Issue(
        id=e.world.next_id(),
        number=e.world.next_issue_number(repo),
        title=str(data["title"]),
        body=data.get("body"),
        user=actor,
        created_at=now,
        updated_at=now,
        pr_id=e.world.next_id(),
        pull=PullRequest(
            head_ref=head,
            base_ref=base,
            head_sha=head_sha,
            base_sha=base_sha,
            draft=bool(data.get("draft")),
            maintainer_can_modify=bool(data.get("maintainer_can_modify")),
            head_repo=None if head_repo is repo else head_repo,
            mergeable_pending=e.world.mergeable_lag,
        ),
    )
    repo.issues[issue.number] = issue
    forks.track_head(repo, issue, head_sha)
    events.pull_request(e, repo, issue, "opened", actor)
    return reply(e.render.pull(repo, issue, git), status=201)


async def get_pull(request: web.Request) -> web.Response:
    repo = repo_for(request)
    issue = issue_for(repo, request.match_info["pull_number"], pulls=True)
    rendered = emu(request).render.pull(repo, issue, gitdata.open_repo(repo.path))
    if issue.pull is not None and issue.pull.mergeable_pending > 0:
        issue.pull.mergeable_pending -= 1  # each read brings GitHub closer to an answer
    return reply(rendered)


async def update_pull(request: web.Request) -> web.Response:
    repo = repo_for(request)
    e, ident = emu(request), identity(request)
    issue = issue_for(repo, request.match_info["pull_number"], pulls=True)
    assert issue.pull is not None
    actor = actor_of(ident)
    if actor.login != issue.user.login and not permission_at_least(
        permission(ident, repo), "write"
    ):
        raise ApiError(403, NEEDS_PUSH)
    data = await body(request)
    changes: dict[str, Any] = {}
    for key in ("title", "body"):
        if key in data and data[key] != getattr(issue, key):
            changes[key] = {"from": getattr(issue, key) or ""}
            setattr(issue, key, data[key])
    if "base" in data and data["base"] != issue.pull.base_ref:
        sha = gitdata.refs(gitdata.open_repo(repo.path)).get(f"refs/heads/{data['base']}")
        if sha is None:
            raise validation("PullRequest", "base", "invalid")
        changes["base"] = {
            "ref": {"from": issue.pull.base_ref},
            "sha": {"from": issue.pull.base_sha},
        }
        issue.pull.base_ref, issue.pull.base_sha = str(data["base"]), sha
    if changes:
        issue.updated_at = time.time()
        events.pull_request(e, repo, issue, "edited", actor, changes=changes)
    if "state" in data:
        if data["state"] not in ("open", "closed"):
            raise validation("PullRequest", "state", "invalid")
        set_state(request, repo, issue, data["state"], None)
    return reply(e.render.pull(repo, issue, gitdata.open_repo(repo.path)))


async def list_pulls(request: web.Request) -> web.Response:
    repo = repo_for(request)
    q = request.query
    state = q.get("state", "open")
    items = [i for i in repo.issues.values() if i.pull and (state == "all" or i.state == state)]
    if q.get("head"):  # owner:branch, or a bare branch name (any owner)
        owner, _, head = q["head"].rpartition(":")
        items = [
            i
            for i in items
            if i.pull
            and i.pull.head_ref == head
            and (not owner or (i.pull.head_repo or repo).owner.login.lower() == owner.lower())
        ]
    if q.get("base"):
        items = [i for i in items if i.pull and i.pull.base_ref == q["base"]]
    items.sort(key=lambda i: (i.created_at, i.number), reverse=q.get("direction", "desc") != "asc")
    git = gitdata.open_repo(repo.path)
    r = emu(request).render
    return paged_reply(request, [r.pull(repo, i, git) for i in items])


def _range(request: web.Request) -> tuple[Repo, pygit2.Repository, str, str]:
    """The pull request in the path: its repository, git, and the range it proposes (merge
    base, head)."""
    repo = repo_for(request)
    pr = issue_for(repo, request.match_info["pull_number"], pulls=True).pull
    assert pr is not None
    git = gitdata.open_repo(repo.path)
    base = gitdata.merge_base(git, pr.base_sha, pr.head_sha) or pr.base_sha
    return repo, git, base, pr.head_sha


async def list_files(request: web.Request) -> web.Response:
    repo, git, base, head = _range(request)
    r = emu(request).render
    files = gitdata.diff_files(git, base, head)
    return paged_reply(request, [r.file_change(repo, head, f) for f in files])


async def list_commits(request: web.Request) -> web.Response:
    repo, git, base, head = _range(request)
    r = emu(request).render
    commits = gitdata.commits_between(git, base, head)
    return paged_reply(request, [r.commit(repo, c) for c in commits])


async def merge_pull(request: web.Request) -> web.Response:
    repo = repo_for(request, "write")
    e = emu(request)
    issue = issue_for(repo, request.match_info["pull_number"], pulls=True)
    pr = issue.pull
    assert pr is not None
    data = await body(request)
    _refuse_unmergeable(repo, issue, pr, data)
    method = str(data.get("merge_method", "merge"))
    if method not in ("merge", "squash", "rebase"):
        raise validation("PullRequest", "merge_method", "invalid")
    actor = actor_of(identity(request))
    git = gitdata.open_repo(repo.path)
    message = _merge_message(repo, issue, pr, method, data)
    author = actor.author()
    async with e.push_lock(repo):  # no push may move the base between merge and ref update
        brought = [c.message for c in gitdata.commits_between(git, pr.base_sha, pr.head_sha)]
        sha = gitdata.merge(git, pr.base_sha, pr.head_sha, method, message, author)
        if sha is None:
            raise ApiError(405, "Pull Request is not mergeable")
        now = time.time()
        pr.merged, pr.merged_at, pr.merged_by, pr.merge_commit_sha = True, now, actor, sha
        issue.state, issue.closed_at, issue.closed_by, issue.updated_at = "closed", now, actor, now
        before = gitdata.refs(git)
        gitdata.set_ref(git, f"refs/heads/{pr.base_ref}", sha)
        events.pull_request(e, repo, issue, "closed", actor)
        e.refs_changed(repo, before, gitdata.refs(git), actor)
    if pr.base_ref == repo.default_branch:
        _close_referenced_issues(request, repo, issue, [message, *brought])
    return reply({"sha": sha, "merged": True, "message": "Pull Request successfully merged"})


def _refuse_unmergeable(repo: Repo, issue: Issue, pr: PullRequest, data: dict[str, Any]) -> None:
    """Raise GitHub's error for a pull request that cannot be merged as asked: merged or
    closed, a draft, a head other than the ``sha`` given, or required checks not passed."""
    if pr.merged or issue.state != "open":
        raise ApiError(405, "Pull Request is not mergeable")
    if pr.draft:
        raise ApiError(405, "Pull Request is still a draft")
    if data.get("sha") and data["sha"] != pr.head_sha:
        raise ApiError(409, "Head branch was modified. Review and try the merge again.")
    problem = required_check_problem(repo, pr.base_ref, pr.head_sha)
    if problem:
        raise ApiError(405, problem)


def _merge_message(
    repo: Repo, issue: Issue, pr: PullRequest, method: str, data: dict[str, Any]
) -> str:
    """The commit message: ``commit_title`` or GitHub's default title for the method, then
    ``commit_message`` as the body."""
    head_owner = (pr.head_repo or repo).owner.login
    default_title = (
        f"Merge pull request #{issue.number} from {head_owner}/{pr.head_ref}"
        if method == "merge"
        else f"{issue.title} (#{issue.number})"
    )
    message = str(data.get("commit_title") or default_title)
    if data.get("commit_message"):
        message += "\n\n" + str(data["commit_message"])
    return message


def _close_referenced_issues(
    request: web.Request, repo: Repo, issue: Issue, messages: list[str]
) -> None:
    """Close the issues (not pull requests) that the merged pull request's body, or a message
    of a commit it brought to the default branch, says it fixes, closes or resolves."""
    numbers = closing_references(issue.body or "", repo.full_name)
    for message in messages:
        numbers += closing_references(message, repo.full_name)
    for number in dict.fromkeys(numbers):
        target = repo.issues.get(number)
        if target is not None and target.pull is None and target.state == "open":
            set_state(request, repo, target, "closed", "completed")


def setup(router: web.UrlDispatcher) -> None:
    p = "/repos/{owner}/{repo}/pulls"
    n = p + "/{pull_number:\\d+}"
    router.add_get(p, list_pulls)
    router.add_post(p, create_pull)
    router.add_get(n, get_pull)
    router.add_patch(n, update_pull)
    router.add_get(n + "/files", list_files)
    router.add_get(n + "/commits", list_commits)
    router.add_put(n + "/merge", merge_pull)
