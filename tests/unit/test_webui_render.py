"""The web dashboard's pages (pure) and its sessions: escaping, buttons by scope, CSRF."""

from __future__ import annotations

import re
from typing import Any

from selfheal.webui import render
from selfheal.webui.render import RepoRow, Verified, Viewer
from selfheal.webui.sessions import IDLE, Sessions

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quoted" \'single\''
READER = Viewer("reader", ("read",), ("acme/widgets",), "csrf-reader")
OPERATOR = Viewer("ops", ("approve", "halt", "read"), ("acme/widgets", "acme/gadgets"), "c-ops")


def request_data(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "req_AAAAAAAAAAAAAAAA", "repository": "acme/widgets", "issue_number": 7,
        "state": "awaiting_approval", "requester": "alice", "change_type": "fix-bug",
        "agent_id": None, "cost_usd": 0.25, "budget_usd": 5.0, "pr_number": 9,
        "branch": "selfheal/req", "targets": ["app/util.py"],
        "gate": {"status": "completed", "conclusion": "failure", "risk": "high"},
        "timeline": [{"at": "2026-12-03T00:00:00Z", "actor": "api:ops",
                      "action": "request.created", "details": {"note": HOSTILE}}],
    }  # fmt: skip
    data.update(over)
    return data


def no_raw_markup(html: str) -> None:
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "")


def forms(html: str) -> list[str]:
    return re.findall(r'<form [^>]*method="post" action="([^"]+)"', html)


def test_hostile_issue_text_is_escaped_everywhere_on_the_request_page() -> None:
    html = render.request_page(
        OPERATOR, request_data(requester=HOSTILE, branch=HOSTILE, targets=[HOSTILE]),
        description=HOSTILE, issue_url='https://x/"><script>', pr_url="https://x/pull/9",
        findings=[{"severity": "high", "rule_id": HOSTILE, "path": HOSTILE, "line": 3,
                   "message": HOSTILE}],
    )  # fmt: skip
    no_raw_markup(html)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "&amp; &quot;quoted&quot; &#x27;single&#x27;" in html
    assert 'href="https://x/&quot;&gt;&lt;script&gt;"' in html


def test_the_request_page_shows_cost_pr_gate_findings_and_timeline() -> None:
    html = render.request_page(
        OPERATOR, request_data(), description="Fix the adder.", issue_url="https://gh/i/7",
        pr_url="https://gh/acme/widgets/pull/9",
        findings=[{"severity": "high", "rule_id": "py.eval", "path": "app/util.py", "line": 3,
                   "message": "eval of input"}],
    )  # fmt: skip
    assert "0.2500 USD of 5.00 USD" in html
    assert '<a href="https://gh/acme/widgets/pull/9">#9</a>' in html
    assert "conclusion failure" in html and "py.eval" in html and "eval of input" in html
    assert "request.created" in html and "Fix the adder." in html
    assert forms(html) == ["/dashboard/logout", "/dashboard/requests/req_AAAAAAAAAAAAAAAA/approve"]


def test_a_read_only_viewer_sees_no_buttons_but_log_out_and_verify() -> None:
    rows = [RepoRow("acme/widgets", False, {"pr_ready": 2})]
    assert forms(render.repositories_page(READER, rows)) == ["/dashboard/logout"]
    page = render.request_page(READER, request_data(), description="x", issue_url="u",
                               pr_url=None)  # fmt: skip
    assert forms(page) == ["/dashboard/logout"]
    assert "none yet" in page  # no PR link
    assert forms(render.audit_page(READER, [])) == ["/dashboard/logout", "/dashboard/audit/verify"]


