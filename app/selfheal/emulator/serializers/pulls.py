"""Pull requests, their short forms, reviews and changed files."""

from __future__ import annotations

import pygit2

from .. import gitdata
from ..state import Issue, Repo, Review, iso, required_check_problem
from .base import JSON, node_id
from .git import GitRender

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


class PullsRender(GitRender):
    def _branch(self, r: Repo, ref: str, sha: str) -> JSON:
        """``head`` or ``base``; ``repo`` is null once a fork holding the head is deleted."""
        return {
            "label": f"{r.owner.login}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.user(r.owner),
            "repo": None if r.deleted else self.repo(r),
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
        pending = not pr.merged and i.state == "open" and pr.mergeable_pending > 0
        if not pending and not pr.merged and i.state == "open":  # pending: still computing
            mergeable = gitdata.mergeable(git, base_sha, pr.head_sha)
        mb = gitdata.merge_base(git, base_sha, pr.head_sha)
        if mb:
            commits = gitdata.commits_between(git, mb, pr.head_sha)
            files = gitdata.diff_files(git, mb, pr.head_sha)
        if pr.merged:
            state = "clean"
        elif pending:
            state = "unknown"
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
            "head": self._branch(pr.head_repo or r, pr.head_ref, pr.head_sha),
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
        head = pr.head_repo or r

        def short(x: Repo) -> JSON:
            return {"id": x.id, "url": f"{self.base}/repos/{x.full_name}", "name": x.name}

        return {
            "url": f"{self.base}/repos/{r.full_name}/pulls/{i.number}",
            "id": i.pr_id,
            "number": i.number,
            "head": {"ref": pr.head_ref, "sha": pr.head_sha, "repo": short(head)},
            "base": {"ref": pr.base_ref, "sha": pr.base_sha, "repo": short(r)},
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
