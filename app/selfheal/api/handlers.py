"""The API's operations: each handler takes a :class:`~selfheal.api.web.Call` and answers.

Requests become issues filed by the App (:mod:`selfheal.api.filing`); approvals and
cancellations run the same command specs, tiers and state machine as ``/selfheal approve``
and ``/selfheal cancel``, acting as the token's GitHub identity; halts label the dashboard
issue of each repository the token covers, as ``selfheal halt`` does.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import gidgethub
from aiohttp import web

from selfheal import __version__ as VERSION
from selfheal import changes, commands
from selfheal.api import errors, filing, store
from selfheal.api import scan as scanning
from selfheal.api.errors import ApiError
from selfheal.api.openapi import OPERATIONS, Operation, document
from selfheal.api.schemas import REQUEST_ID_PATTERN
from selfheal.api.web import Call, Handler, answer, github_failure
from selfheal.github.client import GitHubGaveUp
from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import permission_of
from selfheal.halt import halt_repo, is_halted, resume_repo
from selfheal.ledger import audit, installations, jobs, requests
from selfheal.model.markdown import inline_code
from selfheal.runtime.context import JobContext

_ID = re.compile(REQUEST_ID_PATTERN)
AWAITING_APPROVAL = "awaiting_approval"
HALT_REASON_CHARS = 500  # of a caller's reason, on the dashboard issue


def web_base(api_url: str) -> str:
    """The web address for GitHub's REST address: api.github.com -> github.com, a GitHub
    Enterprise ``https://host/api/v3`` -> ``https://host``; anything else (an emulator) as is."""
    base = api_url.rstrip("/")
    if base == "https://api.github.com":
        return "https://github.com"
    return base[: -len("/api/v3")] if base.endswith("/api/v3") else base


def _issue_url(call: Call, repo: str, number: int) -> str:
    return f"{web_base(call.settings.api_url)}/{repo}/issues/{number}"


# ---- repositories and GitHub ---------------------------------------------------------------


def repository_for(call: Call, asked: str | None) -> str:
    """The repository a call is about: the one asked for, which the token must cover (404
    otherwise, as for a repository that does not exist), or the token's only one."""
    token = call.need_token()
    if asked is None:
        if len(token.repositories) != 1:
            raise errors.invalid("repository", "is required: the token covers several")
        asked = token.repositories[0]
    if not token.covers(asked):
        raise errors.not_found(f"no repository {asked} for this token")
    repo = next(r for r in token.repositories if r.lower() == asked.lower())
    call.repository = repo
    return repo


def _job(repo: str) -> jobs.Job:
    now = time.time()
    return jobs.Job(id=0, kind="api", key=None, repository=repo, payload={}, status="running",
                    attempts=1, max_attempts=1, lease_owner=None, lease_expires_at=None,
                    run_after=now, last_error=None, created_at=now, started_at=now,
                    finished_at=None)  # fmt: skip


async def github_for(call: Call, repo: str) -> tuple[JobContext, GitHubAPI]:
    """A job context and an installation client for ``repo`` (409 when the App is not
    installed there)."""
    installation = await call.ledger.aread(lambda c: installations.installation_for(c, repo))
    if installation is None:
        raise ApiError(409, "not_installed", f"the App is not installed on {repo}",
                       extra={"repository": repo})  # fmt: skip
    ctx = JobContext(_job(repo), call.ledger, call.worker, installation, repo)
    return ctx, await ctx.github()


# ---- requests ------------------------------------------------------------------------------


def _ask(call: Call, body: dict[str, Any], repo: str) -> filing.Ask:
    description = body.get("description") or body.get("coding_task") or ""
    return filing.Ask(
        repository=repo,
        description=str(description),
        change_type=filing.change_type(str(body.get("change_type") or "fix-bug")),
        target_files=tuple(body.get("target_files") or ()),
        priority=int(body.get("priority") or filing.DEFAULT_PRIORITY),
        agent_id=body.get("agent_id"),
        requester_id=body.get("requester_id"),
        context=dict(body.get("context") or {}),
    )


async def create_request(call: Call) -> web.StreamResponse:
    body = await call.body()
    token = call.need_token()
    repo = repository_for(call, body.get("repository"))
    ask = _ask(call, body, repo)
    request_id = requests.new_id()
    try:
        issue = filing.compose(ask, request_id, f"api:{token.name}")
    except filing.Refused as exc:
        raise errors.invalid(exc.field, exc.message) from None
    ctx, gh = await github_for(call, repo)
    if await is_halted(ctx, repo, gh=gh):
        raise errors.halted(repo)
    created = await filing.file_issue(gh, repo, issue)
    number = int(created["number"])
    record = store.Filed(
        request_id, repo, number, token.name, ask.requester_id, ask.change_type, ask.priority,
        ask.agent_id, store.DEFAULT_BUDGET,
    )  # fmt: skip
    filed = {"request": request_id, "requester_id": ask.requester_id, "agent_id": ask.agent_id}

    def write(conn: Any) -> None:
        store.record_filed(conn, record)
        audit.append(conn, f"api:{token.name}", "api.request_filed", repository=repo,
                     request=number, details=filed)  # fmt: skip

    await call.ledger.awrite(write)
    call.change_id = request_id
    data = {
        "change_id": request_id,
        "repository": repo,
        "issue_number": number,
        "issue_url": str(created.get("html_url") or _issue_url(call, repo, number)),
        "state": "received",
        "agent_id": ask.agent_id,
        "status_url": f"/api/code/status/{request_id}",
    }
    return answer(data, 201)