def test_halt_buttons_need_the_halt_scope_and_approve_needs_the_state() -> None:
    rows = [RepoRow("acme/widgets", True, {}), RepoRow("acme/gadgets", None, {})]
    html = render.repositories_page(OPERATOR, rows)
    assert forms(html) == ["/dashboard/logout", "/dashboard/halt", "/dashboard/resume"]
    assert '<span class="halted">halted</span>' in html and "unknown" in html
    ready = render.request_page(OPERATOR, request_data(state="pr_ready"), description="",
                                issue_url="u", pr_url=None)  # fmt: skip
    assert forms(ready) == ["/dashboard/logout"]


def test_every_form_carries_the_session_csrf_token() -> None:
    html = render.repositories_page(OPERATOR, [])
    assert html.count('name="csrf" value="c-ops"') == len(forms(html)) == 3


def test_hostile_values_on_the_listing_pages_are_escaped() -> None:
    rows = [{"id": "req_AAAAAAAAAAAAAAAA", "repository": HOSTILE, "issue_number": 1,
             "state": HOSTILE, "requester": HOSTILE, "cost_usd": 0, "created_at": 0.0}]  # fmt: skip
    no_raw_markup(render.requests_page(READER, rows, states=["received"], repository=None,
                                       state=None, offset=0, more=True))  # fmt: skip
    tracked = {"repository": "acme/widgets", "fingerprint": HOSTILE, "signature": HOSTILE,
               "total": 2, "first_seen": 0.0, "last_seen": 1.0, "issue_number": 4,
               "issue_state": HOSTILE}  # fmt: skip
    no_raw_markup(render.monitor_page(READER, [tracked]))
    no_raw_markup(render.notifications_page(READER, [{
        "id": "ntf_1", "event": HOSTILE, "repository": "acme/widgets", "target_shown": HOSTILE,
        "status": "failed", "attempts_count": 1, "last_error": HOSTILE, "created_at": 0.0,
        "attempts": [{"at": 0.0, "status_code": None, "error": HOSTILE}]}]))  # fmt: skip
    no_raw_markup(render.audit_page(READER, [{
        "id": 1, "ts": "t", "actor": HOSTILE, "action": HOSTILE, "repository": HOSTILE,
        "request": 1, "details": {"x": HOSTILE}}],
        Verified(False, 3, 4, HOSTILE, "0" * 64)))  # fmt: skip
    no_raw_markup(render.login_page(HOSTILE))


def test_the_requests_page_filters_and_pages() -> None:
    html = render.requests_page(OPERATOR, [], states=["received", "pr_ready"],
                                repository="acme/gadgets", state="pr_ready", offset=100,
                                more=True)  # fmt: skip
    assert '<option value="acme/gadgets" selected>' in html
    assert '<option value="pr_ready" selected>' in html
    assert "offset=0" in html and "Older" in html
    assert '<label for="repository">' in html and '<label for="state">' in html


def test_pages_have_a_language_a_heading_and_the_local_stylesheet() -> None:
    html = render.login_page()
    assert '<html lang="en">' in html and "<h1>Log in</h1>" in html
    assert '<label for="token">API token</label>' in html and 'id="token"' in html
    assert 'href="/dashboard/static/style.css"' in html and "http" not in html.split("<body>")[0]


def test_the_audit_page_reports_a_verified_chain() -> None:
    html = render.audit_page(READER, [], Verified(True, 12, None, "", "ab" * 32))
    assert "The chain verifies: 12 entries" in html


def test_sessions_expire_and_check_csrf_in_constant_time() -> None:
    sessions = Sessions()
    one = sessions.start("ops", now=100.0)
    two = sessions.start("ops", now=100.0)
    assert one.id != two.id and one.csrf != two.csrf and "ops" not in one.id
    assert sessions.get(one.id, now=200.0) is one
    assert one.csrf_ok(one.csrf) and not one.csrf_ok(two.csrf) and not one.csrf_ok(None)
    assert not one.csrf_ok("")
    assert sessions.get(two.id, now=100.0 + IDLE + 1) is None
    sessions.end(one.id)
    assert sessions.get(one.id, now=201.0) is None and sessions.get(None) is None
