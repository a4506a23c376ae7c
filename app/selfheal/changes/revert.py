"""``/selfheal revert``: undo a merged request with a revert pull request.

The state machine decides whether a revert may start (a merged request, no revert pull
request open or merged already, no halt); this module carries out its ``OpenRevertPR``:

1. the request's pull request as GitHub has it: merged, and its merge commit;
2. the default branch fetched into the cache clone (pygit2), and the merge commit reverted on
   its tip (against the first parent for a merge commit); a revert that does not apply
   cleanly stops here, with the reason for the reply;
3. the revert committed as the App's bot, with trailers naming the request and who asked,
   pushed to ``selfheal/<issue>-revert-<pr>`` with the installation token;
4. a pull request ``Revert "<title>"`` (``Reverts #PR``, a link to the issue), labelled
   ``selfheal:bot``: the gate runs on it as on every pull request of the bot's.

The outcome is kept in the request's data (``revert``: the pull request, its state, who asked),
which the status comment shows and the next ``/selfheal revert`` checks: before each revert
the recorded pull request's state is read again from GitHub (closed unmerged: a new revert may
start; merged: the change is undone already).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pygit2

from selfheal.changes import branches, machine
from selfheal.git.clones import GitOpsError, branch_refspec, fetch, has_commit
from selfheal.git.commits import bot_identity, branch_name, commit_message, push, revert_on
from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import split
from selfheal.ledger import requests
from selfheal.model.labels import BOT_LABEL
from selfheal.runtime.context import JobContext

if TYPE_CHECKING:  # the run type only; service imports this module
    from selfheal.changes.service import RequestRun

TITLE_MAX = 256  # GitHub's limit for a pull request title


def revert_title(title: str) -> str:
    flat = " ".join(title.split()) or "the change"
    return f'Revert "{flat}"'[:TITLE_MAX]


def revert_body(issue: int, pr: int, merge_sha: str, by: str, request_id: str) -> str:
    return "\n".join([
        f"Reverts #{pr}",
        "",
        f"Undoes the change of request #{issue} (`{request_id}`), merged as `{merge_sha[:12]}`, "
        f"as @{by} asked with `/selfheal revert`.",
        "",
        "The security gate checks this pull request like every pull request selfheal opens.",
    ])  # fmt: skip


def outcome(request: requests.Request) -> str:
    """The reply to the command, from what the revert recorded (pure)."""
    revert = request.data.get("revert") or {}
    if revert.get("state") == "open":
        return f"Opened #{revert['pr']} to revert #{revert.get('reverts')}; the gate checks it."
    return f"Not done: {revert.get('reason') or 'the revert did not start'}."


async def _save(run: RequestRun, request_id: str, revert: dict[str, Any]) -> None:
    def write(conn: Any) -> requests.Request:
        current = requests.get(conn, request_id)
        data = {**(current.data if current else {}), "revert": revert}
        return requests.update(conn, request_id, data=data)

    await run.ctx.ledger.awrite(write)


async def refresh(run: RequestRun, request: requests.Request) -> requests.Request:
    """The request with its recorded revert pull request's state read again from GitHub."""
    revert = dict(request.data.get("revert") or {})
    if revert.get("state") != "open" or not revert.get("pr"):
        return request
    owner, name = split(run.repo)
    pr = await run.gh.call("pulls.get", owner=owner, repo=name, pull_number=int(revert["pr"]))
    state = "merged" if pr.get("merged") else str(pr.get("state") or "open")
    if state == "open":
        return request
    await _save(run, request.id, {**revert, "state": state})
    return await run.ctx.ledger.aread(lambda c: requests.get(c, request.id)) or request


async def _token(gh: GitHubAPI) -> str | None:
    return (await gh.credential.get())[1] if gh.credential is not None else None


async def _merged_pr(run: RequestRun, number: int | None) -> tuple[dict[str, Any], str] | str:
    """The request's pull request and its merge commit, or why there is nothing to revert."""
    if number is None:
        return "no pull request is recorded for this request"
    owner, name = split(run.repo)
    pr = dict(await run.gh.call("pulls.get", owner=owner, repo=name, pull_number=number))
    sha = str(pr.get("merge_commit_sha") or "")
    if not pr.get("merged") or not sha:
        return f"#{number} is not merged"
    return pr, sha


