"""The change request's state machine, with plain values: every (state, event) pair is either
in the table, with the destination written out below, or raises InvalidTransition."""

from __future__ import annotations

import re
from typing import get_args

import pytest

from selfheal.changes import machine as m
from selfheal.changes.machine import Context, State
from selfheal.model import labels
from tests.support.paths import ROOT

SAMPLES: dict[str, m.Event] = {
    "accepted": m.Accepted(),
    "reviewed": m.Reviewed(m.Verdict.OPEN, "every path is open"),
    "approved": m.Approved("owner"),
    "started": m.Started(),
    "coded": m.Coded(("requirements.txt",), "bumped a pin"),
    "nothing_to_do": m.NothingToDo("no finding in the targets"),
    "gate_passed": m.GatePassed(),
    "gate_needs_approval": m.GateNeedsApproval(),
    "gate_failed": m.GateFailed("a secret was added"),
    "merged": m.Merged(),
    "cancel": m.Cancel("requester"),
    "halt": m.Halt(),
    "retry": m.Retry("requester"),
    "budget_exceeded": m.BudgetExceeded(5.25),
    "error": m.Error("GitHub answered 500"),
    "revert_requested": m.RevertRequested("maintainer"),
    "edited": m.Edited(plan_changed=True),
    "resubmitted": m.Resubmitted("reopened"),
}

ALL = [s.value for s in State]
ACTIVE = ["received", "reviewing", "awaiting_approval", "queued", "coding", "gating"]

# (state, event kind) -> the state after it, with the default context and the samples above
EXPECTED: dict[tuple[str, str], str] = {
    ("received", "accepted"): "reviewing",
    ("reviewing", "reviewed"): "queued",
    ("awaiting_approval", "approved"): "queued",
    ("queued", "approved"): "queued",
    ("coding", "approved"): "coding",
    ("gating", "approved"): "gating",
    ("pr_ready", "approved"): "pr_ready",
    ("queued", "started"): "coding",
    ("coding", "coded"): "gating",
    ("gating", "coded"): "gating",
    ("coding", "nothing_to_do"): "failed",
    ("gating", "gate_passed"): "pr_ready",
    ("pr_ready", "gate_passed"): "pr_ready",
    ("gating", "gate_needs_approval"): "gating",
    ("gating", "gate_failed"): "rolled_back",
    ("pr_ready", "gate_failed"): "rolled_back",
    ("rolled_back", "gate_failed"): "rolled_back",
    ("pr_ready", "merged"): "merged",
    ("halted", "merged"): "merged",
    ("failed", "merged"): "merged",
    ("merged", "merged"): "merged",
    **{(s, "cancel"): "cancelled" for s in ALL if s != "merged"},
    **{(s, "halt"): "halted" if s in ACTIVE[1:] else s for s in ALL},
    **{
        (s, "retry"): "reviewing"
        for s in ("blocked", "rolled_back", "failed", "halted", "budget_exceeded")
    },
    ("reviewing", "budget_exceeded"): "budget_exceeded",
    ("queued", "budget_exceeded"): "budget_exceeded",
    ("coding", "budget_exceeded"): "budget_exceeded",
    ("budget_exceeded", "budget_exceeded"): "budget_exceeded",
    **{(s, "error"): "failed" for s in [*ACTIVE, "failed"]},
    **{
        (s, "edited"): "reviewing"
        if s in ("reviewing", "blocked", "awaiting_approval", "queued")
        else s
        for s in ALL
    },
    **{(s, "resubmitted"): s for s in ALL},
    ("merged", "revert_requested"): "merged",
}


def _run(state: State, *events: m.Event, ctx: Context | None = None) -> list[m.Transition]:
    out = []
    for event in events:
        t = m.apply(state, event, ctx)
        out.append(t)
        state = t.state
    return out


