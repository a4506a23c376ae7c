"""The dashboard's pages as HTML: pure functions from plain values to text.

Everything that came from GitHub or the ledger (issue text, logins, repository names, audit
details, error messages) goes through :func:`esc`; the only markup is the fixed markup
written here. Forms carry the session's CSRF token; a button appears only when the viewer's
token has the scope its operation needs (the server checks again when it is pressed).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

BASE = "/dashboard"
STYLE_PATH = f"{BASE}/static/style.css"

STYLE = """\
:root { color-scheme: light; }
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #111; background: #fff; }
header { background: #1b2a3a; color: #fff; padding: .5rem 1rem; }
header a, header a:visited { color: #fff; }
nav ul { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 1rem; }
main { padding: 1rem; max-width: 72rem; }
a { color: #0b4fa8; }
a:focus, button:focus, input:focus, select:focus { outline: 3px solid #c60; outline-offset: 2px; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { border: 1px solid #888; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #eef1f5; }
button { font: inherit; padding: .3rem .8rem; border: 2px solid #1b2a3a; background: #fff;
  color: #111; border-radius: 3px; cursor: pointer; }
button.danger { border-color: #a00; color: #a00; }
input, select { font: inherit; padding: .2rem; border: 1px solid #555; }
label { font-weight: 600; margin-right: .3rem; }
pre { white-space: pre-wrap; background: #f4f4f4; border: 1px solid #ccc; padding: .5rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; }
.notice { border: 2px solid #0b4fa8; padding: .5rem; }
.error { border: 2px solid #a00; padding: .5rem; color: #700; }
.halted { color: #a00; font-weight: 700; }
.inline { display: inline; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: .5rem; background: #fff; color: #000; padding: .3rem; }
"""

NAV = (
    ("Repositories", f"{BASE}"),
    ("Requests", f"{BASE}/requests"),
    ("Monitor", f"{BASE}/monitor"),
    ("Notifications", f"{BASE}/notifications"),
    ("Audit log", f"{BASE}/audit"),
)


def esc(value: Any) -> str:
    """Any value as HTML text (quotes too, so it is safe in an attribute)."""
    return escape("" if value is None else str(value), quote=True)


def when(ts: float | None) -> str:
    if ts is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


@dataclass(frozen=True)
class Viewer:
    """Who is looking: the token's name, scopes and repositories, and the session's CSRF
    token for the forms."""

    name: str
    scopes: tuple[str, ...]
    repositories: tuple[str, ...]
    csrf: str
    login: str | None = None

    def can(self, scope: str) -> bool:
        return scope in self.scopes


@dataclass(frozen=True)
class RepoRow:
    repository: str
    halted: bool | None  # None: the ledger has not looked it up yet
    counts: Mapping[str, int] = field(default_factory=dict)


def _csrf(viewer: Viewer) -> str:
    return f'<input type="hidden" name="csrf" value="{esc(viewer.csrf)}">'


def button_form(viewer: Viewer, action: str, label: str, *, danger: bool = False) -> str:
    cls = ' class="danger"' if danger else ""
    return (
        f'<form class="inline" method="post" action="{esc(action)}">{_csrf(viewer)}'
        f'<button type="submit"{cls}>{esc(label)}</button></form>'
    )


def page(title: str, body: str, viewer: Viewer | None = None, *, flash: str = "",
         error: str = "") -> str:  # fmt: skip
    """A whole page: the header with the navigation and the logout button, then ``body``."""
    nav = ""
    if viewer is not None:
        links = "".join(f'<li><a href="{href}">{esc(name)}</a></li>' for name, href in NAV)
        logout = button_form(viewer, f"{BASE}/logout", "Log out")
        nav = (
            f'<nav aria-label="Main"><ul>{links}</ul></nav>'
            f"<p>Token <strong>{esc(viewer.name)}</strong> "
            f"(scopes: {esc(', '.join(viewer.scopes))}) {logout}</p>"
        )
    notes = ""
    if flash:
        notes += f'<p class="notice" role="status">{esc(flash)}</p>'
    if error:
        notes += f'<p class="error" role="alert">{esc(error)}</p>'
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · selfheal</title>"
        f'<link rel="stylesheet" href="{STYLE_PATH}"></head><body>'
        '<a class="skip" href="#main">Skip to content</a>'
        f"<header><p><strong>selfheal</strong> dashboard</p>{nav}</header>"
        f'<main id="main"><h1>{esc(title)}</h1>{notes}{body}</main></body></html>\n'
    )


def login_page(error: str = "", csrf: str = "") -> str:
    body = (
        f'<form method="post" action="{BASE}/login">'
        f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
        '<p><label for="token">API token</label>'
        '<input id="token" name="token" type="password" autocomplete="off" required '
        'size="50" aria-describedby="token-help"></p>'
        '<p id="token-help">A token made by <code>selfheal token create</code>; it needs the '
        "<code>read</code> scope.</p>"
        '<p><button type="submit">Log in</button></p></form>'
    )
    return page("Log in", body, error=error)


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], caption: str) -> str:
    """A table; ``rows`` are cells already rendered (escaped) by the caller."""
    cells = "".join(f'<th scope="col">{esc(h)}</th>' for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    if not body:
        body = f'<tr><td colspan="{len(head)}">None.</td></tr>'
    return f"<table><caption>{esc(caption)}</caption><thead><tr>{cells}</tr></thead>" \
        f"<tbody>{body}</tbody></table>"  # fmt: skip


def request_link(request_id: str, text: str | None = None) -> str:
    return f'<a href="{BASE}/requests/{quote(request_id, safe="")}">{esc(text or request_id)}</a>'


def _halt_state(halted: bool | None) -> str:
    if halted is None:
        return "unknown (not looked up yet)"
    return '<span class="halted">halted</span>' if halted else "running"


def repositories_page(viewer: Viewer, rows: Sequence[RepoRow], *, flash: str = "",
                      error: str = "") -> str:  # fmt: skip
    states = sorted({s for row in rows for s in row.counts})
    head = ["Repository", "State", "Requests", *states]
    table_rows = []
    for row in rows:
        link = f"{BASE}/requests?{urlencode({'repository': row.repository})}"
        total = sum(row.counts.values())
        table_rows.append([
            f'<a href="{esc(link)}">{esc(row.repository)}</a>', _halt_state(row.halted),
            esc(total), *(esc(row.counts.get(s, 0)) for s in states),
        ])  # fmt: skip
    body = _table(head, table_rows, "Repositories this token covers")
    if viewer.can("halt"):
        body += (
            "<h2>Halt</h2><p>Halting labels the dashboard issue of every repository this token "
            "covers with the lock label; resuming removes it.</p>"
            + button_form(viewer, f"{BASE}/halt", "Halt all", danger=True)
            + " "
            + button_form(viewer, f"{BASE}/resume", "Resume all")
        )
    return page("Repositories", body, viewer, flash=flash, error=error)


def _select(name: str, label: str, options: Sequence[str], chosen: str | None) -> str:
    opts = ['<option value="">any</option>'] + [
        f'<option value="{esc(o)}"{" selected" if o == chosen else ""}>{esc(o)}</option>'
        for o in options
    ]
    return f'<label for="{name}">{esc(label)}</label><select id="{name}" name="{name}">' \
        f'{"".join(opts)}</select> '  # fmt: skip


def requests_page(
    viewer: Viewer,
    rows: Sequence[Mapping[str, Any]],
    *,
    states: Sequence[str],
    repository: str | None,
    state: str | None,
    offset: int,
    more: bool,
    page_size: int = 100,
) -> str:
    form = (
        f'<form method="get" action="{BASE}/requests">'
        + _select("repository", "Repository", viewer.repositories, repository)
        + _select("state", "State", states, state)
        + '<button type="submit">Filter</button></form>'
    )
    table_rows = [
        [request_link(str(r["id"])), esc(r["repository"]), esc(r["issue_number"]),
         esc(r["state"]), esc(r.get("requester")), esc(f'{float(r.get("cost_usd") or 0):.2f}'),
         esc(when(r.get("created_at")))]
        for r in rows
    ]  # fmt: skip
    body = form + _table(
        ["Request", "Repository", "Issue", "State", "Requester", "Cost (USD)", "Created"],
        table_rows, "Requests, newest first",
    )  # fmt: skip
    query = {k: v for k, v in (("repository", repository), ("state", state)) if v}
    links = []
    if offset > 0:
        prev = urlencode({**query, "offset": max(0, offset - page_size)})
        links.append(f'<a href="{BASE}/requests?{esc(prev)}">Newer</a>')
    if more:
        nxt = urlencode({**query, "offset": offset + len(rows)})
        links.append(f'<a href="{BASE}/requests?{esc(nxt)}">Older</a>')
    if links:
        body += f'<nav aria-label="Pages"><p>{" ".join(links)}</p></nav>'
    return page("Requests", body, viewer)


def _details(details: Any) -> str:
    if not details:
        return ""
    return esc(json.dumps(details, sort_keys=True, ensure_ascii=False)[:600])


def _timeline(entries: Sequence[Mapping[str, Any]]) -> str:
    rows = [
        [esc(e.get("at")), esc(e.get("actor")), esc(e.get("action")), _details(e.get("details"))]
        for e in entries
    ]
    return _table(["At", "Actor", "Action", "Details"], rows, "Timeline from the audit log")


def _findings(gate: Mapping[str, Any] | None, findings: Sequence[Mapping[str, Any]]) -> str:
    if gate is None:
        return "<p>The security gate has not run on this request's code.</p>"
    conclusion = gate.get("conclusion") or "none yet"
    summary = (f"<p>Gate: {esc(gate.get('status'))}, conclusion {esc(conclusion)}, "
               f"risk {esc(gate.get('risk'))}.</p>")  # fmt: skip
    rows = [
        [esc(f.get("severity")), esc(f.get("rule_id")), esc(f.get("path")), esc(f.get("line")),
         esc(f.get("message"))]
        for f in findings
    ]  # fmt: skip
    return summary + _table(["Severity", "Rule", "File", "Line", "Message"], rows,
                            "The gate's findings")  # fmt: skip


def request_page(
    viewer: Viewer,
    data: Mapping[str, Any],
    *,
    description: str | None,
    issue_url: str,
    pr_url: str | None,
    findings: Sequence[Mapping[str, Any]] = (),
    flash: str = "",
    error: str = "",
) -> str:
    """One request: its facts, its issue text (escaped), cost, PR, gate and timeline."""
    request_id = str(data["id"])
    pr = f'<a href="{esc(pr_url)}">#{esc(data.get("pr_number"))}</a>' if pr_url else "none yet"
    facts = [
        ("Repository", esc(data.get("repository"))),
        ("Issue", f'<a href="{esc(issue_url)}">#{esc(data.get("issue_number"))}</a>'),
        ("State", f'<strong id="state">{esc(data.get("state"))}</strong>'),
        ("Requester", esc(data.get("requester"))),
        ("Change type", esc(data.get("change_type"))),
        ("Coding agent", esc(data.get("agent_id") or "default")),
        ("Cost", esc(f'{float(data.get("cost_usd") or 0):.4f} USD of '
                     f'{float(data.get("budget_usd") or 0):.2f} USD')),
        ("Pull request", pr),
        ("Branch", esc(data.get("branch") or "")),
        ("Targets", esc(", ".join(data.get("targets") or ()))),
    ]  # fmt: skip
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in facts)
    body = f"<dl>{dl}</dl>"
    if viewer.can("approve") and data.get("state") == "awaiting_approval":
        target = f"{BASE}/requests/{quote(request_id, safe='')}/approve"
        body += "<h2>Approval</h2>" + button_form(viewer, target, "Approve the plan")
    text = description if description is not None else "(selfheal has not read the issue yet)"
    body += f"<h2>Issue text</h2><pre>{esc(text)}</pre>"
    body += "<h2>Security gate</h2>" + _findings(data.get("gate"), findings)
    body += "<h2>Timeline</h2>" + _timeline(data.get("timeline") or ())
    return page(f"Request {request_id}", body, viewer, flash=flash, error=error)


def monitor_page(viewer: Viewer, rows: Sequence[Mapping[str, Any]]) -> str:
    table_rows = [
        [esc(r["repository"]), f"<code>{esc(str(r['fingerprint'])[:16])}</code>",
         esc(r.get("signature")), esc(r.get("total")), esc(when(r.get("first_seen"))),
         esc(when(r.get("last_seen"))),
         esc(f"#{r['issue_number']} ({r.get('issue_state')})" if r.get("issue_number") else "none")]
        for r in rows
    ]  # fmt: skip
    body = _table(["Repository", "Fingerprint", "Signature", "Occurrences", "First seen",
                   "Last seen", "Issue"], table_rows, "The monitor's fingerprints")  # fmt: skip
    return page("Monitor", body, viewer)


def notifications_page(viewer: Viewer, rows: Sequence[Mapping[str, Any]]) -> str:
    table_rows = []
    for r in rows:
        tries = "; ".join(
            f"{when(a.get('at'))}: {a.get('status_code') or a.get('error') or 'no answer'}"
            for a in r.get("attempts") or ()
        )
        table_rows.append([
            esc(r.get("id")), esc(r.get("event")), esc(r.get("repository")),
            esc(r.get("target_shown")), esc(r.get("status")), esc(r.get("attempts_count")),
            esc(r.get("last_error")), esc(tries), esc(when(r.get("created_at"))),
        ])  # fmt: skip
    body = _table(["Notification", "Event", "Repository", "Target", "Status", "Attempts",
                   "Last error", "Delivery attempts", "Created"], table_rows,
                  "Notifications to the operator's URLs, newest first")  # fmt: skip
    return page("Notifications", body, viewer)


@dataclass(frozen=True)
class Verified:
    ok: bool
    checked: int
    broken_id: int | None
    reason: str
    head_hash: str


def audit_page(viewer: Viewer, entries: Sequence[Mapping[str, Any]],
               verified: Verified | None = None) -> str:  # fmt: skip
    body = ""
    if verified is not None:
        if verified.ok:
            body += (f'<p class="notice" role="status">The chain verifies: {verified.checked} '
                     f"entries, head <code>{esc(verified.head_hash)}</code>.</p>")  # fmt: skip
        else:
            body += (f'<p class="error" role="alert">The chain is broken at entry '
                     f"{esc(verified.broken_id)} after {verified.checked} good entries: "
                     f"{esc(verified.reason)}</p>")  # fmt: skip
    body += button_form(viewer, f"{BASE}/audit/verify", "Verify chain")
    rows = [
        [esc(e.get("id")), esc(e.get("ts")), esc(e.get("actor")), esc(e.get("action")),
         esc(e.get("repository")), esc(e.get("request")), _details(e.get("details"))]
        for e in entries
    ]  # fmt: skip
    body += _table(["Entry", "At", "Actor", "Action", "Repository", "Issue", "Details"], rows,
                   "The audit log for this token's repositories, newest first")  # fmt: skip
    return page("Audit log", body, viewer)


def refused_page(message: str, viewer: Viewer | None = None) -> str:
    return page("Refused", f"<p>{esc(message)}</p>", viewer)
