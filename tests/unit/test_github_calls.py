"""app.github.calls: the registry's shape and how a call's request target is built."""

from __future__ import annotations

import pytest

from selfheal.github.calls import CALLS, GRAPHQL, CallError, expand, get_call
from tests.support.paths import ROOT


def test_names_follow_the_operation_ids() -> None:
    for name, call in CALLS.items():
        area, operation = call.operation_id.split("/")
        assert name == f"{area.replace('-', '_')}.{operation.replace('-', '_')}", name
        assert call.name == name


def test_the_calls_the_app_needs_are_registered() -> None:
    needed = {
        "apps.create_installation_access_token",
        "apps.create_from_manifest",
        "checks.create",
        "checks.update",
        "issues.add_labels",
        "issues.remove_label",
        "issues.create_comment",
        "issues.update_comment",
        "issues.list_events_for_timeline",
        "pulls.create",
        "pulls.merge",
        "repos.get_collaborator_permission_level",
        "git.delete_ref",
        "search.issues_and_pull_requests",
    }
    assert needed <= set(CALLS)
    assert "pulls.mark_ready_for_review" in GRAPHQL


def test_unknown_names_are_refused() -> None:
    with pytest.raises(CallError, match="not in the list"):
        get_call("repos.delete")


def test_path_parameters_fill_the_template_and_the_rest_is_the_query() -> None:
    call = get_call("issues.list_for_repo")
    target = expand(
        call, {"owner": "o", "repo": "r", "labels": ["a", "b c"], "state": "open", "page": None}
    )
    assert target == "/repos/o/r/issues?labels=a%2Cb+c&state=open"
    assert expand(get_call("pulls.list"), {"owner": "o", "repo": "r", "draft": True}).endswith(
        "?draft=true"
    )


def test_every_value_is_one_encoded_segment() -> None:
    assert expand(get_call("git.get_ref"), {"owner": "o", "repo": "r", "ref": "heads/a/b"}) == (
        "/repos/o/r/git/ref/heads%2Fa%2Fb"
    )
    label = expand(
        get_call("issues.remove_label"),
        {"owner": "o", "repo": "r", "issue_number": 3, "name": "selfheal:type/fix bug?"},
    )
    assert label == "/repos/o/r/issues/3/labels/selfheal%3Atype%2Ffix%20bug%3F"
    content = expand(get_call("repos.get_content"), {"owner": "o", "repo": "r", "path": "a b/c.py"})
    assert content == "/repos/o/r/contents/a%20b%2Fc.py"


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("repos.get_content", {"owner": "o", "repo": "r", "path": "../secrets"}),
        ("repos.get_content", {"owner": "o", "repo": "r", "path": "a/./b"}),
        ("git.get_ref", {"owner": "o", "repo": "r", "ref": "heads/.."}),
        ("repos.get", {"owner": "o", "repo": ".."}),
        ("repos.get", {"owner": "o", "repo": ""}),
        ("repos.get", {"owner": "o", "repo": "a\x00b"}),
        ("repos.get", {"owner": "o"}),
    ],
)
def test_unsafe_or_missing_path_parameters_are_refused(
    name: str, params: dict[str, object]
) -> None:
    with pytest.raises(CallError):
        expand(get_call(name), params)


def test_write_calls_and_bodies_are_flagged() -> None:
    assert get_call("issues.add_labels").is_write
    assert get_call("issues.add_labels").accepts_body
    assert not get_call("issues.get").is_write
    assert not get_call("git.delete_ref").accepts_body
    assert get_call("issues.remove_label").path_params == ("owner", "repo", "issue_number", "name")


def test_only_app_github_talks_to_github_over_http() -> None:
    """Every REST call goes through GitHubClient (and so through CALLS): nothing else in the
    package may build a gidgethub HTTP client of its own. (Routing, sansio and exception
    classes are fine anywhere.)"""
    import ast

    package = ROOT / "app" / "selfheal"
    transports = {"gidgethub.aiohttp", "gidgethub.abc", "gidgethub.httpx", "gidgethub.tornado"}
    offenders = []
    for path in package.rglob("*.py"):
        if path.parent.name == "github" and path.parent.parent == package:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                names = {base} | {f"{base}.{alias.name}" for alias in node.names}
            else:
                continue
            if names & transports:
                offenders.append(f"{path.relative_to(package.parent)}:{node.lineno}")
    assert not offenders, offenders


def test_every_call_name_used_in_the_package_is_registered() -> None:
    """``gh.call("...")``, ``gh.paginate("...")`` and ``gh.graphql("...")`` with a literal
    name anywhere in the package must name an entry of CALLS / GRAPHQL (a typo would
    otherwise surface only at run time)."""
    import ast

    package = ROOT / "app" / "selfheal"
    unknown, used = [], 0
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("call", "paginate", "graphql")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and "." in node.args[0].value
            ):
                continue
            name = node.args[0].value
            used += 1
            registry = GRAPHQL if node.func.attr == "graphql" else CALLS
            if name not in registry:
                unknown.append(f"{path.relative_to(package.parent)}:{node.lineno}: {name}")
    assert not unknown, unknown
    assert used > 0
