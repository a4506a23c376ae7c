"""Who may file, label and edit a change request, with plain values."""

from __future__ import annotations

import pytest

from selfheal.changes.authorisation import (
    Actor,
    decide_edit,
    decide_label,
    decide_request,
    honours_machine_block,
    monitor_issue_author,
)

APP = Actor("selfheal-app[bot]", "none", is_app=True)
ADMIN = Actor("ada", "admin")
MAINTAINER = Actor("max", "maintain")
WRITER = Actor("wes", "write")
TRIAGE = Actor("tia", "triage")
READER = Actor("rob", "read")
OUTSIDER = Actor("olga", "none")


@pytest.mark.parametrize(
    ("role", "writer", "maintainer"),
    [
        ("admin", True, True),
        ("maintain", True, True),
        ("write", True, False),
        ("triage", False, False),
        ("read", False, False),
        ("none", False, False),
        ("", False, False),
        ("Admin", True, True),
        ("security-manager", False, False),  # a custom role is not trusted by its name
    ],
)
def test_roles(role: str, writer: bool, maintainer: bool) -> None:
    actor = Actor("someone", role)
    assert (actor.is_writer, actor.is_maintainer) == (writer, maintainer)


def test_the_app_is_a_writer_and_a_maintainer() -> None:
    assert APP.is_writer and APP.is_maintainer


@pytest.mark.parametrize(
    ("author", "labeller"),
    [
        (WRITER, None),  # the issue form labelled it for the author
        (ADMIN, None),
        (WRITER, MAINTAINER),
        (MAINTAINER, WRITER),
        (APP, None),  # filed by the API or the monitor
        (APP, WRITER),
        (WRITER, APP),
    ],
)
def test_requests_that_proceed(author: Actor, labeller: Actor | None) -> None:
    decision = decide_request(author, labeller)
    assert decision.allowed
    assert f"@{author.login}" in decision.reason


def test_an_outsiders_issue_labelled_by_a_maintainer_is_refused() -> None:
    decision = decide_request(OUTSIDER, MAINTAINER)
    assert not decision.allowed
    assert "the issue's author, @olga (role: none), does not have it" in decision.reason
    assert "@max" not in decision.reason  # the maintainer did nothing wrong
    assert "file their own request" in decision.reason


def test_a_request_labelled_by_a_triage_user_is_refused() -> None:
    decision = decide_request(WRITER, TRIAGE)
    assert not decision.allowed
    assert "@tia (role: triage), who applied selfheal:request, does not have it" in (
        decision.reason
    )
    assert "@wes" not in decision.reason


def test_a_triage_users_own_form_request_is_refused_once() -> None:
    decision = decide_request(TRIAGE)
    assert not decision.allowed
    assert decision.reason.count("@tia") == 1


def test_both_refusals_are_named() -> None:
    decision = decide_request(READER, TRIAGE)
    assert not decision.allowed
    assert (
        "the issue's author, @rob (role: read), and @tia (role: triage), who applied "
        "selfheal:request, do not have it"
    ) in decision.reason


@pytest.mark.parametrize(
    ("editor", "counts"),
    [(ADMIN, True), (MAINTAINER, True), (WRITER, True), (APP, True), (TRIAGE, False),
     (READER, False), (OUTSIDER, False)],
)  # fmt: skip
def test_only_writers_edits_change_the_request(editor: Actor, counts: bool) -> None:
    decision = decide_edit(editor)
    assert decision.allowed is counts
    if not counts:
        assert "does not change the request" in decision.reason
        assert f"@{editor.login}" in decision.reason


def test_the_machine_block_counts_only_in_the_apps_issues() -> None:
    assert honours_machine_block(APP)
    assert not honours_machine_block(ADMIN)
    assert not honours_machine_block(Actor("selfheal-app[bot]", "admin"))  # a name is not enough


@pytest.mark.parametrize(
    ("label", "actor", "added", "allowed", "words"),
    [
        ("selfheal:approved", APP, True, True, "selfheal"),
        ("selfheal:approved", ADMIN, True, False, "/selfheal approve"),
        ("SELFHEAL:APPROVED", MAINTAINER, False, False, "may not remove"),
        ("selfheal:state/pr-open", WRITER, True, False, "state"),
        ("selfheal:state/done", APP, True, True, ""),
        ("selfheal:bot", MAINTAINER, True, False, "its own pull requests"),
        ("selfheal:source/monitor", ADMIN, True, False, "monitor"),
        ("selfheal:priority/10", TRIAGE, True, False, "only writers change a request's priority"),
        ("selfheal:priority/10", WRITER, True, True, "priority"),
        ("selfheal:type/security", READER, False, False, "may not remove"),
        ("selfheal:agent/coding_agent", TRIAGE, True, False, "coding agent"),
        ("selfheal:agent/coding_agent", MAINTAINER, True, True, "coding agent"),
        ("selfheal:request", TRIAGE, True, False, "request"),
        ("selfheal:request", WRITER, False, True, "request"),
    ],
)  # fmt: skip
def test_label_changes(label: str, actor: Actor, added: bool, allowed: bool, words: str) -> None:
    decision = decide_label(label, actor, added=added)
    assert decision is not None
    assert decision.allowed is allowed
    assert words in decision.reason


@pytest.mark.parametrize("label", ["bug", "selfheal:halt", "ops:stop-bot", "selfheal:typo"])
def test_other_labels_are_not_governed_here(label: str) -> None:
    assert decide_label(label, TRIAGE) is None


ACTIONS = Actor("github-actions[bot]", "none")
MARKED = "<!-- selfheal:monitor fingerprint=v1:0123456789abcdef -->\nfailures"


@pytest.mark.parametrize(
    ("labeller", "body", "counts"),
    [
        (Actor("mara", "maintain"), MARKED, True),
        (Actor("adam", "admin"), MARKED, True),
        (Actor("wes", "write"), MARKED, False),  # a maintainer's label only
        (None, MARKED, False),  # the label came with the issue
        (ACTIONS, MARKED, False),  # the Action labelled its own issue
        (Actor("mara", "maintain"), "no marker", False),
    ],
)
def test_an_action_monitor_issue_counts_as_the_apps_once_a_maintainer_labels_it(
    labeller: Actor | None, body: str, counts: bool
) -> None:
    author = monitor_issue_author(ACTIONS, labeller, body)
    assert author.is_app is counts
    assert decide_request(author, labeller).allowed is counts
    someone = monitor_issue_author(Actor("octocat", "none"), Actor("mara", "maintain"), MARKED)
    assert not someone.is_app
