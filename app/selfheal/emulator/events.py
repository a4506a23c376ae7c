"""Build webhook payloads for state changes and hand them to the sender.

Payload shapes follow @octokit/webhooks-examples; objects inside them come from serializers.py,
the same code the REST responses use.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pygit2

from . import forks, gitdata
from .serializers import node_id
from .state import CheckRun, CheckSuite, Comment, Installation, Issue, Repo, User

if TYPE_CHECKING:
    from .emulator import Emulator

ZERO_SHA = "0" * 40
JSON = dict[str, Any]


def emit(
    emu: Emulator,
    event: str,
    repo: Repo,
    sender: User,
    fields: JSON,
    *,
    action: str | None = None,
    only_app_id: int | None = None,
) -> None:
    """Send ``event`` to every App installed on ``repo`` (or only ``only_app_id``'s)."""
    r = emu.render
    for inst in emu.world.installations_for(repo):
        if only_app_id is not None and inst.app.id != only_app_id:
            continue
        payload: JSON = {"action": action} if action else {}
        payload.update(fields)
        payload["repository"] = r.repo(repo)
        if repo.owner.type == "Organization":
            payload["organization"] = r.organization(repo.owner)
        payload["sender"] = r.user(sender)
        payload["installation"] = r.installation_lite(inst)
        emu.sender.enqueue(inst.app, event, payload)


def installation(emu: Emulator, inst: Installation, action: str, repos: list[Repo]) -> None:
    payload: JSON = {
        "action": action,
        "installation": emu.render.installation(inst, hook=True),
        "repositories": [_repo_lite(emu, r) for r in repos],
        "sender": emu.render.user(inst.account),
    }
    emu.sender.enqueue(inst.app, "installation", payload)


def installation_repositories(
    emu: Emulator, inst: Installation, action: str, repos: list[Repo]
) -> None:
    payload: JSON = {
        "action": action,
        "installation": emu.render.installation(inst, hook=True),
        "repository_selection": "selected",
        "requester": None,
        "repositories_added": [_repo_lite(emu, r) for r in repos] if action == "added" else [],
        "repositories_removed": [_repo_lite(emu, r) for r in repos] if action == "removed" else [],
        "sender": emu.render.user(inst.account),
    }
    emu.sender.enqueue(inst.app, "installation_repositories", payload)


def _repo_lite(emu: Emulator, r: Repo) -> JSON:
    return {
        "id": r.id,
        "node_id": node_id("Repository", r.id),
        "name": r.name,
        "full_name": r.full_name,
        "private": r.private,
    }


def issue_event(
    emu: Emulator, repo: Repo, issue: Issue, action: str, sender: User, **extra: Any
) -> None:
    """issues.<action>, or pull_request.<action> when the issue is a pull request."""
    if issue.pull is not None:
        pull_request(emu, repo, issue, action, sender, **extra)
        return
    fields: JSON = {"issue": emu.render.issue(repo, issue, hook=True)}
    fields.update(extra)
    emit(emu, "issues", repo, sender, fields, action=action)


def pull_request(
    emu: Emulator, repo: Repo, issue: Issue, action: str, sender: User, **extra: Any
) -> None:
    git = gitdata.open_repo(repo.path)
    fields: JSON = {"number": issue.number}
    fields.update(extra)
    fields["pull_request"] = emu.render.pull(repo, issue, git)
    emit(emu, "pull_request", repo, sender, fields, action=action)


def comment_event(
    emu: Emulator,
    repo: Repo,
    issue: Issue,
    comment: Comment,
    action: str,
    sender: User,
    **extra: Any,
) -> None:
    fields: JSON = {
        "issue": emu.render.issue(repo, issue, hook=True),
        "comment": emu.render.comment(repo, comment, hook=True),
    }
    fields.update(extra)
    emit(emu, "issue_comment", repo, sender, fields, action=action)


def open_pulls_for(repo: Repo, sha: str) -> list[Issue]:
    """The open same-repository PRs with head ``sha``: GitHub leaves ``pull_requests`` of
    check runs, check suites and workflow runs empty for PRs from forks."""
    return [
        i
        for i in repo.issues.values()
        if i.pull is not None
        and i.pull.head_repo is None
        and i.state == "open"
        and i.pull.head_sha == sha
    ]


def fork(emu: Emulator, parent: Repo, forkee: Repo, sender: User) -> None:
    """``fork`` to the parent's installations; ``forkee`` is the new repository."""
    forkee_json = emu.render.repo(forkee)
    forkee_json["public"] = not forkee.private
    emit(emu, "fork", parent, sender, {"forkee": forkee_json})


def suite_json(emu: Emulator, repo: Repo, suite: CheckSuite, *, hook: bool = True) -> JSON:
    runs = [r for r in repo.check_runs.values() if r.suite.id == suite.id]
    git = gitdata.open_repo(repo.path)
    pulls = open_pulls_for(repo, suite.head_sha)
    return emu.render.check_suite(repo, suite, runs, pulls, git, hook=hook)


def check_run_event(
    emu: Emulator, repo: Repo, run: CheckRun, action: str, sender: User, **extra: Any
) -> None:
    pulls = open_pulls_for(repo, run.head_sha)
    fields: JSON = {
        "check_run": emu.render.check_run_event(repo, run, pulls, suite_json(emu, repo, run.suite))
    }
    fields.update(extra)
    emit(emu, "check_run", repo, sender, fields, action=action, only_app_id=run.suite.app.id)


def check_suite_event(
    emu: Emulator, repo: Repo, suite: CheckSuite, action: str, sender: User
) -> None:
    fields: JSON = {"check_suite": suite_json(emu, repo, suite)}
    emit(emu, "check_suite", repo, sender, fields, action=action, only_app_id=suite.app.id)


def requested_action(emu: Emulator, person: User, run: CheckRun, identifier: str) -> None:
    repo = next(r for r in emu.world.repos.values() if run.id in r.check_runs)
    if identifier not in {a["identifier"] for a in run.actions}:
        raise ValueError(f"check run {run.id} has no action {identifier!r}")
    check_run_event(
        emu, repo, run, "requested_action", person, requested_action={"identifier": identifier}
    )


def suite_for(
    emu: Emulator, repo: Repo, app_id: int, sha: str, branch: str | None, before: str | None = None
) -> tuple[CheckSuite, bool]:
    """The app's check suite for ``sha``, created if missing (second value: created)."""
    for suite in repo.check_suites.values():
        if suite.app.id == app_id and suite.head_sha == sha:
            return suite, False
    now = time.time()
    suite = CheckSuite(
        id=emu.world.next_id(),
        app=emu.world.apps[app_id],
        head_sha=sha,
        head_branch=branch,
        before=before,
        created_at=now,
        updated_at=now,
    )
    repo.check_suites[suite.id] = suite
    return suite, True


def refs_changed(
    emu: Emulator, repo: Repo, before: dict[str, str], after: dict[str, str], sender: User
) -> None:
    """After a push (git or API): push events, PR head/base updates and synchronize events,
    and check_suite.requested for new branch heads."""
    git = gitdata.open_repo(repo.path)
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name, ZERO_SHA), after.get(name, ZERO_SHA)
        if old == new:
            continue
        repo.pushed_at = time.time()
        _push(emu, repo, git, name, old, new, sender)
        if not name.startswith("refs/heads/"):
            continue
        branch = name.removeprefix("refs/heads/")
        for issue in repo.issues.values():
            pr = issue.pull
            if pr and issue.state == "open" and pr.base_ref == branch and new != ZERO_SHA:
                pr.base_sha = new
        for base, issue in forks.pulls_headed_at(repo, branch):
            _head_moved(emu, base, issue, old, new, sender)
        if new != ZERO_SHA:
            for inst in emu.world.installations_for(repo):
                suite, created = suite_for(
                    emu, repo, inst.app.id, new, branch, None if old == ZERO_SHA else old
                )
                if created:
                    check_suite_event(emu, repo, suite, "requested", sender)


