"""Example arguments for every call in app.github.calls.CALLS.

The Prism contract suite sends each of these through GitHubClient with request validation
on; a test fails when a CALLS entry has no example here, so every new GitHub call the app
gains is checked against GitHub's published description. Use the arguments the app really
sends (the shapes of its bodies, the query filters it uses).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
REPO = {"owner": "octo-org", "repo": "service"}


@dataclass(frozen=True)
class Example:
    params: dict[str, Any] = field(default_factory=dict)
    data: Any = None


def _repo(**params: Any) -> dict[str, Any]:
    return {**REPO, **params}


ANNOTATION = {
    "path": "app/db.py",
    "start_line": 12,
    "end_line": 12,
    "annotation_level": "failure",
    "title": "sql-injection",
    "message": "SQL built from user input",
    "raw_details": "CWE-89",
}

EXAMPLES: dict[str, Example] = {
    "apps.get_authenticated": Example(),
    "apps.list_installations": Example(),
    "apps.create_installation_access_token": Example({"installation_id": 42}),
    "apps.get_repo_installation": Example(_repo()),
    "apps.get_installation": Example({"installation_id": 42}),
    "apps.list_repos_accessible_to_installation": Example(),
    "apps.create_from_manifest": Example({"code": "d8e5b7a0c1f2"}),
    "teams.get_membership_for_user_in_org": Example(
        {"org": "octo-org", "team_slug": "security", "username": "octocat"}
    ),
    "repos.get": Example(_repo()),
    "repos.get_content": Example(_repo(path=".github/selfheal.yml", ref="main")),
    "repos.get_branch": Example(_repo(branch="main")),
    "repos.get_commit": Example(_repo(ref=SHA)),
    "repos.compare_commits": Example(_repo(base="main", head="selfheal/7-fix-sql")),
    "repos.get_collaborator_permission_level": Example(_repo(username="octocat")),
    "repos.list_pull_requests_associated_with_commit": Example(_repo(commit_sha=SHA)),
    "git.get_ref": Example(_repo(ref="heads/main")),
    "git.create_ref": Example(_repo(), {"ref": "refs/heads/selfheal/7-fix-sql", "sha": SHA}),
    "git.update_ref": Example(_repo(ref="heads/selfheal/7-fix-sql"), {"sha": SHA, "force": True}),
    "git.delete_ref": Example(_repo(ref="heads/selfheal/7-fix-sql")),
    "git.get_commit": Example(_repo(commit_sha=SHA)),
    "git.get_tree": Example(_repo(tree_sha=SHA, recursive="1")),
    "git.list_matching_refs": Example(_repo(ref="heads/selfheal/")),
    "git.create_blob": Example(_repo(), {"content": "print('fixed')\n", "encoding": "utf-8"}),
    "git.get_blob": Example(_repo(file_sha=SHA)),
    "git.create_tree": Example(
        _repo(),
        {
            "base_tree": SHA,
            "tree": [{"path": "app/db.py", "mode": "100644", "type": "blob", "sha": SHA}],
        },
    ),
    "git.create_commit": Example(
        _repo(), {"message": "selfheal: fix SQL injection", "tree": SHA, "parents": [SHA]}
    ),
    "issues.create": Example(
        _repo(),
        {
            "title": "Fix SQL injection in app/db.py",
            "body": "Requested by the monitor.",
            "labels": ["selfheal:request", "selfheal:type/security"],
        },
    ),
    "issues.get": Example(_repo(issue_number=7)),
    "issues.update": Example(
        _repo(issue_number=7), {"state": "closed", "state_reason": "completed"}
    ),
    "issues.list_for_repo": Example(_repo(state="open", labels="selfheal:halt")),
    "issues.add_labels": Example(_repo(issue_number=7), {"labels": ["selfheal:state/coding"]}),
    "issues.remove_label": Example(_repo(issue_number=7, name="selfheal:state/queued")),
    "issues.set_labels": Example(_repo(issue_number=7), {"labels": ["selfheal:request"]}),
    "issues.list_labels_on_issue": Example(_repo(issue_number=7)),
    "issues.remove_all_labels": Example(_repo(issue_number=7)),
    "issues.create_label": Example(
        _repo(), {"name": "selfheal:halt", "color": "b60205", "description": "Stops selfheal"}
    ),
    "issues.get_label": Example(_repo(name="selfheal:halt")),
    "issues.update_label": Example(  # a migration's rename of an old spelling
        _repo(name="selfheal:state/waiting"),
        {"new_name": "selfheal:state/queued", "color": "ededed", "description": "Waiting"},
    ),
    "issues.delete_label": Example(_repo(name="selfheal:obsolete")),
    "issues.list_labels_for_repo": Example(_repo()),
    "issues.create_comment": Example(
        _repo(issue_number=7), {"body": "<!-- selfheal:status -->\nQueued."}
    ),
    "issues.get_comment": Example(_repo(comment_id=1001)),
    "issues.update_comment": Example(
        _repo(comment_id=1001), {"body": "<!-- selfheal:status -->\nCoding."}
    ),
    "issues.list_comments": Example(_repo(issue_number=7)),
    "issues.delete_comment": Example(_repo(comment_id=1001)),
    "reactions.create_for_issue": Example(_repo(issue_number=7), {"content": "eyes"}),
    "reactions.create_for_issue_comment": Example(_repo(comment_id=1001), {"content": "+1"}),
    "reactions.list_for_issue": Example(_repo(issue_number=7, content="eyes")),
    "reactions.list_for_issue_comment": Example(_repo(comment_id=1001)),
    "issues.list_events": Example(_repo(issue_number=7)),
    "issues.list_events_for_timeline": Example(_repo(issue_number=7)),
    "pulls.create": Example(
        _repo(),
        {
            "title": "selfheal: fix SQL injection (#7)",
            "head": "selfheal/7-fix-sql",
            "base": "main",
            "body": "Fixes #7",
            "draft": True,
        },
    ),
    "pulls.get": Example(_repo(pull_number=8)),
    "pulls.update": Example(_repo(pull_number=8), {"state": "closed"}),
    "pulls.list": Example(_repo(state="open", head="octo-org:selfheal/7-fix-sql")),
    "pulls.list_files": Example(_repo(pull_number=8)),
    "pulls.list_commits": Example(_repo(pull_number=8)),
    "pulls.list_reviews": Example(_repo(pull_number=8)),
    "pulls.merge": Example(_repo(pull_number=8), {"merge_method": "squash", "sha": SHA}),
    "checks.create": Example(
        _repo(),
        {
            "name": "selfheal/security-gate",
            "head_sha": SHA,
            "status": "in_progress",
            "external_id": "gate-8",
        },
    ),
    "checks.get": Example(_repo(check_run_id=4)),
    "checks.get_suite": Example(_repo(check_suite_id=5)),
    "checks.update": Example(
        _repo(check_run_id=4),
        {
            "status": "completed",
            "conclusion": "action_required",
            "output": {
                "title": "Risk: medium - owner approval needed",
                "summary": "1 finding",
                "annotations": [ANNOTATION],
            },
            "actions": [
                {"label": "Approve", "description": "Approve this change", "identifier": "approve"}
            ],
        },
    ),
    "checks.list_annotations": Example(_repo(check_run_id=4)),
    "checks.list_for_ref": Example(_repo(ref=SHA, check_name="selfheal/security-gate")),
    "checks.list_suites_for_ref": Example(_repo(ref=SHA)),
    "checks.rerequest_run": Example(_repo(check_run_id=4)),
    "checks.rerequest_suite": Example(_repo(check_suite_id=5)),
    "actions.get_workflow_run": Example(_repo(run_id=30433642)),
    "actions.list_jobs_for_workflow_run": Example(_repo(run_id=30433642, filter="latest")),
    "actions.create_workflow_dispatch": Example(
        _repo(workflow_id="selfheal-code.yml"),
        {"ref": "main", "inputs": {"request": "r-0123abcd"}, "return_run_details": True},
    ),
    "actions.list_workflow_runs": Example(
        _repo(workflow_id="selfheal-code.yml", event="workflow_dispatch", branch="main")
    ),
    "actions.cancel_workflow_run": Example(_repo(run_id=30433642)),
    "actions.list_workflow_run_artifacts": Example(_repo(run_id=30433642, name="selfheal-patch")),
    "actions.download_artifact": Example(_repo(artifact_id=11, archive_format="zip")),
    "actions.download_job_logs_for_workflow_run": Example(_repo(job_id=399444496)),
    "search.issues_and_pull_requests": Example(
        {"q": "repo:octo-org/service is:issue is:open label:selfheal:request"}
    ),
    "rate_limit.get": Example(),
}
