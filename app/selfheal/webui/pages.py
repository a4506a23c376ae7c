"""The dashboard's routes: log in and out, the pages, and the buttons.

Every page needs a session whose token is still active and has the ``read`` scope; without
one a page sends the browser to the login form, and a form post is refused (403). Every form
post must carry the session's CSRF token (403 otherwise, and nothing happens). The buttons
run the API's own operations through :func:`selfheal.api.perform`, so the scope checks, the
permission rules of approve, halt and resume, the limits and the ``api.call`` audit entry
are the API's, not a second copy.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from selfheal import api, halt
from selfheal.ledger import audit, gates, notifications, requests
from selfheal.ledger import monitor as monitor_store
from selfheal.runtime.server import LEDGER, SETTINGS
from selfheal.webui import render
from selfheal.webui.render import BASE, Verified, Viewer
from selfheal.webui.sessions import COOKIE, Session, Sessions

log = logging.getLogger("selfheal.webui")

SESSIONS: web.AppKey[Sessions] = web.AppKey("webui_sessions", Sessions)
PAGE_SIZE = 100
LISTING_LIMIT = 200
MAX_FORM = 16 * 1024
REQUEST_ID = re.compile(r"req_[A-Za-z0-9_-]{16}")
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
# What a redirect after a button may say: fixed words, chosen by a key in the query.
DONE = {
    "halted": "Halted: the lock label is on each repository's dashboard issue; the state "
    "below follows once GitHub's webhook arrives.",
    "resumed": "Resumed: the lock label is being removed.",
    "approved": "Approved: the plan goes ahead.",
}

Viewed = tuple[Session, api.Token]
PageHandler = Callable[[web.Request, Viewed], Awaitable[web.StreamResponse]]
FormHandler = Callable[[web.Request, Viewed, dict[str, str]], Awaitable[web.StreamResponse]]


def html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", charset="utf-8",
                        headers=HEADERS)  # fmt: skip


def viewer_of(viewed: Viewed) -> Viewer:
    session, token = viewed
    return Viewer(token.name, token.scopes, token.repositories, session.csrf, token.github_login)


async def _viewed(request: web.Request) -> Viewed | None:
    """The session and its token, read again now (a revoked token ends the session)."""
    sessions = request.app[SESSIONS]
    session = sessions.get(request.cookies.get(COOKIE))
    if session is None:
        return None
    name = session.token_name
    token = await request.app[LEDGER].aread(lambda c: api.token_named(c, name))
    if token is None or not token.active(time.time()) or "read" not in token.scopes:
        sessions.end(session.id)
        return None
    return session, token


def page_route(handler: PageHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def route(request: web.Request) -> web.StreamResponse:
        viewed = await _viewed(request)
        if viewed is None:
            raise web.HTTPSeeOther(f"{BASE}/login", headers=HEADERS)
        return await handler(request, viewed)

    return route


async def _form(request: web.Request) -> dict[str, str]:
    if request.content_length is not None and request.content_length > MAX_FORM:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_FORM, actual_size=request.content_length)
    data = await request.post()
    return {k: v for k, v in data.items() if isinstance(v, str)}


def form_route(handler: FormHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A button's route: a live session and its CSRF token, or 403 and nothing done."""

    async def route(request: web.Request) -> web.StreamResponse:
        viewed = await _viewed(request)
        if viewed is None:
            return html(render.refused_page("Log in first: this form has no session."), 403)
        form = await _form(request)
        if not viewed[0].csrf_ok(form.get("csrf")):
            log.warning("dashboard: a form without its CSRF token was refused",
                        extra={"token": viewed[1].name, "path": request.path})  # fmt: skip
            return html(render.refused_page("The form's CSRF token is missing or wrong.",
                                            viewer_of(viewed)), 403)  # fmt: skip
        return await handler(request, viewed, form)

    return route


# ---- log in and out ------------------------------------------------------------------------


LOGIN_COOKIE = "selfheal_login"  # the login form's CSRF value, double-submitted


