"""The ONE place that renders emulator objects as GitHub-shaped JSON.

REST responses and webhook payloads both call these functions, so the two cannot drift.
Shapes follow GitHub's REST API v3 and the @octokit/webhooks example payloads.
"""

from __future__ import annotations

import base64
from typing import Any

import pygit2

from . import gitdata
from .state import (
    App,
    CheckRun,
    CheckSuite,
    Comment,
    Installation,
    Issue,
    IssueEvent,
    Label,
    Reaction,
    Repo,
    Review,
    User,
    iso,
    required_check_problem,
)

PULL_ONLY = (
    "merged",
    "mergeable",
    "rebaseable",
    "mergeable_state",
    "merged_by",
    "comments",
    "review_comments",
    "maintainer_can_modify",
    "commits",
    "additions",
    "deletions",
    "changed_files",
)
SUITE_ONLY = {"check_runs_url", "head_commit", "latest_check_runs_count", "repository"}
LITE_EXCLUDED = {"git_url", "ssh_url", "clone_url", "svn_url", "mirror_url"}
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")
JSON = dict[str, Any]


def node_id(kind: str, ident: int) -> str:
    return base64.b64encode(f"0{len(kind)}:{kind}{ident}".encode()).decode().rstrip("=")


def parse_node_id(value: str) -> tuple[str, int] | None:
    try:
        text = base64.b64decode(value + "=" * (-len(value) % 4)).decode()
        length, rest = text[1:].split(":", 1)
        kind = rest[: int(length)]
        return kind, int(rest[int(length) :])
    except (ValueError, UnicodeDecodeError):
        return None