def _head_moved(emu: Emulator, base: Repo, issue: Issue, old: str, new: str, sender: User) -> None:
    """A PR's head branch moved (in its base repository or in a fork): follow it with
    ``refs/pull/N/head`` and send ``synchronize`` to the base; a deleted head branch closes
    the PR, as on GitHub."""
    pr = issue.pull
    assert pr is not None
    now = time.time()
    if new != ZERO_SHA:
        forks.track_head(base, issue, new)
        pr.head_sha, issue.updated_at = new, now
        pr.mergeable_pending = emu.world.mergeable_lag
        pull_request(emu, base, issue, "synchronize", sender, before=old, after=new)
        return
    issue.state, issue.closed_at, issue.closed_by, issue.updated_at = "closed", now, sender, now
    pull_request(emu, base, issue, "closed", sender)


def _push(
    emu: Emulator, repo: Repo, git: pygit2.Repository, name: str, old: str, new: str, sender: User
) -> None:
    r = emu.render
    commits: list[JSON] = []
    head: JSON | None = None
    forced = False
    if new != ZERO_SHA:
        base = old if old != ZERO_SHA else None
        walk = gitdata.commits_between(git, base, new) if base else []
        if base and not gitdata.is_ancestor(git, base, new):
            forced = True
            mb = gitdata.merge_base(git, base, new)
            walk = gitdata.commits_between(git, mb, new) if mb else []
        for c in walk[-20:]:
            parent = str(c.parent_ids[0]) if c.parent_ids else None
            changes = gitdata.diff_files(git, parent, str(c.id)) if parent else []
            commits.append(r.push_commit(repo, c, changes))
        tip = git[new]
        if isinstance(tip, pygit2.Commit):
            p = str(tip.parent_ids[0]) if tip.parent_ids else None
            head = r.push_commit(repo, tip, gitdata.diff_files(git, p, new) if p else [])
    fields: JSON = {
        "ref": name,
        "before": old,
        "after": new,
        "created": old == ZERO_SHA,
        "deleted": new == ZERO_SHA,
        "forced": forced,
        "base_ref": None,
        "compare": f"{r.base}/{repo.full_name}/compare/{old[:12]}...{new[:12]}",
        "commits": commits,
        "head_commit": head,
        "pusher": {"name": sender.login, "email": sender.author()["email"]},
    }
    emit(emu, "push", repo, sender, fields)
