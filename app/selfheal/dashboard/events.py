"""What rebuilds the dashboard, and what reads its checkboxes: every ``issues`` and
``pull_request`` event queues a rebuild for its repository (at most one a second); an edit of
the dashboard issue by a person queues a ``dashboard_edit`` job with the body before and
after. The bot's own edits of the dashboard are ignored, so a rebuild never feeds itself."""

from __future__ import annotations

from gidgethub import routing
from gidgethub.sansio import Event

from selfheal.dashboard.job import EDIT_JOB, known_issue, queue_refresh
from selfheal.model.markers import DASHBOARD_MARKER
from selfheal.runtime.context import JobContext

router = routing.Router()


@router.register("issues")
async def on_issue(event: Event, ctx: JobContext) -> None:
    data = event.data
    repo = str(data["repository"]["full_name"])
    issue = data.get("issue") or {}
    sender = str((data.get("sender") or {}).get("login") or "")
    bot = await ctx.bot_login()
    if data.get("action") == "edited" and sender.lower() != bot.lower():
        before = str(((data.get("changes") or {}).get("body") or {}).get("from") or "")
        number = int(issue.get("number") or 0)
        if number == await known_issue(ctx, repo) or DASHBOARD_MARKER in before:
            payload = {"repository": repo, "installation_id": ctx.installation_id,
                       "sender": sender, "before": before,
                       "after": str(issue.get("body") or "")}  # fmt: skip
            await ctx.enqueue(EDIT_JOB, payload, key=f"dashboard-edit:{event.delivery_id}",
                              repository=repo)  # fmt: skip
            return
    await queue_refresh(ctx, repo, ctx.installation_id)


@router.register("pull_request")
async def on_pull_request(event: Event, ctx: JobContext) -> None:
    await queue_refresh(ctx, str(event.data["repository"]["full_name"]), ctx.installation_id)