def test_the_samples_cover_every_event_kind() -> None:
    classes = get_args(m.Event)
    assert sorted(cls.kind for cls in classes) == sorted(m.EVENT_KINDS) == sorted(SAMPLES)
    assert all(type(SAMPLES[cls.kind]) is cls for cls in classes)


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("kind", m.EVENT_KINDS)
def test_every_pair_is_in_the_table_or_raises(state: State, kind: str) -> None:
    event = SAMPLES[kind]
    expected = EXPECTED.get((state.value, kind))
    assert ((state, kind) in m.TABLE) == (expected is not None)
    if expected is None:
        with pytest.raises(m.InvalidTransition) as info:
            m.apply(state, event)
        assert info.value.state is state and info.value.kind == kind
        assert kind in str(info.value) and state.value in str(info.value)
        assert info.value.reason
        assert kind not in m.allowed(state)
    else:
        t = m.apply(state, event)
        assert (t.previous, t.state) == (state, State(expected))
        assert t.reason
        assert kind in m.allowed(state)


@pytest.mark.parametrize(("state", "kind"), sorted(EXPECTED))
def test_a_repeated_event_never_moves_the_request_further(state: str, kind: str) -> None:
    """GitHub redelivers, people press twice: the same event again either raises or leaves
    the state as the first one left it, with nothing more to carry out (an edit that changed
    the plan again is reviewed again). A second revert is kept from opening a second pull
    request by the context (see the revert tests below), not by the state."""
    if kind == "revert_requested":
        return
    event = SAMPLES[kind]
    first = m.apply(State(state), event)
    try:
        second = m.apply(first.state, event)
    except m.InvalidTransition:
        return
    assert second.state is first.state
    if kind == "edited" and second.state is State.REVIEWING:
        assert second.actions == (
            m.SetStateLabel(State.REVIEWING),
            m.Review(),
            m.UpdateStatusComment(State.REVIEWING, second.reason),
        )
    elif kind == "gate_needs_approval":  # the status comment is edited in place, again
        assert (
            second.actions
            == first.actions
            == (m.UpdateStatusComment(State.GATING, m.WAITING_FOR_DIFF_APPROVAL),)
        )
    else:
        assert second.actions == () and not second.changed


def test_the_whole_way_to_merged() -> None:
    ctx = Context(auto_merge=True)
    steps = _run(
        m.INITIAL,
        m.Accepted(),
        m.Reviewed(m.Verdict.OPEN),
        m.Started(),
        m.Coded(("requirements.txt",)),
        m.GatePassed(),
        m.Merged(),
        ctx=ctx,
    )
    assert [t.state.value for t in steps] == [
        "reviewing", "queued", "coding", "gating", "pr_ready", "merged"
    ]  # fmt: skip
    work = [[a for a in t.actions if not isinstance(a, m.UpdateStatusComment)] for t in steps]
    assert work == [
        [m.SetStateLabel(State.REVIEWING), m.Review()],
        [m.SetStateLabel(State.QUEUED), m.EnqueueCoding()],
        [m.SetStateLabel(State.CODING), m.RunCoder()],
        [m.SetStateLabel(State.GATING), m.OpenDraftPR()],
        [m.SetStateLabel(State.PR_READY), m.MarkReady(auto_merge=True)],
        [m.SetStateLabel(State.MERGED)],
    ]
    for t in steps:  # the status comment is edited on every step, after the label
        assert t.actions[-1] == m.UpdateStatusComment(t.state, t.reason)
    assert steps[3].reason == "the coder changed 1 file"


@pytest.mark.parametrize(
    ("verdict", "approved", "state"),
    [
        (m.Verdict.OPEN, False, State.QUEUED),
        (m.Verdict.REVIEW, False, State.AWAITING_APPROVAL),
        (m.Verdict.REVIEW, True, State.QUEUED),  # a retry keeps an owner's approval
        (m.Verdict.PROTECTED, False, State.BLOCKED),
        (m.Verdict.PROTECTED, True, State.BLOCKED),  # protected cannot be approved
        (m.Verdict.INVALID, False, State.BLOCKED),
    ],
)
def test_the_review_verdict_picks_the_next_state(
    verdict: m.Verdict, approved: bool, state: State
) -> None:
    t = m.apply(State.REVIEWING, m.Reviewed(verdict, "app/core.py"), Context(approved=approved))
    assert t.state is state
    assert "app/core.py" in t.reason
    assert (m.EnqueueCoding() in t.actions) == (state is State.QUEUED)
    if state is State.BLOCKED:
        comment = t.actions[-1]
        assert isinstance(comment, m.Comment)
        assert "app/core.py" in comment.text and "retry" in comment.text


