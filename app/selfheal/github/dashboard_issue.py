"""The "selfheal dashboard" issue of a repository: its hidden marker, and finding or creating
it. The halt's operator commands label it; the dashboard feature writes its body."""

from __future__ import annotations

from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import split
from selfheal.model.markers import DASHBOARD_MARKER

DASHBOARD_TITLE = "selfheal dashboard"
DASHBOARD_BODY = (
    f"{DASHBOARD_MARKER}\n"
    "This issue is selfheal's dashboard for the repository. While any open issue carries the "
    "lock label, selfheal starts nothing, stops what runs and fails the gate on its own pull "
    "requests. `selfheal halt` / `selfheal resume` add and remove the label here."
)


async def find_dashboard(gh: GitHubAPI, repo: str) -> int | None:
    owner, name = split(repo)
    async for issue in gh.paginate("issues.list_for_repo", owner=owner, repo=name, state="open"):
        if "pull_request" not in issue and DASHBOARD_MARKER in str(issue.get("body") or ""):
            return int(issue["number"])
    return None


async def ensure_dashboard(gh: GitHubAPI, repo: str, body: str = DASHBOARD_BODY) -> int:
    """The dashboard issue's number, creating the issue (with ``body``) when there is none."""
    found = await find_dashboard(gh, repo)
    if found is not None:
        return found
    owner, name = split(repo)
    created = await gh.call("issues.create", owner=owner, repo=name,
                            data={"title": DASHBOARD_TITLE, "body": body})  # fmt: skip
    return int(created["number"])