async def _revert_commit(
    run: RequestRun,
    request: requests.Request,
    pr: dict[str, Any],
    merge_sha: str,
    by: str,
    cache: Path,
    default: str,
) -> tuple[str, str] | str:
    """(branch, commit) of the revert: the one a crashed attempt recorded and made, or a new
    one on the default branch's tip; or why the revert does not apply."""
    pending = request.data.get("revert") or {}
    git = pygit2.Repository(str(cache))
    if pending.get("state") == "pending" and has_commit(git, str(pending.get("sha") or "")):
        return str(pending["branch"]), str(pending["sha"])
    merged = git.get(merge_sha)
    if not isinstance(merged, pygit2.Commit):
        return f"the merge commit of #{pr['number']} is not on {default}; revert it by hand"
    if len(merged.parents) == 1 and int(pr.get("commits") or 1) > 1:
        return (f"#{pr['number']} was rebased onto {default} as several commits; reverting "
                "the last one would undo only part of it, so revert it by hand")  # fmt: skip
    base = str(git.references[f"refs/remotes/origin/{default}"].target)
    title = revert_title(str(pr.get("title") or ""))
    why = f"This reverts commit {merge_sha}, which merged #{pr['number']}."
    message = commit_message(title, why, {"Selfheal-Request": f"{run.repo}#{run.number}",
                                          "Revert-requested-by": by})  # fmt: skip
    bot = bot_identity((await run.ctx.bot_login()).removesuffix("[bot]"))
    try:
        sha = await asyncio.to_thread(revert_on, cache, merge_sha, base, message, bot)
    except GitOpsError as exc:
        return f"the revert of #{pr['number']} does not apply cleanly on {default} ({exc}); " \
               "revert it by hand"  # fmt: skip
    taken = await branches.taken(run.gh, run.repo, run.number)
    branch = branch_name(run.number, f"revert {pr['number']}", taken=taken)
    # Recorded before the push: a retry after a crash pushes this commit, not a second one.
    await _save(run, request.id, {"state": "pending", "branch": branch, "sha": sha, "by": by,
                                  "reverts": int(pr["number"])})  # fmt: skip
    return branch, sha


async def _pull_request(run: RequestRun, branch: str, default: str, data: dict[str, Any]) -> int:
    """The open pull request from ``branch`` (a crashed attempt's), or a new one."""
    owner, name = split(run.repo)
    found = await run.gh.call("pulls.list", owner=owner, repo=name, head=f"{owner}:{branch}",
                              base=default, state="open")  # fmt: skip
    if found:
        return int(found[0]["number"])
    created = await run.gh.call("pulls.create", owner=owner, repo=name,
                                data={**data, "head": branch, "base": default})  # fmt: skip
    return int(created["number"])


async def open_revert_pr(run: RequestRun, request: requests.Request, by: str) -> None:
    """Carry out ``OpenRevertPR``: the revert commit, its branch and its pull request."""
    fresh = await run.ctx.ledger.aread(lambda c: requests.get(c, request.id)) or request
    found = await _merged_pr(run, fresh.pr_number)
    if isinstance(found, str):
        await _save(run, request.id, {"state": "failed", "reason": found, "by": by})
        return
    pr, merge_sha = found
    owner, name = split(run.repo)
    info = await run.gh.call("repos.get", owner=owner, repo=name)
    default, url = str(info["default_branch"]), str(info["clone_url"])
    token = await _token(run.gh)
    cache = await fetch(run.ctx.data_dir, run.repo, url, [branch_refspec(default)], token)
    made = await _revert_commit(run, fresh, pr, merge_sha, by, cache, default)
    if isinstance(made, tuple):
        branch, sha = made
        try:
            await push(cache, url, {branch: sha}, token)
        except GitOpsError as exc:  # refused (a protected name, say); the token is masked
            made = f"the revert branch {branch} could not be pushed: {exc}"
    if isinstance(made, str):
        await _save(run, request.id, {"state": "failed", "reason": made, "by": by})
        await run.ctx.audit(by, "request.revert_failed", {"issue": run.number, "reason": made},
                            request=run.number)  # fmt: skip
        return
    number = await _pull_request(run, branch, default, {
        "title": revert_title(str(pr.get("title") or "")), "draft": False,
        "body": revert_body(run.number, int(pr["number"]), merge_sha, by, request.id),
    })  # fmt: skip
    await run.gh.call("issues.add_labels", owner=owner, repo=name, issue_number=number,
                      data={"labels": [BOT_LABEL]})  # fmt: skip
    revert = {"state": "open", "pr": number, "reverts": int(pr["number"]), "by": by,
              "branch": branch, "sha": sha}  # fmt: skip
    await _save(run, request.id, revert)
    await run.ctx.audit(by, "request.revert", {"issue": run.number, "request": request.id,
                        "pull_request": number, "reverts": int(pr["number"])},
                        request=run.number)  # fmt: skip


async def on_revert_closed(ctx: JobContext, repo: str, number: int, merged: bool) -> bool:
    """A pull request was closed: when it is a request's revert, record how (merged: the
    change is undone) and show it in the status comment. Whether it was one."""
    from selfheal.changes.service import open_run

    request = await ctx.ledger.aread(lambda c: requests.find_by_revert_pr(c, repo, number))
    if request is None:
        return False
    revert = {**(request.data.get("revert") or {}), "state": "merged" if merged else "closed"}
    ctx.repository = request.repository
    run = await open_run(ctx, await ctx.github(), request.repository, request.issue_number)
    await _save(run, request.id, revert)
    if merged:
        await ctx.audit(str(revert.get("by") or "selfheal"), "request.reverted",
                        {"issue": request.issue_number, "pull_request": number},
                        request=request.issue_number)  # fmt: skip
    note = f"the revert #{number} was {'merged: the change is undone' if merged else 'closed'}"
    await run.update_status(request, machine.UpdateStatusComment(machine.State.MERGED, note))
    return True