def test_an_owners_approval_queues_the_request_and_sets_the_label() -> None:
    t = m.apply(State.AWAITING_APPROVAL, m.Approved("alice"))
    assert t.state is State.QUEUED
    assert t.actions[:3] == (
        m.SetApprovedLabel("alice"),
        m.SetStateLabel(State.QUEUED),
        m.EnqueueCoding(),
    )
    with pytest.raises(m.InvalidTransition, match="name the approver"):
        m.apply(State.AWAITING_APPROVAL, m.Approved(""))
    with pytest.raises(m.InvalidTransition, match=r"blocked request .* cannot be approved"):
        m.apply(State.BLOCKED, m.Approved("alice"))
    assert m.apply(State.QUEUED, m.Approved("bob")).actions == ()


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (State.RECEIVED, m.Accepted()),
        (State.REVIEWING, m.Reviewed(m.Verdict.OPEN)),
        (State.QUEUED, m.Started()),
        (State.CODING, m.Coded(("a.py",))),
        (State.GATING, m.GatePassed()),
        (State.GATING, m.GateFailed("halted: the repository is locked")),
    ],
)
def test_nothing_starts_and_nothing_is_pushed_while_halted(state: State, event: m.Event) -> None:
    t = m.apply(state, event, Context(halted=True))
    assert t.state is State.HALTED
    forbidden = (m.Review, m.EnqueueCoding, m.RunCoder, m.OpenDraftPR, m.MarkReady, m.Rollback)
    assert not [a for a in t.actions if isinstance(a, forbidden)]


def test_a_halt_before_the_requester_is_checked_waits_for_that_check() -> None:
    """A retry from halted goes to the review; a request halted before ``accepted`` would
    skip the check of who asked."""
    assert m.apply(State.RECEIVED, m.Halt()).state is State.RECEIVED
    t = m.apply(State.RECEIVED, m.Accepted(), Context(halted=True))
    assert t.state is State.HALTED


def test_a_halt_stops_running_work_first() -> None:
    for state in (State.QUEUED, State.CODING):
        t = m.apply(state, m.Halt())
        assert t.state is State.HALTED and t.actions[0] == m.StopWork()
    t = m.apply(State.GATING, m.Halt())
    assert t.state is State.HALTED and m.StopWork() not in t.actions  # nothing runs there
    comment = t.actions[-1]
    assert isinstance(comment, m.Comment) and "/selfheal retry" in comment.text


def test_a_halted_request_resumes_only_by_retry() -> None:
    leaves = {}
    for kind, event in SAMPLES.items():
        try:
            t = m.apply(State.HALTED, event)
        except m.InvalidTransition:
            continue
        if t.state is not State.HALTED:
            leaves[kind] = t.state.value
    # the way back is retry; cancel and a merge by a person end the request
    assert leaves == {"retry": "reviewing", "cancel": "cancelled", "merged": "merged"}
    with pytest.raises(m.InvalidTransition, match="remove the halt label first"):
        m.apply(State.HALTED, m.Retry("me"), Context(halted=True))
    t = m.apply(State.HALTED, m.Retry("me"))
    assert t.actions[:2] == (m.SetStateLabel(State.REVIEWING), m.Review())


def test_cancel_is_allowed_until_merged() -> None:
    for state in State:
        if state is State.MERGED:
            with pytest.raises(m.InvalidTransition, match="revert"):
                m.apply(state, m.Cancel("me"))
            continue
        assert m.apply(state, m.Cancel("me")).state is State.CANCELLED
    coding = m.apply(State.CODING, m.Cancel("me"))
    assert coding.actions[0] == m.StopWork() and "@me" in coding.reason
    gating = m.apply(State.GATING, m.Cancel("me"))
    assert gating.actions[0] == m.Rollback(delete_branch=True)
    shared = m.apply(State.PR_READY, m.Cancel("me"), Context(branch_shared=True))
    assert shared.actions[0] == m.Rollback(delete_branch=False)  # a person's commits stay
    assert not [a for a in m.apply(State.QUEUED, m.Cancel("me")).actions
                if isinstance(a, m.Rollback)]  # fmt: skip


