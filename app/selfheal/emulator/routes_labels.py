"""Labels: on an issue (list, add, set, remove one, remove all) and in the repository (list,
get, create with 422 on a duplicate name, update, delete)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .context import emu, issue_for, repo_for
from .issue_ops import DEFAULT_LABEL_COLOR, add_labels, label_names, remove_label, set_labels
from .responses import ApiError, body, no_content, not_found, paged_reply, reply, validation
from .state import Label


async def list_issue_labels(request: web.Request) -> web.Response:
    repo = repo_for(request)
    issue = issue_for(repo, request.match_info["issue_number"])
    return paged_reply(request, [emu(request).render.label(repo, lb) for lb in issue.labels])


async def add_issue_labels(request: web.Request) -> web.Response:
    repo = repo_for(request, "triage")
    issue = issue_for(repo, request.match_info["issue_number"])
    add_labels(request, repo, issue, label_names(await _json_any(request)))
    return reply([emu(request).render.label(repo, lb) for lb in issue.labels])


async def set_issue_labels(request: web.Request) -> web.Response:
    repo = repo_for(request, "triage")
    issue = issue_for(repo, request.match_info["issue_number"])
    set_labels(request, repo, issue, label_names(await _json_any(request)))
    return reply([emu(request).render.label(repo, lb) for lb in issue.labels])


async def remove_issue_label(request: web.Request) -> web.Response:
    repo = repo_for(request, "triage")
    issue = issue_for(repo, request.match_info["issue_number"])
    if not remove_label(request, repo, issue, request.match_info["name"]):
        raise ApiError(404, "Label does not exist")
    return reply([emu(request).render.label(repo, lb) for lb in issue.labels])


async def clear_issue_labels(request: web.Request) -> web.Response:
    repo = repo_for(request, "triage")
    issue = issue_for(repo, request.match_info["issue_number"])
    for label in list(issue.labels):
        remove_label(request, repo, issue, label.name)
    return no_content()


async def _json_any(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw or b"[]")
    except ValueError as exc:
        raise ApiError(400, "Problems parsing JSON") from exc


async def list_labels(request: web.Request) -> web.Response:
    repo = repo_for(request)
    r = emu(request).render
    return paged_reply(request, [r.label(repo, lb) for lb in repo.labels.values()])


async def get_label(request: web.Request) -> web.Response:
    repo = repo_for(request)
    label = repo.labels.get(request.match_info["name"].lower())
    if label is None:
        raise not_found()
    return reply(emu(request).render.label(repo, label))


async def create_label(request: web.Request) -> web.Response:
    repo = repo_for(request, "write")
    data = await body(request)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise validation("Label", "name", "missing_field")
    if name.lower() in repo.labels:
        raise validation("Label", "name", "already_exists")
    color = str(data.get("color", DEFAULT_LABEL_COLOR)).lstrip("#")
    label = Label(
        id=emu(request).world.next_id(), name=name, color=color, description=data.get("description")
    )
    repo.labels[name.lower()] = label
    return reply(emu(request).render.label(repo, label), status=201)


async def update_label(request: web.Request) -> web.Response:
    repo = repo_for(request, "write")
    label = repo.labels.get(request.match_info["name"].lower())
    if label is None:
        raise not_found()
    data = await body(request)
    new_name = data.get("new_name") or data.get("name")
    if new_name and new_name.lower() != label.name.lower():
        if new_name.lower() in repo.labels:
            raise validation("Label", "name", "already_exists")
        del repo.labels[label.name.lower()]
        repo.labels[new_name.lower()] = label
    if new_name:
        label.name = new_name
    if "color" in data:
        label.color = str(data["color"]).lstrip("#")
    if "description" in data:
        label.description = data["description"]
    return reply(emu(request).render.label(repo, label))


async def delete_label(request: web.Request) -> web.Response:
    repo = repo_for(request, "write")
    label = repo.labels.pop(request.match_info["name"].lower(), None)
    if label is None:
        raise not_found()
    for issue in repo.issues.values():
        issue.labels = [lb for lb in issue.labels if lb is not label]
    return no_content()


def setup(router: web.UrlDispatcher) -> None:
    p = "/repos/{owner}/{repo}"
    n = p + "/issues/{issue_number:\\d+}"
    router.add_get(n + "/labels", list_issue_labels)
    router.add_post(n + "/labels", add_issue_labels)
    router.add_put(n + "/labels", set_issue_labels)
    router.add_delete(n + "/labels", clear_issue_labels)
    router.add_delete(n + "/labels/{name}", remove_issue_label)
    router.add_get(p + "/labels", list_labels)
    router.add_post(p + "/labels", create_label)
    router.add_get(p + "/labels/{name}", get_label)
    router.add_patch(p + "/labels/{name}", update_label)
    router.add_delete(p + "/labels/{name}", delete_label)