def _login_page(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    """The login form with a fresh CSRF value, also set as a cookie only this path gets: a
    login posted from another site carries no such cookie (SameSite=Strict) and is refused,
    so nobody can log a visitor in under their own token."""
    value = secrets.token_urlsafe(32)
    response = html(render.login_page(error, value), status)
    response.set_cookie(LOGIN_COOKIE, value, path=f"{BASE}/login", httponly=True,
                        samesite="Strict", secure=request.secure)  # fmt: skip
    return response


async def login_form(request: web.Request) -> web.StreamResponse:
    if await _viewed(request) is not None:
        raise web.HTTPSeeOther(BASE, headers=HEADERS)
    return _login_page(request)


async def login(request: web.Request) -> web.StreamResponse:
    form = await _form(request)
    expected, given = request.cookies.get(LOGIN_COOKIE, ""), form.get("csrf", "")
    if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
        return _login_page(request, "Not logged in: the form expired; log in again.", 403)
    value = form.get("token", "").strip()
    ledger = request.app[LEDGER]
    try:
        token = await api.token_for(ledger, value)
    except api.ApiError as exc:
        log.warning("dashboard: login refused: %s", exc.message)
        return _login_page(request, f"Not logged in: {exc.message}.", 401)
    if "read" not in token.scopes:
        return _login_page(request, "Not logged in: the token lacks the read scope.", 403)
    sessions = request.app[SESSIONS]
    sessions.end(request.cookies.get(COOKIE))  # a new id at every login
    session = sessions.start(token.name)
    await ledger.awrite(lambda c: audit.append(c, f"api:{token.name}", "webui.login",
                                               details={"via": "dashboard"}))  # fmt: skip
    response = web.HTTPSeeOther(BASE, headers=HEADERS)
    response.set_cookie(COOKIE, session.id, path=BASE, httponly=True, samesite="Strict",
                        secure=request.secure)  # fmt: skip
    response.del_cookie(LOGIN_COOKIE, path=f"{BASE}/login")
    raise response


async def logout(request: web.Request, viewed: Viewed, form: dict[str, str]) -> web.StreamResponse:
    request.app[SESSIONS].end(viewed[0].id)
    response = web.HTTPSeeOther(f"{BASE}/login", headers=HEADERS)
    response.del_cookie(COOKIE, path=BASE)
    raise response


# ---- pages ---------------------------------------------------------------------------------


def _repo_rows(conn: Any, repositories: tuple[str, ...]) -> list[render.RepoRow]:
    rows = []
    for repo in repositories:
        known = halt.known_halting(conn, repo)
        counts = api.request_stats(conn, [repo])["requests"]
        rows.append(render.RepoRow(repo, None if known is None else bool(known), counts))
    return rows


async def repositories(request: web.Request, viewed: Viewed, *, status: int = 200,
                       error: str = "") -> web.StreamResponse:  # fmt: skip
    repos = viewed[1].repositories
    rows = await request.app[LEDGER].aread(lambda c: _repo_rows(c, repos))
    flash = DONE.get(request.query.get("done", ""), "")
    return html(render.repositories_page(viewer_of(viewed), rows, flash=flash, error=error),
                status)  # fmt: skip


def _chosen(value: str | None, allowed: Any) -> str | None:
    return value if value and value in allowed else None


async def request_list(request: web.Request, viewed: Viewed) -> web.StreamResponse:
    token = viewed[1]
    repo = _chosen(request.query.get("repository"), token.repositories)
    state = _chosen(request.query.get("state"), api.REQUEST_STATES)
    raw = request.query.get("offset", "0")
    offset = min(int(raw), 1_000_000) if raw.isdigit() else 0
    query = api.HistoryQuery(repositories=[repo] if repo else list(token.repositories),
                             state=state, limit=PAGE_SIZE + 1, offset=offset)  # fmt: skip
    rows = await request.app[LEDGER].aread(lambda c: api.request_history(c, query))
    text = render.requests_page(viewer_of(viewed), rows[:PAGE_SIZE], states=api.REQUEST_STATES,
                                repository=repo, state=state, offset=offset,
                                more=len(rows) > PAGE_SIZE, page_size=PAGE_SIZE)  # fmt: skip
    return html(text)


def _request_facts(conn: Any, request_id: str) -> tuple[Any, str | None, list[dict[str, Any]]]:
    data = api.request_details(conn, request_id)
    if data is None:
        return None, None, []
    recorded = requests.get(conn, request_id)
    description = None
    findings: list[dict[str, Any]] = []
    if recorded is not None:
        kept = recorded.data.get("description")
        description = kept if isinstance(kept, str) else None
        if recorded.head_sha:
            run = gates.latest_gate_run(conn, recorded.repository, recorded.head_sha)
            if run is not None:
                findings = [_finding(f) for f in gates.findings_for(conn, run.id)]
    return data, description, findings


def _finding(f: Any) -> dict[str, Any]:
    severity = getattr(f.severity, "value", f.severity)
    return {"severity": severity, "rule_id": f.rule_id, "path": f.path, "line": f.line,
            "message": f.message}  # fmt: skip


async def request_detail(request: web.Request, viewed: Viewed, *, status: int = 200,
                         error: str = "") -> web.StreamResponse:  # fmt: skip
    request_id = request.match_info["id"]
    found: Any = None
    if REQUEST_ID.fullmatch(request_id):
        found = await request.app[LEDGER].aread(lambda c: _request_facts(c, request_id))
    data, description, findings = found if found is not None else (None, None, [])
    viewer = viewer_of(viewed)
    if data is None or not viewed[1].covers(str(data["repository"])):
        return html(render.page("Not found", "<p>No such request for this token.</p>", viewer),
                    404)  # fmt: skip
    base = api.web_base(request.app[SETTINGS].api_url)
    repo = str(data["repository"])
    issue_url = f"{base}/{repo}/issues/{data['issue_number']}"
    pr = data.get("pr_number")
    pr_url = f"{base}/{repo}/pull/{pr}" if pr is not None else None
    flash = DONE.get(request.query.get("done", ""), "")
    text = render.request_page(
        viewer, data, description=description, issue_url=issue_url, pr_url=pr_url,
        findings=findings, flash=flash, error=error,
    )  # fmt: skip
    return html(text, status)


def _fingerprints(conn: Any, repositories: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = [t for repo in repositories for t in monitor_store.listing(conn, repo, LISTING_LIMIT)]
    rows.sort(key=lambda t: (t.last_seen, t.id), reverse=True)
    return [
        {"repository": t.repository, "fingerprint": t.fingerprint, "signature": t.signature,
         "total": t.total, "first_seen": t.first_seen, "last_seen": t.last_seen,
         "issue_number": t.issue_number, "issue_state": t.issue_state}
        for t in rows[:LISTING_LIMIT]
    ]  # fmt: skip


async def monitor(request: web.Request, viewed: Viewed) -> web.StreamResponse:
    repos = viewed[1].repositories
    rows = await request.app[LEDGER].aread(lambda c: _fingerprints(c, repos))
    return html(render.monitor_page(viewer_of(viewed), rows))


def _notifications(conn: Any, repositories: tuple[str, ...]) -> list[dict[str, Any]]:
    found = [n for repo in repositories for n in notifications.recent(conn, repository=repo)]
    found.sort(key=lambda n: (n.created_at, n.id), reverse=True)
    return [
        {"id": n.id, "event": n.event, "repository": n.repository, "target_shown": n.target_shown,
         "status": n.status, "attempts_count": n.attempts, "last_error": n.last_error,
         "created_at": n.created_at,
         "attempts": [{"at": a.at, "status_code": a.status_code, "error": a.error}
                      for a in notifications.attempts(conn, n.id)]}
        for n in found[:LISTING_LIMIT]
    ]  # fmt: skip


async def notification_list(request: web.Request, viewed: Viewed) -> web.StreamResponse:
    repos = viewed[1].repositories
    rows = await request.app[LEDGER].aread(lambda c: _notifications(c, repos))
    return html(render.notifications_page(viewer_of(viewed), rows))


def _audit_rows(conn: Any, repositories: tuple[str, ...]) -> list[dict[str, Any]]:
    found = [e for repo in repositories
             for e in audit.entries(conn, repository=repo, limit=LISTING_LIMIT)]  # fmt: skip
    found.sort(key=lambda e: e.id, reverse=True)
    return [e.to_dict() for e in found[:LISTING_LIMIT]]


async def audit_log(request: web.Request, viewed: Viewed,
                    verified: Verified | None = None) -> web.StreamResponse:  # fmt: skip
    repos = viewed[1].repositories
    rows = await request.app[LEDGER].aread(lambda c: _audit_rows(c, repos))
    return html(render.audit_page(viewer_of(viewed), rows, verified))


async def style(request: web.Request) -> web.StreamResponse:
    return web.Response(text=render.STYLE, content_type="text/css", charset="utf-8",
                        headers={"Cache-Control": "max-age=300",
                                 "X-Content-Type-Options": "nosniff"})  # fmt: skip


# ---- buttons -------------------------------------------------------------------------------


async def verify_chain(request: web.Request, viewed: Viewed,
                       form: dict[str, str]) -> web.StreamResponse:  # fmt: skip
    result = await request.app[LEDGER].aread(lambda c: audit.verify(c))
    verified = Verified(result.ok, result.checked, result.broken_id, result.reason,
                        result.head_hash)  # fmt: skip
    return await audit_log(request, viewed, verified)


def _halting(operation: str, done: str) -> FormHandler:
    async def act(request: web.Request, viewed: Viewed, form: dict[str, str]) -> web.StreamResponse:
        body = {"reason": "web dashboard"} if operation == "halt" else {}
        outcome = await api.perform(request, viewed[1], operation, body=body)
        if outcome.ok:
            raise web.HTTPSeeOther(f"{BASE}?done={done}", headers=HEADERS)
        return await repositories(request, viewed, status=outcome.status,
                                  error=f"Refused: {outcome.message}")  # fmt: skip

    return act


async def approve(request: web.Request, viewed: Viewed, form: dict[str, str]) -> web.StreamResponse:
    request_id = request.match_info["id"]
    outcome = await api.perform(request, viewed[1], "approve", params={"id": request_id})
    if outcome.ok:
        raise web.HTTPSeeOther(f"{BASE}/requests/{request_id}?done=approved", headers=HEADERS)
    if outcome.status == 404:
        return html(render.refused_page(outcome.message, viewer_of(viewed)), 404)
    return await request_detail(request, viewed, status=outcome.status,
                                error=f"Refused: {outcome.message}")  # fmt: skip


def add_routes(app: web.Application) -> None:
    app[SESSIONS] = Sessions()
    r = app.router
    r.add_get(f"{BASE}/static/style.css", style)
    r.add_get(f"{BASE}/login", login_form)
    r.add_post(f"{BASE}/login", login)
    r.add_post(f"{BASE}/logout", form_route(logout))
    r.add_get(BASE, page_route(repositories))
    r.add_get(f"{BASE}/", page_route(repositories))
    r.add_get(f"{BASE}/requests", page_route(request_list))
    r.add_get(f"{BASE}/requests/{{id}}", page_route(request_detail))
    r.add_post(f"{BASE}/requests/{{id}}/approve", form_route(approve))
    r.add_get(f"{BASE}/monitor", page_route(monitor))
    r.add_get(f"{BASE}/notifications", page_route(notification_list))
    r.add_get(f"{BASE}/audit", page_route(audit_log))
    r.add_post(f"{BASE}/audit/verify", form_route(verify_chain))
    r.add_post(f"{BASE}/halt", form_route(_halting("halt", "halted")))
    r.add_post(f"{BASE}/resume", form_route(_halting("resume", "resumed")))