@pytest.mark.parametrize("state", sorted(m.TERMINAL))
def test_terminal_states_only_take_no_ops(state: State) -> None:
    for event in SAMPLES.values():
        if isinstance(event, m.RevertRequested):
            continue  # the one step a merged request takes: below
        try:
            t = m.apply(state, event)
        except m.InvalidTransition as exc:
            assert exc.reason
            continue
        assert t.state is state and t.actions == ()


def test_the_state_groups_partition_the_states() -> None:
    groups = [m.ACTIVE, m.RESTING, m.TERMINAL]
    assert sorted(s for g in groups for s in g) == sorted(State)
    assert m.RETRYABLE <= m.RESTING


def test_a_gate_failure_rolls_back_and_says_why() -> None:
    t = m.apply(State.GATING, m.GateFailed("a GitHub token in config.py"))
    assert t.state is State.ROLLED_BACK
    assert m.Rollback(delete_branch=True) in t.actions
    assert isinstance(t.actions[-1], m.Comment) and "config.py" in t.actions[-1].text
    t = m.apply(State.GATING, m.GateFailed("x"), Context(branch_shared=True))
    assert m.Rollback(delete_branch=False) in t.actions


def test_coding_ends_in_failed_when_nothing_changed() -> None:
    for event in (m.Coded(()), m.NothingToDo("the rules coder cannot do this")):
        t = m.apply(State.CODING, event)
        assert t.state is State.FAILED and m.OpenDraftPR() not in t.actions
        assert m.StopWork() not in t.actions  # the coder has finished
    t = m.apply(State.CODING, m.Error("the clone failed"))
    assert t.actions[0] == m.StopWork()


def test_the_budget_guards() -> None:
    spent = Context(spent_usd=5.0, budget_usd=5.0)
    assert m.apply(State.QUEUED, m.Started(), spent).state is State.BUDGET_EXCEEDED
    t = m.apply(State.CODING, m.Coded(("a.py",)), spent)
    assert t.state is State.BUDGET_EXCEEDED and m.OpenDraftPR() not in t.actions
    assert "$5.00 of $5.00" in t.reason
    assert m.apply(State.REVIEWING, m.Reviewed(m.Verdict.OPEN), spent).state is (
        State.BUDGET_EXCEEDED
    )
    with pytest.raises(m.InvalidTransition, match="extend it first"):
        m.apply(State.BUDGET_EXCEEDED, m.Retry("me"), spent)
    extended = Context(spent_usd=5.0, budget_usd=8.0)
    assert m.apply(State.BUDGET_EXCEEDED, m.Retry("me"), extended).state is State.REVIEWING
    below = Context(spent_usd=4.99, budget_usd=5.0)
    assert m.apply(State.QUEUED, m.Started(), below).state is State.CODING


def test_an_edit_that_changes_the_plan() -> None:
    ctx = Context(approved=True)
    t = m.apply(State.QUEUED, m.Edited(plan_changed=True), ctx)
    assert t.state is State.REVIEWING
    assert t.actions[:3] == (m.StopWork(), m.ClearApproval(), m.SetStateLabel(State.REVIEWING))
    coding = m.apply(State.CODING, m.Edited(plan_changed=True), ctx)
    assert coding.state is State.CODING and coding.actions == (m.ClearApproval(),)
    assert "next attempt" in coding.reason
    assert m.apply(State.CODING, m.Edited(plan_changed=True)).actions == ()
    assert m.apply(State.RECEIVED, m.Edited(plan_changed=True), ctx).actions == ()
    assert m.apply(State.MERGED, m.Edited(plan_changed=True), ctx).actions == ()
    unchanged = m.apply(State.AWAITING_APPROVAL, m.Edited(plan_changed=False), ctx)
    assert unchanged.state is State.AWAITING_APPROVAL and not unchanged.changed


