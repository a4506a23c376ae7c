"""The dashboard issue's body and its checkboxes (pure)."""

from __future__ import annotations

from selfheal.dashboard.render import Facts, RequestLine, boxes, render, toggled
from selfheal.model.markers import DASHBOARD_MARKER

REQS = (
    RequestLine("req_a1", 3, "awaiting_approval", 0.0, targets=("src/core/x.py",)),
    RequestLine("req_b2", 4, "pr_ready", 1.25, pr=9),
    RequestLine("req_c3", 5, "blocked", 0.0),
)


def facts(**over: object) -> Facts:
    base = {"repository": "acme/widgets", "halted": False, "halt_label": "selfheal:halt",
            "requests": REQS, "bot_prs": (9,), "month": "2026-12",
            "month_spend_usd": 1.25}  # fmt: skip
    base.update(over)
    return Facts(**base)  # type: ignore[arg-type]


def test_the_body_shows_every_part_and_starts_with_the_marker() -> None:
    body = render(facts(monthly_cap_usd=10.0, problems=("bad config",),
                        sections={"Monitor": "3 fingerprints"}))  # fmt: skip
    assert body.startswith(DASHBOARD_MARKER)
    assert "State: **running**" in body
    assert "**awaiting_approval** (1)" in body and "- #4, PR #9 · $1.25 · `req_b2`" in body
    assert "## The bot's open pull requests\n#9" in body
    assert "$1.25 of $10.00 in 2026-12 (12%)" in body
    assert "⚠️ bad config" in body and "## Monitor\n3 fingerprints" in body
    assert boxes(body) == {"halt": False, "approve:req_a1": False}


def test_a_halted_repository_shows_where_and_ticks_the_box() -> None:
    body = render(facts(halted=True, halting_issues=(7, 8)))
    assert "**⛔ halted**: the lock label `selfheal:halt` is on #7, #8." in body
    assert boxes(body)["halt"] is True
    assert "no monthly cap set" in body


def test_toggled_reports_only_the_boxes_that_changed() -> None:
    before = render(facts())
    after = before.replace("- [ ] Halt", "- [x] Halt").replace("- [ ] Approve", "- [X] Approve")
    assert toggled(before, after) == [("halt", True), ("approve:req_a1", True)]
    assert toggled(before, before) == []
    # a box a person typed in, or one the body lost, is not a toggle
    forged = after + "\n- [x] Approve #99 <!-- selfheal:box approve:req_zz -->\n"
    assert ("approve:req_zz", True) not in toggled(before, forged)
    assert toggled(before, "") == []


def test_paths_from_issues_cannot_break_out_of_their_code_span() -> None:
    evil = RequestLine("req_e", 6, "awaiting_approval", 0.0, targets=("a`b\n@everyone",))
    body = render(facts(requests=(evil,)))
    assert "`a'b @everyone`" in body and "\n@everyone" not in body


def test_approve_boxes_work_for_every_character_a_request_id_can_hold() -> None:
    # Request ids are ``req_`` + token_urlsafe: letters, digits, ``_`` and ``-``. A box whose
    # key held a ``-`` was not read back, so roughly one request in five had an approve box
    # that no tick could reach (and the dashboard e2e test failed that often).
    ids = ("req_T0Er9-D6lC-RvYja", "req_-_azAZ09", "req_" + "-" * 16)
    lines = tuple(RequestLine(i, n, "awaiting_approval", 0.0) for n, i in enumerate(ids, 1))
    body = render(facts(requests=lines))
    assert boxes(body) == {"halt": False, **{f"approve:{i}": False for i in ids}}
    ticked = body.replace("- [ ] Approve #1 ", "- [x] Approve #1 ")
    assert toggled(body, ticked) == [("approve:req_T0Er9-D6lC-RvYja", True)]