class Render:
    """Renders objects with URLs rooted at ``base`` (the emulator's http://127.0.0.1:PORT)."""

    def __init__(self, base: str, users: dict[str, User] | None = None) -> None:
        self.base = base.rstrip("/")
        self.users = users if users is not None else {}

    def user_by_email(self, email: str) -> User | None:
        """GitHub links commit authors to accounts by e-mail; unknown e-mails give null."""
        return next((u for u in self.users.values() if u.email and u.email == email), None)

    # -- people and apps -------------------------------------------------------------------
    def user(self, u: User | None) -> JSON | None:
        if u is None:
            return None
        api = f"{self.base}/users/{u.login}"
        return {
            "login": u.login,
            "id": u.id,
            "node_id": node_id(u.type, u.id),
            "avatar_url": f"{self.base}/avatars/u/{u.id}?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": f"{self.base}/{u.login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": u.type,
            "site_admin": u.site_admin,
        }

    def organization(self, u: User) -> JSON:
        api = f"{self.base}/orgs/{u.login}"
        return {
            "login": u.login,
            "id": u.id,
            "node_id": node_id("Organization", u.id),
            "url": api,
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events",
            "hooks_url": f"{api}/hooks",
            "issues_url": f"{api}/issues",
            "members_url": f"{api}/members{{/member}}",
            "public_members_url": f"{api}/public_members{{/member}}",
            "avatar_url": f"{self.base}/avatars/u/{u.id}?v=4",
            "description": None,
        }

    def app(self, a: App, *, hook: bool = False) -> JSON:
        data: JSON = {
            "id": a.id,
            "slug": a.slug,
            "node_id": node_id("App", a.id),
            "client_id": a.client_id,
            "owner": self.user(a.owner),
            "name": a.name,
            "description": "",
            "external_url": f"{self.base}/apps/{a.slug}/home",
            "html_url": f"{self.base}/apps/{a.slug}",
            "created_at": iso(a.created_at),
            "updated_at": iso(a.created_at),
            "permissions": dict(a.permissions),
            "events": list(a.events),
            "installations_count": 0,
        }
        if hook:  # webhook payloads carry the shorter App object
            del data["client_id"], data["installations_count"]
        return data

    def installation(self, i: Installation, *, hook: bool = False) -> JSON:
        api = f"{self.base}/app/installations/{i.id}"
        data: JSON = {
            "id": i.id,
            "client_id": i.app.client_id,
            "account": self.user(i.account),
            "repository_selection": "selected",
            "access_tokens_url": f"{api}/access_tokens",
            "repositories_url": f"{self.base}/installation/repositories",
            "html_url": f"{self.base}/settings/installations/{i.id}",
            "app_id": i.app.id,
            "app_slug": i.app.slug,
            "target_id": i.account.id,
            "target_type": i.account.type,
            "permissions": dict(i.permissions),
            "events": list(i.app.events),
            "created_at": iso(i.created_at),
            "updated_at": iso(i.created_at),
            "single_file_name": None,
            "has_multiple_single_files": False,
            "single_file_paths": [],
            "suspended_by": None,
            "suspended_at": None,
        }
        if hook:
            del data["client_id"]
        return data

    def installation_lite(self, i: Installation) -> JSON:
        return {"id": i.id, "node_id": node_id("Installation", i.id)}

    # -- repositories ----------------------------------------------------------------------
    def repo(self, r: Repo) -> JSON:
        api = f"{self.base}/repos/{r.full_name}"
        html = f"{self.base}/{r.full_name}"
        open_issues = sum(1 for i in r.issues.values() if i.state == "open")
        data: JSON = {
            "id": r.id,
            "node_id": node_id("Repository", r.id),
            "name": r.name,
            "full_name": r.full_name,
            "private": r.private,
            "owner": self.user(r.owner),
            "html_url": html,
            "description": r.description,
            "fork": False,
            "url": api,
            "forks_url": f"{api}/forks",
            "keys_url": f"{api}/keys{{/key_id}}",
            "collaborators_url": f"{api}/collaborators{{/collaborator}}",
            "teams_url": f"{api}/teams",
            "hooks_url": f"{api}/hooks",
            "issue_events_url": f"{api}/issues/events{{/number}}",
            "events_url": f"{api}/events",
            "assignees_url": f"{api}/assignees{{/user}}",
            "branches_url": f"{api}/branches{{/branch}}",
            "tags_url": f"{api}/tags",
            "blobs_url": f"{api}/git/blobs{{/sha}}",
            "git_tags_url": f"{api}/git/tags{{/sha}}",
            "git_refs_url": f"{api}/git/refs{{/sha}}",
            "trees_url": f"{api}/git/trees{{/sha}}",
            "statuses_url": f"{api}/statuses/{{sha}}",
            "languages_url": f"{api}/languages",
            "stargazers_url": f"{api}/stargazers",
            "contributors_url": f"{api}/contributors",
            "subscribers_url": f"{api}/subscribers",
            "subscription_url": f"{api}/subscription",
            "commits_url": f"{api}/commits{{/sha}}",
            "git_commits_url": f"{api}/git/commits{{/sha}}",
            "comments_url": f"{api}/comments{{/number}}",
            "issue_comment_url": f"{api}/issues/comments{{/number}}",
            "contents_url": f"{api}/contents/{{+path}}",
            "compare_url": f"{api}/compare/{{base}}...{{head}}",
            "merges_url": f"{api}/merges",
            "archive_url": f"{api}/{{archive_format}}{{/ref}}",
            "downloads_url": f"{api}/downloads",
            "issues_url": f"{api}/issues{{/number}}",
            "pulls_url": f"{api}/pulls{{/number}}",
            "milestones_url": f"{api}/milestones{{/number}}",
            "notifications_url": f"{api}/notifications{{?since,all,participating}}",
            "labels_url": f"{api}/labels{{/name}}",
            "releases_url": f"{api}/releases{{/id}}",
            "deployments_url": f"{api}/deployments",
            "created_at": iso(r.created_at),
            "updated_at": iso(r.updated_at),
            "pushed_at": iso(r.pushed_at),
            "git_url": f"git://{self.base.split('://', 1)[-1]}/{r.full_name}.git",
            "ssh_url": f"git@127.0.0.1:{r.full_name}.git",
            "clone_url": f"{html}.git",
            "svn_url": html,
            "homepage": None,
            "size": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "language": "Python",
            "has_issues": True,
            "has_projects": False,
            "has_downloads": True,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "forks_count": 0,
            "mirror_url": None,
            "archived": False,
            "disabled": False,
            "open_issues_count": open_issues,
            "license": None,
            "allow_forking": False,
            "is_template": False,
            "web_commit_signoff_required": False,
            "topics": [],
            "visibility": "private" if r.private else "public",
            "forks": 0,
            "open_issues": open_issues,
            "watchers": 0,
            "default_branch": r.default_branch,
            "custom_properties": {},
        }
        return data

    def repo_lite(self, r: Repo) -> JSON:
        """The minimal repository (workflow_run.repository): identity, owner and *_url."""
        full = self.repo(r)
        keep = {
            "id",
            "node_id",
            "name",
            "full_name",
            "private",
            "owner",
            "html_url",
            "description",
            "fork",
            "url",
        }
        return {
            k: v
            for k, v in full.items()
            if k in keep or (k.endswith("_url") and k not in LITE_EXCLUDED)
        }

    def label(self, r: Repo, lb: Label) -> JSON:
        return {
            "id": lb.id,
            "node_id": node_id("Label", lb.id),
            "url": f"{self.base}/repos/{r.full_name}/labels/{lb.name}",
            "name": lb.name,
            "color": lb.color,
            "default": lb.default,
            "description": lb.description,
        }

    # -- issues ----------------------------------------------------------------------------
    def author_association(self, r: Repo, u: User) -> str:
        if u.login == r.owner.login:
            return "OWNER"
        if u.login in r.collaborators:
            return "COLLABORATOR"
        return "NONE"

    def reactions_rollup(self, url: str, reactions: list[Reaction]) -> JSON:
        data: JSON = {"url": f"{url}/reactions", "total_count": len(reactions)}
        for name in REACTIONS:
            data[name] = sum(1 for x in reactions if x.content == name)
        return data

    def issue(self, r: Repo, i: Issue, *, hook: bool = False) -> JSON:
        api = f"{self.base}/repos/{r.full_name}/issues/{i.number}"
        kind = "pull" if i.pull else "issues"
        data: JSON = {
            "url": api,
            "repository_url": f"{self.base}/repos/{r.full_name}",
            "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments",
            "events_url": f"{api}/events",
            "html_url": f"{self.base}/{r.full_name}/{kind}/{i.number}",
            "id": i.id,
            "node_id": node_id("Issue", i.id),
            "number": i.number,
            "title": i.title,
            "user": self.user(i.user),
            "labels": [self.label(r, lb) for lb in i.labels],
            "state": i.state,
            "locked": i.locked,
            "assignee": self.user(i.assignees[0]) if i.assignees else None,
            "assignees": [self.user(a) for a in i.assignees],
            "milestone": None,
            "comments": len(i.comments),
            "created_at": iso(i.created_at),
            "updated_at": iso(i.updated_at),
            "closed_at": iso(i.closed_at) if i.closed_at else None,
            "author_association": self.author_association(r, i.user),
            "active_lock_reason": None,
            "body": i.body,
            "closed_by": self.user(i.closed_by),
            "reactions": self.reactions_rollup(api, i.reactions),
            "timeline_url": f"{api}/timeline",
            "performed_via_github_app": None,
            "state_reason": i.state_reason,
        }
        if i.pull:
            data["draft"] = i.pull.draft
            data["pull_request"] = {
                "url": f"{self.base}/repos/{r.full_name}/pulls/{i.number}",
                "html_url": f"{self.base}/{r.full_name}/pull/{i.number}",
                "diff_url": f"{self.base}/{r.full_name}/pull/{i.number}.diff",
                "patch_url": f"{self.base}/{r.full_name}/pull/{i.number}.patch",
                "merged_at": iso(i.pull.merged_at) if i.pull.merged_at else None,
            }
        if hook:
            del data["closed_by"]
        return data

    def comment(self, r: Repo, c: Comment, *, hook: bool = False) -> JSON:
        api = f"{self.base}/repos/{r.full_name}/issues/comments/{c.id}"
        return {
            "url": api,
            "html_url": f"{self.base}/{r.full_name}/issues/{c.issue_number}#issuecomment-{c.id}",
            "issue_url": f"{self.base}/repos/{r.full_name}/issues/{c.issue_number}",
            "id": c.id,
            "node_id": node_id("IssueComment", c.id),
            "user": self.user(c.user),
            "created_at": iso(c.created_at),
            "updated_at": iso(c.updated_at),
            "author_association": self.author_association(r, c.user),
            "body": c.body,
            "reactions": self.reactions_rollup(api, c.reactions),
            "performed_via_github_app": self.app(c.via_app, hook=hook) if c.via_app else None,
        }

    def reaction(self, x: Reaction) -> JSON:
        return {
            "id": x.id,
            "node_id": node_id("Reaction", x.id),
            "user": self.user(x.user),
            "content": x.content,
            "created_at": iso(x.created_at),
        }

    def issue_event(self, r: Repo, i: Issue, e: IssueEvent) -> JSON:
        data: JSON = {
            "id": e.id,
            "node_id": node_id("LabeledEvent", e.id),
            "url": f"{self.base}/repos/{r.full_name}/issues/events/{e.id}",
            "actor": self.user(e.actor),
            "event": e.event,
            "commit_id": e.commit_id,
            "commit_url": (
                f"{self.base}/repos/{r.full_name}/commits/{e.commit_id}" if e.commit_id else None
            ),
            "created_at": iso(e.created_at),
            "performed_via_github_app": self.app(e.via_app) if e.via_app else None,
        }
        if e.label is not None:
            data["label"] = {"name": e.label.name, "color": e.label.color}
        return data

    def timeline_comment(self, r: Repo, c: Comment) -> JSON:
        data = self.comment(r, c)
        data.update(event="commented", actor=self.user(c.user))
        return data

    # -- pull requests ---------------------------------------------------------------------
    def _branch(self, r: Repo, ref: str, sha: str) -> JSON:
        return {
            "label": f"{r.owner.login}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.user(r.owner),
            "repo": self.repo(r),
        }

    def pull(self, r: Repo, i: Issue, git: pygit2.Repository) -> JSON:
        pr = i.pull
        assert pr is not None
        api = f"{self.base}/repos/{r.full_name}/pulls/{i.number}"
        html = f"{self.base}/{r.full_name}/pull/{i.number}"
        issue_api = f"{self.base}/repos/{r.full_name}/issues/{i.number}"
        base_sha = pr.base_sha
        mergeable: bool | None = None
        commits: list[pygit2.Commit] = []
        files: list[gitdata.FileChange] = []
        if not pr.merged and i.state == "open":
            mergeable = gitdata.mergeable(git, base_sha, pr.head_sha)
        mb = gitdata.merge_base(git, base_sha, pr.head_sha)
        if mb:
            commits = gitdata.commits_between(git, mb, pr.head_sha)
            files = gitdata.diff_files(git, mb, pr.head_sha)
        if pr.merged:
            state = "clean"
        elif pr.draft:
            state = "draft"
        elif mergeable is False:
            state = "dirty"
        elif required_check_problem(r, pr.base_ref, pr.head_sha):
            state = "blocked"
        else:
            state = "clean"
        return {
            "url": api,
            "id": i.pr_id,
            "node_id": node_id("PullRequest", i.pr_id),
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": issue_api,
            "number": i.number,
            "state": i.state,
            "locked": i.locked,
            "title": i.title,
            "user": self.user(i.user),
            "body": i.body,
            "created_at": iso(i.created_at),
            "updated_at": iso(i.updated_at),
            "closed_at": iso(i.closed_at) if i.closed_at else None,
            "merged_at": iso(pr.merged_at) if pr.merged_at else None,
            "merge_commit_sha": pr.merge_commit_sha,
            "assignee": self.user(i.assignees[0]) if i.assignees else None,
            "assignees": [self.user(a) for a in i.assignees],
            "requested_reviewers": [],
            "requested_teams": [],
            "labels": [self.label(r, lb) for lb in i.labels],
            "milestone": None,
            "draft": pr.draft,
            "commits_url": f"{api}/commits",
            "review_comments_url": f"{api}/comments",
            "review_comment_url": f"{self.base}/repos/{r.full_name}/pulls/comments{{/number}}",
            "comments_url": f"{issue_api}/comments",
            "statuses_url": f"{self.base}/repos/{r.full_name}/statuses/{pr.head_sha}",
            "head": self._branch(r, pr.head_ref, pr.head_sha),
            "base": self._branch(r, pr.base_ref, base_sha),
            "_links": {
                "self": {"href": api},
                "html": {"href": html},
                "issue": {"href": issue_api},
                "comments": {"href": f"{issue_api}/comments"},
                "review_comments": {"href": f"{api}/comments"},
                "review_comment": {
                    "href": f"{self.base}/repos/{r.full_name}/pulls/comments{{/number}}"
                },
                "commits": {"href": f"{api}/commits"},
                "statuses": {"href": f"{self.base}/repos/{r.full_name}/statuses/{pr.head_sha}"},
            },
            "author_association": self.author_association(r, i.user),
            "auto_merge": None,
            "active_lock_reason": None,
            "merged": pr.merged,
            "mergeable": mergeable,
            "rebaseable": mergeable,
            "mergeable_state": state,
            "merged_by": self.user(pr.merged_by),
            "comments": len(i.comments),
            "review_comments": 0,
            "maintainer_can_modify": pr.maintainer_can_modify,
            "commits": len(commits),
            "additions": sum(f.additions for f in files),
            "deletions": sum(f.deletions for f in files),
            "changed_files": len(files),
        }

    def simple_pull(self, r: Repo, i: Issue, git: pygit2.Repository) -> JSON:
        """The shorter pull request object of pull_request_review payloads."""
        data = self.pull(r, i, git)
        for key in PULL_ONLY:
            data.pop(key, None)
        return data

    def review(self, r: Repo, i: Issue, rv: Review, *, hook: bool = False) -> JSON:
        html = f"{self.base}/{r.full_name}/pull/{i.number}#pullrequestreview-{rv.id}"
        pr_api = f"{self.base}/repos/{r.full_name}/pulls/{i.number}"
        return {
            "id": rv.id,
            "node_id": node_id("PullRequestReview", rv.id),
            "user": self.user(rv.user),
            "body": rv.body,
            "state": rv.state.lower() if hook else rv.state,
            "html_url": html,
            "pull_request_url": pr_api,
            "author_association": self.author_association(r, rv.user),
            "_links": {"html": {"href": html}, "pull_request": {"href": pr_api}},
            "submitted_at": iso(rv.submitted_at),
            "commit_id": rv.commit_id,
        }

    def pull_ref(self, r: Repo, i: Issue) -> JSON:
        """The short PR object inside check runs and check suites."""
        pr = i.pull
        assert pr is not None
        short = {"id": r.id, "url": f"{self.base}/repos/{r.full_name}", "name": r.name}
        return {
            "url": f"{self.base}/repos/{r.full_name}/pulls/{i.number}",
            "id": i.pr_id,
            "number": i.number,
            "head": {"ref": pr.head_ref, "sha": pr.head_sha, "repo": short},
            "base": {"ref": pr.base_ref, "sha": pr.base_sha, "repo": short},
        }

    def file_change(self, r: Repo, head: str, f: gitdata.FileChange) -> JSON:
        data: JSON = {
            "sha": f.sha or "0" * 40,
            "filename": f.filename,
            "status": f.status,
            "additions": f.additions,
            "deletions": f.deletions,
            "changes": f.additions + f.deletions,
            "blob_url": f"{self.base}/{r.full_name}/blob/{head}/{f.filename}",
            "raw_url": f"{self.base}/{r.full_name}/raw/{head}/{f.filename}",
            "contents_url": f"{self.base}/repos/{r.full_name}/contents/{f.filename}?ref={head}",
            "patch": f.patch,
        }
        if f.previous_filename:
            data["previous_filename"] = f.previous_filename
        return data

    # -- checks ----------------------------------------------------------------------------
    def check_run(self, r: Repo, run: CheckRun, pulls: list[Issue], *, hook: bool = False) -> JSON:
        api = f"{self.base}/repos/{r.full_name}/check-runs/{run.id}"
        output = dict(run.output)
        output["annotations_count"] = len(run.annotations)
        output["annotations_url"] = f"{api}/annotations"
        return {
            "id": run.id,
            "node_id": node_id("CheckRun", run.id),
            "head_sha": run.head_sha,
            "external_id": run.external_id,
            "url": api,
            "html_url": f"{self.base}/{r.full_name}/runs/{run.id}",
            "details_url": run.details_url or f"{self.base}/{r.full_name}/runs/{run.id}",
            "status": run.status,
            "conclusion": run.conclusion,
            "started_at": iso(run.started_at),
            "completed_at": iso(run.completed_at) if run.completed_at else None,
            "output": output,
            "name": run.name,
            "check_suite": {"id": run.suite.id},
            "app": self.app(run.suite.app, hook=hook),
            "pull_requests": [self.pull_ref(r, i) for i in pulls],
        }

    def check_run_event(self, r: Repo, run: CheckRun, pulls: list[Issue], suite: JSON) -> JSON:
        data = self.check_run(r, run, pulls, hook=True)
        data["check_suite"] = {k: v for k, v in suite.items() if k not in SUITE_ONLY}
        return data

    def check_suite(
        self,
        r: Repo,
        s: CheckSuite,
        runs: list[CheckRun],
        pulls: list[Issue],
        git: Any,
        *,
        hook: bool = False,
    ) -> JSON:
        status, conclusion = suite_status(runs)
        data: JSON = {
            "id": s.id,
            "node_id": node_id("CheckSuite", s.id),
            "head_branch": s.head_branch,
            "head_sha": s.head_sha,
            "status": status,
            "conclusion": conclusion,
            "url": f"{self.base}/repos/{r.full_name}/check-suites/{s.id}",
            "before": s.before,
            "after": s.head_sha,
            "pull_requests": [self.pull_ref(r, i) for i in pulls],
            "app": self.app(s.app, hook=hook),
            "repository": self.repo(r),
            "created_at": iso(s.created_at),
            "updated_at": iso(s.updated_at),
            "rerequestable": True,
            "runs_rerequestable": True,
            "latest_check_runs_count": len(runs),
            "check_runs_url": f"{self.base}/repos/{r.full_name}/check-suites/{s.id}/check-runs",
            "head_commit": self.head_commit(git, s.head_sha),
        }
        if hook:
            del data["repository"], data["rerequestable"], data["runs_rerequestable"]
        return data

    def head_commit(self, git: pygit2.Repository, sha: str) -> JSON | None:
        obj = gitdata.lookup(git, sha)
        if not isinstance(obj, pygit2.Commit):
            return None
        return {
            "id": sha,
            "tree_id": str(obj.tree_id),
            "message": obj.message,
            "timestamp": iso(obj.commit_time),
            "author": {"name": obj.author.name, "email": obj.author.email},
            "committer": {"name": obj.committer.name, "email": obj.committer.email},
        }

    # -- git data --------------------------------------------------------------------------
    def ref(self, r: Repo, name: str, sha: str) -> JSON:
        return {
            "ref": name,
            "node_id": node_id("Ref", abs(hash((r.id, name))) % 10**9),
            "url": f"{self.base}/repos/{r.full_name}/git/{name}",
            "object": {
                "type": "commit",
                "sha": sha,
                "url": f"{self.base}/repos/{r.full_name}/git/commits/{sha}",
            },
        }

    def git_commit(self, r: Repo, c: pygit2.Commit) -> JSON:
        api = f"{self.base}/repos/{r.full_name}/git/commits/{c.id}"
        return {
            "sha": str(c.id),
            "node_id": node_id("Commit", int(str(c.id)[:8], 16)),
            "url": api,
            "html_url": f"{self.base}/{r.full_name}/commit/{c.id}",
            "author": _person(c.author),
            "committer": _person(c.committer),
            "message": c.message,
            "tree": {
                "sha": str(c.tree_id),
                "url": f"{self.base}/repos/{r.full_name}/git/trees/{c.tree_id}",
            },
            "parents": [
                {
                    "sha": str(p),
                    "url": f"{self.base}/repos/{r.full_name}/git/commits/{p}",
                    "html_url": f"{self.base}/{r.full_name}/commit/{p}",
                }
                for p in c.parent_ids
            ],
            "verification": _unverified(),
        }

    def commit(self, r: Repo, c: pygit2.Commit, files: list[JSON] | None = None) -> JSON:
        """The REST ``commit`` shape (compare, pulls/commits, repos/commits)."""
        sha = str(c.id)
        git_part = self.git_commit(r, c)
        inner = {
            "url": git_part["url"],
            "author": git_part["author"],
            "committer": git_part["committer"],
            "message": c.message,
            "tree": git_part["tree"],
            "comment_count": 0,
            "verification": _unverified(),
        }
        data: JSON = {
            "url": f"{self.base}/repos/{r.full_name}/commits/{sha}",
            "sha": sha,
            "node_id": git_part["node_id"],
            "html_url": git_part["html_url"],
            "comments_url": f"{self.base}/repos/{r.full_name}/commits/{sha}/comments",
            "commit": inner,
            "author": self.user(self.user_by_email(c.author.email)),
            "committer": self.user(self.user_by_email(c.committer.email)),
            "parents": git_part["parents"],
        }
        if files is not None:
            data["files"] = files
            adds = sum(int(f["additions"]) for f in files)
            dels = sum(int(f["deletions"]) for f in files)
            data["stats"] = {"total": adds + dels, "additions": adds, "deletions": dels}
        return data

    def push_commit(self, r: Repo, c: pygit2.Commit, changes: list[gitdata.FileChange]) -> JSON:
        return {
            "id": str(c.id),
            "tree_id": str(c.tree_id),
            "distinct": True,
            "message": c.message,
            "timestamp": iso(c.commit_time),
            "url": f"{self.base}/{r.full_name}/commit/{c.id}",
            "author": {"name": c.author.name, "email": c.author.email},
            "committer": {"name": c.committer.name, "email": c.committer.email},
            "added": [f.filename for f in changes if f.status == "added"],
            "removed": [f.filename for f in changes if f.status == "removed"],
            "modified": [f.filename for f in changes if f.status not in ("added", "removed")],
        }

    def tree(self, r: Repo, git: pygit2.Repository, t: pygit2.Tree, recursive: bool) -> JSON:
        entries: list[JSON] = []
        self._tree_entries(r, git, t, "", recursive, entries)
        return {
            "sha": str(t.id),
            "url": f"{self.base}/repos/{r.full_name}/git/trees/{t.id}",
            "tree": entries,
            "truncated": False,
        }

    def _tree_entries(
        self,
        r: Repo,
        git: pygit2.Repository,
        t: pygit2.Tree,
        prefix: str,
        rec: bool,
        out: list[JSON],
    ) -> None:
        for e in t:
            path = f"{prefix}{e.name}"
            obj = git[e.id]
            kind = "tree" if isinstance(obj, pygit2.Tree) else "blob"
            item: JSON = {
                "path": path,
                "mode": f"{e.filemode:06o}",
                "type": kind,
                "sha": str(e.id),
                "url": f"{self.base}/repos/{r.full_name}/git/{kind}s/{e.id}",
            }
            if isinstance(obj, pygit2.Blob):
                item["size"] = obj.size
            out.append(item)
            if rec and isinstance(obj, pygit2.Tree):
                self._tree_entries(r, git, obj, path + "/", rec, out)

    def content(self, r: Repo, path: str, obj: pygit2.Object, ref: str) -> JSON:
        is_file = isinstance(obj, pygit2.Blob)
        api = f"{self.base}/repos/{r.full_name}/contents/{path}?ref={ref}"
        kind = "blob" if is_file else "tree"
        git_url = f"{self.base}/repos/{r.full_name}/git/{kind}s/{obj.id}"
        html = f"{self.base}/{r.full_name}/{kind}/{ref}/{path}"
        data: JSON = {
            "type": "file" if is_file else "dir",
            "size": obj.size if isinstance(obj, pygit2.Blob) else 0,
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": str(obj.id),
            "url": api,
            "git_url": git_url,
            "html_url": html,
            "download_url": f"{self.base}/{r.full_name}/raw/{ref}/{path}" if is_file else None,
            "_links": {"self": api, "git": git_url, "html": html},
        }
        if isinstance(obj, pygit2.Blob):
            data["encoding"] = "base64"
            data["content"] = base64.encodebytes(obj.data).decode()
        return data


def suite_status(runs: list[CheckRun]) -> tuple[str, str | None]:
    """A suite is completed when all its runs are; its conclusion is the worst run's."""
    if not runs:
        return "queued", None
    if any(run.status != "completed" for run in runs):
        return ("in_progress" if any(r.status == "in_progress" for r in runs) else "queued"), None
    order = [
        "action_required",
        "cancelled",
        "timed_out",
        "failure",
        "stale",
        "neutral",
        "skipped",
        "success",
    ]
    worst = min((order.index(run.conclusion or "neutral") for run in runs), default=7)
    return "completed", order[worst]


def _person(sig: pygit2.Signature) -> JSON:
    return {"name": sig.name, "email": sig.email, "date": iso(sig.time)}


def _unverified() -> JSON:
    return {
        "verified": False,
        "reason": "unsigned",
        "signature": None,
        "payload": None,
        "verified_at": None,
    }