@pytest.mark.parametrize("state", list(State))
def test_relabelled_or_reopened_is_a_no_op_everywhere(state: State) -> None:
    for trigger in ("labeled", "reopened"):
        t = m.apply(state, m.Resubmitted(trigger))
        assert t.state is state and not t.changed and trigger in t.reason


def test_refusals_say_why() -> None:
    with pytest.raises(m.InvalidTransition, match="pull request is open"):
        m.apply(State.PR_READY, m.Retry("me"))
    with pytest.raises(m.InvalidTransition, match="still in progress"):
        m.apply(State.CODING, m.Retry("me"))
    with pytest.raises(m.InvalidTransition, match="file a new request"):
        m.apply(State.CANCELLED, m.Retry("me"))
    with pytest.raises(m.InvalidTransition, match="does not take this step"):
        m.apply(State.QUEUED, m.GatePassed())


def test_every_state_has_a_label_and_a_next_step() -> None:
    assert sorted(labels.STATE_LABELS) == sorted(s.value for s in State)
    assert sorted(m.NEXT_STEP) == sorted(State)
    assert all(m.NEXT_STEP[s] for s in State)


def test_the_docs_list_every_state_with_its_label() -> None:
    text = (ROOT / "docs" / "requests.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z_]+)` \| `(selfheal:state/[a-z-]+)` \|", text, re.MULTILINE)
    assert rows == [(s.value, labels.state_label(s.value)) for s in State]


def test_a_gate_waiting_for_the_diff_approval_keeps_gating_and_says_so() -> None:
    step = m.apply(State.GATING, m.GateNeedsApproval())
    assert step.state is State.GATING
    assert step.actions == (m.UpdateStatusComment(State.GATING, m.WAITING_FOR_DIFF_APPROVAL),)
    assert "Approve button" in step.reason and "never merged automatically" in step.reason
    halted = m.apply(State.GATING, m.GateNeedsApproval(), Context(halted=True))
    assert halted.state is State.HALTED
    # the owner's approval turns the gate green: then the PR is ready, never auto-merged
    ready = m.apply(State.GATING, m.GatePassed(), Context(auto_merge=False))
    assert m.MarkReady(auto_merge=False) in ready.actions


def test_a_revert_of_a_merged_request_opens_a_revert_pr_and_stays_merged() -> None:
    t = m.apply(State.MERGED, m.RevertRequested("maint"))
    assert t.state is State.MERGED and t.changed
    assert t.actions == (m.OpenRevertPR("maint"), m.UpdateStatusComment(State.MERGED, t.reason))
    assert "@maint" in t.reason
    closed = m.apply(
        State.MERGED, m.RevertRequested("maint"), Context(revert_pr=9, revert_state="closed")
    )
    assert closed.actions[0] == m.OpenRevertPR("maint")  # a closed revert PR: ask again


@pytest.mark.parametrize(
    ("ctx", "why"),
    [
        (Context(revert_pr=12, revert_state="open"), "#12 is open"),
        (Context(revert_pr=12, revert_state="merged"), "already reverted by #12"),
        (Context(halted=True), "halted"),
    ],
)
def test_a_revert_is_refused_while_one_is_open_after_one_merged_or_while_halted(
    ctx: Context, why: str
) -> None:
    with pytest.raises(m.InvalidTransition, match=why):
        m.apply(State.MERGED, m.RevertRequested("maint"), ctx)


@pytest.mark.parametrize("state", [s for s in State if s is not State.MERGED])
def test_only_a_merged_request_can_be_reverted(state: State) -> None:
    with pytest.raises(m.InvalidTransition, match="only a merged request") as info:
        m.apply(state, m.RevertRequested("maint"))
    assert state.value in info.value.reason
    with pytest.raises(m.InvalidTransition, match="name who asked"):
        m.apply(State.MERGED, m.RevertRequested(""))
