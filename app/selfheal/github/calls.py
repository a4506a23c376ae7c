"""The single list of GitHub REST calls the app makes.

Every request selfheal sends to GitHub goes through :data:`CALLS`: the client refuses any
name not listed here, and the contract suites check each entry against GitHub's published
OpenAPI description (the operation id must exist with this method and path) and exercise
each one against Prism with request validation on.

To add a call: add an entry below, add example arguments to
``tests/contract/call_examples.py`` and regenerate ``tests/contract/github-pruned.json``
with ``python scripts/prune_openapi.py`` (see docs/github-client.md).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
# Parameters whose values legitimately contain "/" (git refs, file paths): their segments
# are checked for "." and ".." before encoding.
_SLASHED_PARAMS = frozenset({"ref", "path", "branch", "base", "head"})


@dataclass(frozen=True)
class Call:
    """One REST operation: how to send it and which OpenAPI operation it is."""

    name: str
    method: str
    path: str
    operation_id: str
    accepts_body: bool = False
    paginated: bool = False

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(_PLACEHOLDER.findall(self.path))

    @property
    def is_write(self) -> bool:
        return self.method != "GET"


class CallError(ValueError):
    """A call name or its parameters are not acceptable."""


def _quote(name: str, value: Any) -> str:
    """Percent-encode one path parameter completely, "/" included (as octokit does; GitHub
    decodes ``heads%2Fmain`` and ``dir%2Ffile.py``), so a value is always one segment."""
    text = str(value)
    if text == "" or "\x00" in text:
        raise CallError(f"path parameter {name!r} is empty or contains NUL")
    if name in _SLASHED_PARAMS and any(seg in (".", "..") for seg in text.split("/")):
        raise CallError(f"path parameter {name!r} has a '.' or '..' segment")
    if text in (".", ".."):
        raise CallError(f"path parameter {name!r} may not be {text!r}")
    return urllib.parse.quote(text, safe="")


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def expand(call: Call, params: Mapping[str, Any]) -> str:
    """The request target for ``call``: the path with its parameters filled in (quoted), then
    the remaining parameters as a query string (``None`` values are left out)."""
    missing = [p for p in call.path_params if params.get(p) is None]
    if missing:
        raise CallError(f"{call.name} needs path parameter(s): {', '.join(missing)}")
    path = _PLACEHOLDER.sub(lambda m: _quote(m.group(1), params[m.group(1)]), call.path)
    query = [
        (key, _query_value(value))
        for key, value in params.items()
        if key not in call.path_params and value is not None
    ]
    if query:
        path += "?" + urllib.parse.urlencode(query)
    return path


def _calls(*entries: Call) -> Mapping[str, Call]:
    table: dict[str, Call] = {}
    for entry in entries:
        if entry.name in table:
            raise RuntimeError(f"duplicate GitHub call {entry.name}")
        table[entry.name] = entry
    return MappingProxyType(table)


def _get(name: str, path: str, op: str, *, pages: bool = False) -> Call:
    return Call(name, "GET", path, op, accepts_body=False, paginated=pages)


def _send(method: str, name: str, path: str, op: str, *, body: bool = True) -> Call:
    return Call(name, method, path, op, accepts_body=body)


_R = "/repos/{owner}/{repo}"

CALLS: Mapping[str, Call] = _calls(
    # Apps and installations
    _get("apps.get_authenticated", "/app", "apps/get-authenticated"),
    _get("apps.list_installations", "/app/installations", "apps/list-installations", pages=True),
    _send(
        "POST",
        "apps.create_installation_access_token",
        "/app/installations/{installation_id}/access_tokens",
        "apps/create-installation-access-token",
    ),
    _get("apps.get_repo_installation", _R + "/installation", "apps/get-repo-installation"),
    _get("apps.get_installation", "/app/installations/{installation_id}", "apps/get-installation"),
    _get(
        "apps.list_repos_accessible_to_installation",
        "/installation/repositories",
        "apps/list-repos-accessible-to-installation",
        pages=True,
    ),
    _send(
        "POST",
        "apps.create_from_manifest",
        "/app-manifests/{code}/conversions",
        "apps/create-from-manifest",
        body=False,
    ),
    # Repositories and contents
    _get("repos.get", _R, "repos/get"),
    _get("repos.get_content", _R + "/contents/{path}", "repos/get-content"),
    _get("repos.get_branch", _R + "/branches/{branch}", "repos/get-branch"),
    _get("repos.get_commit", _R + "/commits/{ref}", "repos/get-commit"),
    _get("repos.compare_commits", _R + "/compare/{base}...{head}", "repos/compare-commits"),
    _get(
        "repos.get_collaborator_permission_level",
        _R + "/collaborators/{username}/permission",
        "repos/get-collaborator-permission-level",
    ),
    _get(
        "repos.list_pull_requests_associated_with_commit",
        _R + "/commits/{commit_sha}/pulls",
        "repos/list-pull-requests-associated-with-commit",
        pages=True,
    ),
    # Git data
    _get("git.get_ref", _R + "/git/ref/{ref}", "git/get-ref"),
    _send("POST", "git.create_ref", _R + "/git/refs", "git/create-ref"),
    _send("PATCH", "git.update_ref", _R + "/git/refs/{ref}", "git/update-ref"),
    _send("DELETE", "git.delete_ref", _R + "/git/refs/{ref}", "git/delete-ref", body=False),
    _get("git.get_commit", _R + "/git/commits/{commit_sha}", "git/get-commit"),
    _get("git.get_tree", _R + "/git/trees/{tree_sha}", "git/get-tree"),
    _get("git.list_matching_refs", _R + "/git/matching-refs/{ref}", "git/list-matching-refs"),
    _send("POST", "git.create_blob", _R + "/git/blobs", "git/create-blob"),
    _get("git.get_blob", _R + "/git/blobs/{file_sha}", "git/get-blob"),
    _send("POST", "git.create_tree", _R + "/git/trees", "git/create-tree"),
    _send("POST", "git.create_commit", _R + "/git/commits", "git/create-commit"),
    # Issues
    _send("POST", "issues.create", _R + "/issues", "issues/create"),
    _get("issues.get", _R + "/issues/{issue_number}", "issues/get"),
    _send("PATCH", "issues.update", _R + "/issues/{issue_number}", "issues/update"),
    _get("issues.list_for_repo", _R + "/issues", "issues/list-for-repo", pages=True),
    # Labels
    _send("POST", "issues.add_labels", _R + "/issues/{issue_number}/labels", "issues/add-labels"),
    _send(
        "DELETE",
        "issues.remove_label",
        _R + "/issues/{issue_number}/labels/{name}",
        "issues/remove-label",
        body=False,
    ),
    _send("PUT", "issues.set_labels", _R + "/issues/{issue_number}/labels", "issues/set-labels"),
    _get(
        "issues.list_labels_on_issue",
        _R + "/issues/{issue_number}/labels",
        "issues/list-labels-on-issue",
        pages=True,
    ),
    _send("POST", "issues.create_label", _R + "/labels", "issues/create-label"),
    _get("issues.get_label", _R + "/labels/{name}", "issues/get-label"),
    _send("PATCH", "issues.update_label", _R + "/labels/{name}", "issues/update-label"),
    _send(
        "DELETE", "issues.delete_label", _R + "/labels/{name}", "issues/delete-label", body=False
    ),
    _get("issues.list_labels_for_repo", _R + "/labels", "issues/list-labels-for-repo", pages=True),
    _send(
        "DELETE",
        "issues.remove_all_labels",
        _R + "/issues/{issue_number}/labels",
        "issues/remove-all-labels",
        body=False,
    ),
    # Comments and reactions
    _send(
        "POST",
        "issues.create_comment",
        _R + "/issues/{issue_number}/comments",
        "issues/create-comment",
    ),
    _get("issues.get_comment", _R + "/issues/comments/{comment_id}", "issues/get-comment"),
    _send(
        "PATCH",
        "issues.update_comment",
        _R + "/issues/comments/{comment_id}",
        "issues/update-comment",
    ),
    _get(
        "issues.list_comments",
        _R + "/issues/{issue_number}/comments",
        "issues/list-comments",
        pages=True,
    ),
    _send(
        "DELETE",
        "issues.delete_comment",
        _R + "/issues/comments/{comment_id}",
        "issues/delete-comment",
        body=False,
    ),
    _send(
        "POST",
        "reactions.create_for_issue",
        _R + "/issues/{issue_number}/reactions",
        "reactions/create-for-issue",
    ),
    _send(
        "POST",
        "reactions.create_for_issue_comment",
        _R + "/issues/comments/{comment_id}/reactions",
        "reactions/create-for-issue-comment",
    ),
    _get(
        "reactions.list_for_issue",
        _R + "/issues/{issue_number}/reactions",
        "reactions/list-for-issue",
        pages=True,
    ),
    _get(
        "reactions.list_for_issue_comment",
        _R + "/issues/comments/{comment_id}/reactions",
        "reactions/list-for-issue-comment",
        pages=True,
    ),
    _get(
        "issues.list_events",
        _R + "/issues/{issue_number}/events",
        "issues/list-events",
        pages=True,
    ),
    _get(
        "issues.list_events_for_timeline",
        _R + "/issues/{issue_number}/timeline",
        "issues/list-events-for-timeline",
        pages=True,
    ),
    # Pull requests
    _send("POST", "pulls.create", _R + "/pulls", "pulls/create"),
    _get("pulls.get", _R + "/pulls/{pull_number}", "pulls/get"),
    _send("PATCH", "pulls.update", _R + "/pulls/{pull_number}", "pulls/update"),
    _get("pulls.list", _R + "/pulls", "pulls/list", pages=True),
    _get("pulls.list_files", _R + "/pulls/{pull_number}/files", "pulls/list-files", pages=True),
    _get(
        "pulls.list_commits", _R + "/pulls/{pull_number}/commits", "pulls/list-commits", pages=True
    ),
    _get(
        "pulls.list_reviews", _R + "/pulls/{pull_number}/reviews", "pulls/list-reviews", pages=True
    ),
    _send("PUT", "pulls.merge", _R + "/pulls/{pull_number}/merge", "pulls/merge"),
    # Checks
    _send("POST", "checks.create", _R + "/check-runs", "checks/create"),
    _get("checks.get", _R + "/check-runs/{check_run_id}", "checks/get"),
    _get("checks.get_suite", _R + "/check-suites/{check_suite_id}", "checks/get-suite"),
    _send("PATCH", "checks.update", _R + "/check-runs/{check_run_id}", "checks/update"),
    _get(
        "checks.list_annotations",
        _R + "/check-runs/{check_run_id}/annotations",
        "checks/list-annotations",
        pages=True,
    ),
    _get(
        "checks.list_for_ref", _R + "/commits/{ref}/check-runs", "checks/list-for-ref", pages=True
    ),
    _get(
        "checks.list_suites_for_ref",
        _R + "/commits/{ref}/check-suites",
        "checks/list-suites-for-ref",
        pages=True,
    ),
    _send(
        "POST",
        "checks.rerequest_run",
        _R + "/check-runs/{check_run_id}/rerequest",
        "checks/rerequest-run",
        body=False,
    ),
    _send(
        "POST",
        "checks.rerequest_suite",
        _R + "/check-suites/{check_suite_id}/rerequest",
        "checks/rerequest-suite",
        body=False,
    ),
    # Actions (the monitor reads failed runs)
    _get("actions.get_workflow_run", _R + "/actions/runs/{run_id}", "actions/get-workflow-run"),
    _get(
        "actions.list_jobs_for_workflow_run",
        _R + "/actions/runs/{run_id}/jobs",
        "actions/list-jobs-for-workflow-run",
        pages=True,
    ),
    # Actions: the `actions` executor dispatches a workflow, follows its run, cancels it
    # on a halt, and downloads the patch the run uploaded (docs/actions.md)
    _send(
        "POST",
        "actions.create_workflow_dispatch",
        _R + "/actions/workflows/{workflow_id}/dispatches",
        "actions/create-workflow-dispatch",
    ),
    _get(
        "actions.list_workflow_runs",
        _R + "/actions/workflows/{workflow_id}/runs",
        "actions/list-workflow-runs",
        pages=True,
    ),
    _send(
        "POST",
        "actions.cancel_workflow_run",
        _R + "/actions/runs/{run_id}/cancel",
        "actions/cancel-workflow-run",
        body=False,
    ),
    _get(
        "actions.list_workflow_run_artifacts",
        _R + "/actions/runs/{run_id}/artifacts",
        "actions/list-workflow-run-artifacts",
        pages=True,
    ),
    _get(
        "actions.download_artifact",
        _R + "/actions/artifacts/{artifact_id}/{archive_format}",
        "actions/download-artifact",
    ),
    _get(
        "actions.download_job_logs_for_workflow_run",
        _R + "/actions/jobs/{job_id}/logs",
        "actions/download-job-logs-for-workflow-run",
    ),
    # Search and rate limit
    _get(
        "search.issues_and_pull_requests",
        "/search/issues",
        "search/issues-and-pull-requests",
        pages=True,
    ),
    _get("rate_limit.get", "/rate_limit", "rate-limit/get"),
    # Teams (the gate's approval rule: owners named as @org/team)
    _get(
        "teams.get_membership_for_user_in_org",
        "/orgs/{org}/teams/{team_slug}/memberships/{username}",
        "teams/get-membership-for-user-in-org",
    ),
)


# GitHub offers some operations only through GraphQL (no OpenAPI description, so these are
# not in the Prism suite; the emulator implements them and the end-to-end tests use them).
GRAPHQL: Mapping[str, str] = MappingProxyType(
    {
        "pulls.mark_ready_for_review": (
            "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id})"
            " { pullRequest { number isDraft } } }"
        ),
        "issues.pin": "mutation($id: ID!) { pinIssue(input: {issueId: $id}) { issue { number } } }",
        "pulls.convert_to_draft": (
            "mutation($id: ID!) { convertPullRequestToDraft(input: {pullRequestId: $id})"
            " { pullRequest { number isDraft } } }"
        ),
    }
)


# Calls that answer with a redirect to a signed download URL (GitHubClient.download).
DOWNLOADS = frozenset({"actions.download_artifact", "actions.download_job_logs_for_workflow_run"})


def get_call(name: str) -> Call:
    """The registered call ``name``; :class:`CallError` for anything not in :data:`CALLS`."""
    try:
        return CALLS[name]
    except KeyError:
        raise CallError(f"{name!r} is not in the list of GitHub calls the app makes") from None
