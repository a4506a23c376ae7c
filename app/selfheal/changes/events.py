"""What queues a ``request`` job: ``issues`` events on an issue labelled ``selfheal:request``.

The handler only reads the payload and enqueues (key ``request:<repo>#<n>:<delivery>``); the
job (:mod:`selfheal.changes.service`) reads the issue fresh from GitHub, so a burst of events
on one issue converges on the issue's latest state.
"""

from __future__ import annotations

from gidgethub import routing
from gidgethub.sansio import Event

from selfheal.changes.service import JOB_KIND
from selfheal.model.labels import REQUEST_LABEL
from selfheal.runtime.context import JobContext

router = routing.Router()

ACTIONS = ("opened", "labeled", "reopened", "edited")


@router.register("issues")
async def on_issue(event: Event, ctx: JobContext) -> None:
    data = event.data
    action, issue = data.get("action"), data.get("issue") or {}
    if action not in ACTIONS or "pull_request" in issue:
        return
    names = [str(label.get("name") or "").lower() for label in issue.get("labels") or []]
    if REQUEST_LABEL not in names:
        return
    added = str((data.get("label") or {}).get("name") or "").lower()
    if action == "labeled" and added != REQUEST_LABEL:
        return  # another label on a request: the request label's own event queued the job
    repo = str(data["repository"]["full_name"])
    sender = str((data.get("sender") or {}).get("login") or "")
    payload = {
        "repository": repo,
        "installation_id": ctx.installation_id,
        "issue_number": int(issue["number"]),
        "action": action,
        "sender": sender,
        # Who applied selfheal:request; an issue opened with it (the issue form) has none.
        "labeller": sender if action == "labeled" else None,
    }
    key = f"request:{repo}#{issue['number']}:{event.delivery_id}"
    await ctx.enqueue(JOB_KIND, payload, key=key, repository=repo)
