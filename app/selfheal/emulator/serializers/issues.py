"""Issues, comments, reactions and issue events."""

from __future__ import annotations

from ..state import Comment, Issue, IssueEvent, Reaction, Repo, User, iso
from .base import JSON, REACTIONS, node_id
from .repos import ReposRender


class IssuesRender(ReposRender):
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