async def _known(call: Call) -> dict[str, Any]:
    """The request named in the path, in one of the token's repositories (404 otherwise)."""
    request_id = call.path_param("id")
    found = None
    if _ID.fullmatch(request_id):
        found = await call.ledger.aread(lambda c: store.summary(c, request_id))
    if found is None or not call.need_token().covers(str(found["repository"])):
        raise errors.not_found(f"no request {request_id[:40]!r} for this token")
    call.repository, call.change_id = str(found["repository"]), request_id
    return found


async def status(call: Call) -> web.StreamResponse:
    found = await _known(call)
    data = await call.ledger.aread(lambda c: store.details(c, str(found["id"])))
    if data is None:
        raise errors.not_found("the request is gone")
    repo, number = str(data["repository"]), int(data["issue_number"])
    data["change_id"] = data.pop("id")
    data["issue_url"] = _issue_url(call, repo, number)
    pr = data.get("pr_number")
    data["pr_url"] = None if pr is None else f"{web_base(call.settings.api_url)}/{repo}/pull/{pr}"
    return answer(data)


def _summary(call: Call, row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["change_id"] = out.pop("id")
    out["issue_url"] = _issue_url(call, str(row["repository"]), int(row["issue_number"]))
    return out


def _history_query(call: Call) -> store.HistoryQuery:
    q = call.query()
    token = call.need_token()
    repos = [repository_for(call, q["repository"])] if "repository" in q else token.repositories
    return store.HistoryQuery(
        repositories=list(repos),
        requester=q.get("requester"),
        agent_id=q.get("agent"),
        state=q.get("state"),
        since=q.get("since"),
        limit=int(q.get("limit", 50)),
        offset=int(q.get("offset", 0)),
    )


async def history(call: Call) -> web.StreamResponse:
    query = _history_query(call)
    rows = await call.ledger.aread(lambda c: store.history(c, query))
    more = len(rows) == query.limit
    items = [_summary(call, r) for r in rows]
    return answer({"items": items, "next_offset": query.offset + query.limit if more else None})


# ---- approve and cancel: the slash commands' rules, as the token's GitHub identity ---------


async def _command_call(call: Call, found: dict[str, Any], login: str) -> commands.CommandCall:
    repo, number = str(found["repository"]), int(found["issue_number"])
    ctx, gh = await github_for(call, repo)
    role = await permission_of(gh, repo, login)
    return commands.CommandCall(ctx, gh, repo, number, login, role, "", 0, False, {})


def _spec(name: str) -> commands.CommandSpec:
    return next(spec for spec in changes.COMMANDS if spec.name == name)


async def _recorded(call: Call, found: dict[str, Any]) -> requests.Request:
    request_id = str(found["id"])
    request = await call.ledger.aread(lambda c: requests.get(c, request_id))
    if request is None:
        raise ApiError(409, "not_ready", "selfheal has not read the request's issue yet; retry")
    return request


async def approve(call: Call) -> web.StreamResponse:
    found = await _known(call)
    login = call.need_token().github_login
    if login is None:
        raise errors.forbidden("the token has no GitHub identity to approve as")
    request = await _recorded(call, found)
    if request.state != AWAITING_APPROVAL:
        raise ApiError(409, "wrong_state", f"nothing to approve: the request is {request.state}")
    spec = _spec("approve")
    cmd = await _command_call(call, found, login)
    why = await commands.refusal_for(spec, cmd)
    if why is not None:
        raise errors.forbidden(f"@{login} may not approve: {why}")
    message = await spec.run(cmd) or ""
    return await _moved(call, request.id, message)


async def cancel(call: Call) -> web.StreamResponse:
    found = await _known(call)
    token = call.need_token()
    request = await _recorded(call, found)
    filed = await call.ledger.aread(lambda c: store.filed(c, request.id))
    own = filed is not None and filed["token"] == token.name
    if not own and token.github_login is None:
        raise errors.forbidden("only the token that filed a request may cancel it")
    # Without an identity the App cancels its own request: the state machine's reason names
    # whoever cancelled as a mention, and a token's name is nobody's login on GitHub. The
    # audit entry of the call names the token.
    ctx, _ = await github_for(call, str(found["repository"]))
    login = token.github_login or await ctx.bot_login()
    spec = _spec("cancel")
    cmd = await _command_call(call, found, login)
    if not own:
        why = await commands.refusal_for(spec, cmd)
        if why is not None:
            raise errors.forbidden(f"@{login} may not cancel: {why}")
    message = await spec.run(cmd) or ""
    fresh = await call.ledger.aread(lambda c: requests.get(c, request.id))
    if fresh is not None and fresh.state != "cancelled":
        raise ApiError(409, "wrong_state", message or f"the request is {fresh.state}")
    return await _moved(call, request.id, message)


async def _moved(call: Call, request_id: str, message: str) -> web.StreamResponse:
    fresh = await call.ledger.aread(lambda c: requests.get(c, request_id))
    state = fresh.state if fresh is not None else "unknown"
    return answer({"change_id": request_id, "state": state, "message": message})


# ---- halt and resume ----------------------------------------------------------------------


async def _each_repository(
    call: Call, act: Callable[[GitHubAPI, str], Awaitable[object]], halting: bool
) -> web.StreamResponse:
    """``act`` on every repository of the token, each on its own: one that fails (the App not
    installed there, GitHub refusing) never keeps the others from being halted or resumed.
    All done: 200. Otherwise the first failure's status, with the repositories done and
    those that failed (and why) in the body, so the caller knows what to retry."""
    done: list[str] = []
    failed: list[dict[str, str]] = []
    first: ApiError | None = None
    for repo in call.need_token().repositories:
        try:
            _, gh = await github_for(call, repo)
            await act(gh, repo)
        except (ApiError, GitHubGaveUp, gidgethub.GitHubException) as exc:
            error = github_failure(exc, call)
            first = first or error
            failed.append({"repository": repo, "error": error.code})
        else:
            done.append(repo)
    touched = done + [f["repository"] for f in failed]
    call.repository = touched[0] if len(touched) == 1 else None
    if first is None:
        return answer({"halted": halting, "repositories": done})
    verb = "halted" if halting else "resumed"
    raise ApiError(first.status, first.code if not done else f"partly_{verb}",
                   f"{len(failed)} of {len(done) + len(failed)} repositories could not be {verb} "
                   f"({first.message}); the others were", headers=first.headers,
                   extra={"repositories": done, "failed": failed})  # fmt: skip


async def halt(call: Call) -> web.StreamResponse:
    body = await call.body()
    token = call.need_token()
    # The caller's words go on the dashboard issue as code: no mention, link or markup.
    given = str(body.get("reason") or "").strip()
    who = f"API token {inline_code(token.name)}"
    reason = f"{inline_code(given, limit=HALT_REASON_CHARS)} ({who})" if given else who
    return await _each_repository(call, lambda gh, repo: halt_repo(gh, repo, reason), True)


async def resume(call: Call) -> web.StreamResponse:
    await call.body()
    return await _each_repository(call, resume_repo, False)


# ---- events, stats, health, the document ---------------------------------------------------


async def report_events(call: Call) -> web.StreamResponse:
    body = await call.body()
    token = call.need_token()
    # every event names its repository, one the token covers: an event without one is the
    # token's only repository's (422 when the token covers several)
    events = [{**event, "repository": repository_for(call, event.get("repository"))}
              for event in (body if isinstance(body, list) else [body])]  # fmt: skip
    try:
        recorded = await call.state.sink.record(events, reporter=token.name)
    except ValueError as exc:  # the sink's own checks (the monitor's event shape)
        raise errors.invalid("body", str(exc)[:500]) from None
    return answer({"recorded": recorded}, 202)


async def security_scan(call: Call) -> web.StreamResponse:
    body = await call.body()
    repo = repository_for(call, body.get("repository"))
    for raw in body["file_paths"]:
        scanning.confine(str(raw))  # refuse a path that leaves the repository before any I/O
    ctx, gh = await github_for(call, repo)
    result = await scanning.scan(gh, ctx.data_dir, repo, body, call.settings.semgrep_engine)
    return answer(result)


async def security_stats(call: Call) -> web.StreamResponse:
    repos = list(call.need_token().repositories)
    return answer(await call.ledger.aread(lambda c: store.stats(c, repos)))


async def health(call: Call) -> web.StreamResponse:
    try:
        await call.ledger.aread(lambda c: c.execute("SELECT 1").fetchone())
    except Exception:
        return answer({"status": "unhealthy", "ledger": False, "version": VERSION}, 503)
    return answer({"status": "ok", "ledger": True, "version": VERSION})


def openapi_handler(
    operations: Sequence[Operation], extra_schemas: Mapping[str, Any]
) -> Callable[[web.Request], Awaitable[web.Response]]:
    published = document(operations, extra_schemas)

    async def openapi_document(request: web.Request) -> web.Response:
        return web.json_response(published)

    return openapi_document


HANDLERS: dict[str, Handler] = {
    "createRequest": create_request,
    "getStatus": status,
    "getHistory": history,
    "approve": approve,
    "cancel": cancel,
    "halt": halt,
    "resume": resume,
    "scan": security_scan,
    "securityStats": security_stats,
    "health": health,
    "reportEvents": report_events,
    "codeFix": create_request,
    "tellAgent": create_request,
    "orchestratorStatus": status,
    "orchestratorHalt": halt,
}
assert set(HANDLERS) == {op.id for op in OPERATIONS}
