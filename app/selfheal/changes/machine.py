"""The change request's state machine (pure): a transition table with guards.

``apply(state, event, context)`` looks the pair (state, event kind) up in :data:`TABLE` and
returns a :class:`Transition`: the new state, the actions that carry it out, and the reason
that goes into the audit log. A pair that is not in the table raises :class:`InvalidTransition`,
and so does a guard that refuses (a retry while the repository is halted). The actions are
plain data; the edges (GitHub, git, the ledger, the work queue) carry them out later, in order.

The states, in the order a request normally takes them::

    received -> reviewing -> blocked | awaiting_approval | queued
             -> coding -> gating -> pr_ready | rolled_back | failed -> merged

and at any step before the end: cancelled, halted or budget_exceeded.

Rules the table encodes:

- ``merged`` and ``cancelled`` are terminal; a cancel is allowed in every other state.
- Nothing starts while the repository is halted: the guards on ``accepted``, ``reviewed``,
  ``started``, ``coded`` and ``gate_passed`` send the request to ``halted`` instead, so
  nothing is pushed after a halt. A ``received`` request reaches ``halted`` only through
  ``accepted``, so a retry never skips the check of who asked. A gate failure while halted
  does not roll back (the halt itself fails the gate on the bot's PRs).
- A ``halted`` request resumes only by ``retry``; ``blocked``, ``failed``, ``rolled_back``
  and ``budget_exceeded`` are retried the same way, and a retry starts again at the review.
- A ``merged`` request takes one more step: ``/selfheal revert`` (a maintainer's, checked by
  the caller) stays ``merged`` and opens a revert pull request, unless one is open already,
  the change was reverted already, or the repository is halted.
- Events that GitHub repeats (the issue labelled or reopened again, an edit that does not
  change the plan, a gate re-run with the same result, a second cancel, halt or approval) are
  no-ops: the state stays and there is nothing to do.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar


class State(enum.StrEnum):
    RECEIVED = "received"
    REVIEWING = "reviewing"
    BLOCKED = "blocked"
    AWAITING_APPROVAL = "awaiting_approval"
    QUEUED = "queued"
    CODING = "coding"
    GATING = "gating"
    PR_READY = "pr_ready"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"
    MERGED = "merged"
    CANCELLED = "cancelled"
    HALTED = "halted"
    BUDGET_EXCEEDED = "budget_exceeded"


INITIAL = State.RECEIVED
# something is (or is about to be) done by the bot
ACTIVE = frozenset(
    {
        State.RECEIVED,
        State.REVIEWING,
        State.AWAITING_APPROVAL,
        State.QUEUED,
        State.CODING,
        State.GATING,
    }
)
# waiting for a person: a retry, an edit, a merge or a cancel
RESTING = frozenset(
    {
        State.BLOCKED,
        State.PR_READY,
        State.ROLLED_BACK,
        State.FAILED,
        State.HALTED,
        State.BUDGET_EXCEEDED,
    }
)
TERMINAL = frozenset({State.MERGED, State.CANCELLED})
RETRYABLE = frozenset(
    {State.BLOCKED, State.ROLLED_BACK, State.FAILED, State.HALTED, State.BUDGET_EXCEEDED}
)
_WORKING = frozenset({State.QUEUED, State.CODING})  # a job is queued or running
# leaving _WORKING for one of these interrupts the job
_INTERRUPTS = frozenset({State.REVIEWING, State.CANCELLED, State.HALTED, State.BUDGET_EXCEEDED})
_MAY_HAVE_PR = frozenset({State.GATING, State.PR_READY, State.HALTED, State.FAILED})
_NOTIFY = frozenset(
    {
        State.BLOCKED,
        State.ROLLED_BACK,
        State.FAILED,
        State.CANCELLED,
        State.HALTED,
        State.BUDGET_EXCEEDED,
    }
)

# What happens next, for the status comment.
NEXT_STEP: Mapping[State, str] = MappingProxyType(
    {
        State.RECEIVED: "selfheal checks who asked, then reviews the request",
        State.REVIEWING: "the target paths are checked against the policy, the halt, the limits "
        "and the budget",
        State.BLOCKED: "edit the request, or change the policy and `/selfheal retry`",
        State.AWAITING_APPROVAL: "an owner of the review paths comments `/selfheal approve`",
        State.QUEUED: "a coder starts when the repository's limits allow",
        State.CODING: "the coder's change is pushed to a draft pull request",
        State.GATING: "the security gate checks the draft pull request",
        State.PR_READY: "a person reviews and merges the pull request",
        State.ROLLED_BACK: "read the gate's findings; `/selfheal retry` for a new attempt",
        State.FAILED: "read the reason; `/selfheal retry` for a new attempt",
        State.MERGED: "nothing: the change is in; `/selfheal revert` undoes it",
        State.CANCELLED: "nothing: file a new request to ask again",
        State.HALTED: "remove the halt label, then `/selfheal retry`",
        State.BUDGET_EXCEEDED: "an owner extends the budget, then `/selfheal retry`",
    }
)


class Verdict(enum.StrEnum):
    """The pre-review's result for the request's target paths."""

    OPEN = "open"  # every path is open: code it
    REVIEW = "review"  # a path needs an owner's approval first
    PROTECTED = "protected"  # a path is protected: never
    INVALID = "invalid"  # the request cannot be read (see intake)


@dataclass(frozen=True)
class Context:
    """The facts the guards read, gathered by the edges before each event."""

    halted: bool = False  # the repository's halt label is set
    approved: bool = False  # an owner approved this request's plan
    spent_usd: float = 0.0
    budget_usd: float = 5.0
    auto_merge: bool = False  # every touched path is open and the config enables it
    branch_shared: bool = False  # a person pushed to the bot's branch
    revert_pr: int = 0  # the revert pull request of a merged request, if one was opened
    revert_state: str = ""  # that pull request: "open", "closed" or "merged"

    @property
    def over_budget(self) -> bool:
        return self.spent_usd >= self.budget_usd


# ---- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accepted:
    """The request passed the authorisation check; the review starts."""

    kind: ClassVar[str] = "accepted"


@dataclass(frozen=True)
class Reviewed:
    kind: ClassVar[str] = "reviewed"
    verdict: Verdict
    reason: str = ""


@dataclass(frozen=True)
class Approved:
    """An owner (checked by the caller) approved the plan with ``/selfheal approve``."""

    kind: ClassVar[str] = "approved"
    by: str


@dataclass(frozen=True)
class Started:
    """A worker took the request from the queue."""

    kind: ClassVar[str] = "started"


@dataclass(frozen=True)
class Coded:
    kind: ClassVar[str] = "coded"
    files_changed: tuple[str, ...]
    summary: str = ""


@dataclass(frozen=True)
class NothingToDo:
    kind: ClassVar[str] = "nothing_to_do"
    reason: str


@dataclass(frozen=True)
class GatePassed:
    kind: ClassVar[str] = "gate_passed"


@dataclass(frozen=True)
class GateNeedsApproval:
    """The gate concluded ``action_required``: a review-level path changed, and an owner must
    approve the diff itself with the check run's Approve button."""

    kind: ClassVar[str] = "gate_needs_approval"


@dataclass(frozen=True)
class GateFailed:
    kind: ClassVar[str] = "gate_failed"
    reason: str


@dataclass(frozen=True)
class Merged:
    kind: ClassVar[str] = "merged"


@dataclass(frozen=True)
class Cancel:
    kind: ClassVar[str] = "cancel"
    by: str


@dataclass(frozen=True)
class Halt:
    kind: ClassVar[str] = "halt"


@dataclass(frozen=True)
class Retry:
    kind: ClassVar[str] = "retry"
    by: str


@dataclass(frozen=True)
class BudgetExceeded:
    kind: ClassVar[str] = "budget_exceeded"
    spent_usd: float


@dataclass(frozen=True)
class Error:
    kind: ClassVar[str] = "error"
    reason: str


@dataclass(frozen=True)
class RevertRequested:
    """A maintainer (checked by the caller) asked to undo the merged change."""

    kind: ClassVar[str] = "revert_requested"
    by: str


@dataclass(frozen=True)
class Edited:
    """A writer edited the issue; ``plan_changed`` when the parsed request differs."""

    kind: ClassVar[str] = "edited"
    plan_changed: bool


@dataclass(frozen=True)
class Resubmitted:
    """The issue was labelled ``selfheal:request`` again, or reopened."""

    kind: ClassVar[str] = "resubmitted"
    trigger: str = "labeled"


Event = (
    Accepted
    | Reviewed
    | Approved
    | Started
    | Coded
    | NothingToDo
    | GatePassed
    | GateNeedsApproval
    | GateFailed
    | Merged
    | Cancel
    | Halt
    | Retry
    | BudgetExceeded
    | Error
    | RevertRequested
    | Edited
    | Resubmitted
)
EVENT_KINDS = (
    "accepted",
    "reviewed",
    "approved",
    "started",
    "coded",
    "nothing_to_do",
    "gate_passed",
    "gate_needs_approval",
    "gate_failed",
    "merged",
    "cancel",
    "halt",
    "retry",
    "budget_exceeded",
    "error",
    "revert_requested",
    "edited",
    "resubmitted",
)

# ---- actions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetStateLabel:
    """Make ``selfheal:state/<label of state>`` the issue's only state label."""

    state: State


@dataclass(frozen=True)
class UpdateStatusComment:
    """Edit the status comment in place (found by its hidden marker)."""

    state: State
    note: str


@dataclass(frozen=True)
class Comment:
    """A new comment on the issue, for what people should be notified of."""

    text: str


@dataclass(frozen=True)
class Review:
    """Run the pre-review: target paths against the policy, the halt, limits, budget."""


@dataclass(frozen=True)
class EnqueueCoding:
    """Put the request in the repository's queue (ordered by priority, then age)."""


@dataclass(frozen=True)
class StopWork:
    """Take the request out of the queue, or stop its running coder."""


@dataclass(frozen=True)
class RunCoder:
    pass


@dataclass(frozen=True)
class OpenDraftPR:
    """Commit, push the branch and open (or reuse) the request's draft PR."""


@dataclass(frozen=True)
class MarkReady:
    auto_merge: bool


@dataclass(frozen=True)
class Rollback:
    """Close the request's PR and, unless a person pushed to it, delete its branch (each when
    there is one)."""

    delete_branch: bool


@dataclass(frozen=True)
class OpenRevertPR:
    """Revert the merged change on the default branch and open a pull request for it, which
    the gate checks like every pull request of the bot's."""

    by: str


@dataclass(frozen=True)
class SetApprovedLabel:
    """The bot applies ``selfheal:approved``, recording the approver."""

    by: str


@dataclass(frozen=True)
class ClearApproval:
    """The plan changed: the approval was for the old one, so the label is removed."""


Action = (
    SetStateLabel
    | UpdateStatusComment
    | Comment
    | Review
    | EnqueueCoding
    | StopWork
    | RunCoder
    | OpenDraftPR
    | MarkReady
    | Rollback
    | OpenRevertPR
    | SetApprovedLabel
    | ClearApproval
)


@dataclass(frozen=True)
class Transition:
    previous: State
    state: State
    actions: tuple[Action, ...]
    reason: str  # for the audit log

    @property
    def changed(self) -> bool:
        """Whether anything happens: a new state, or something to carry out."""
        return self.state is not self.previous or bool(self.actions)


class InvalidTransition(Exception):
    """The event is not allowed in this state; ``reason`` says why, for the reply."""

    def __init__(self, state: State, kind: str, reason: str) -> None:
        self.state = state
        self.kind = kind
        self.reason = reason
        super().__init__(f"{kind} is not allowed while the request is {state.value}: {reason}")


# ---- the table ----------------------------------------------------------------------------

Handler = Callable[[State, Event, Context], Transition]


def _entry(target: State, ctx: Context) -> list[Action]:
    if target is State.REVIEWING:
        return [Review()]
    if target is State.QUEUED:
        return [EnqueueCoding()]
    if target is State.CODING:
        return [RunCoder()]
    if target is State.GATING:
        return [OpenDraftPR()]
    if target is State.PR_READY:
        return [MarkReady(auto_merge=ctx.auto_merge)]
    if target is State.ROLLED_BACK:
        return [Rollback(delete_branch=not ctx.branch_shared)]
    return []


def _move(
    source: State,
    target: State,
    reason: str,
    ctx: Context,
    before: Iterable[Action] = (),
    *,
    stop: bool = False,
) -> Transition:
    """Leave ``source`` for ``target``: stop queued or running work when it is interrupted
    (or ``stop``), then ``before``, the state label, what the new state starts, the status
    comment, and a comment for the states people must hear about."""
    actions: list[Action] = []
    if source in _WORKING and (stop or target in _INTERRUPTS):
        actions.append(StopWork())
    actions.extend(before)
    actions.append(SetStateLabel(target))
    actions.extend(_entry(target, ctx))
    actions.append(UpdateStatusComment(target, reason))
    if target in _NOTIFY:
        actions.append(Comment(f"{reason}. Next: {NEXT_STEP[target]}."))
    return Transition(source, target, tuple(actions), reason)


def _stay(state: State, reason: str) -> Transition:
    return Transition(state, state, (), reason)


def _refuse(state: State, event: Event, reason: str) -> InvalidTransition:
    return InvalidTransition(state, event.kind, reason)


def _halted(state: State, ctx: Context) -> Transition:
    return _move(state, State.HALTED, "halted by the halt label", ctx)


def _accepted(state: State, event: Event, ctx: Context) -> Transition:
    if ctx.halted:
        return _halted(state, ctx)
    return _move(state, State.REVIEWING, "accepted: the requester may ask", ctx)


def _reviewed(state: State, event: Event, ctx: Context) -> Transition:
    assert isinstance(event, Reviewed)
    if ctx.halted:
        return _halted(state, ctx)
    if ctx.over_budget:
        return _move(state, State.BUDGET_EXCEEDED, _budget_reason(ctx.spent_usd, ctx), ctx)
    detail = f": {event.reason}" if event.reason else ""
    if event.verdict in (Verdict.PROTECTED, Verdict.INVALID):
        return _move(state, State.BLOCKED, f"blocked ({event.verdict.value}){detail}", ctx)
    if event.verdict is Verdict.REVIEW and not ctx.approved:
        return _move(state, State.AWAITING_APPROVAL, f"needs an owner's approval{detail}", ctx)
    return _move(state, State.QUEUED, f"reviewed ({event.verdict.value}){detail}", ctx)


def _approved(state: State, event: Event, ctx: Context) -> Transition:
    assert isinstance(event, Approved)
    if not event.by:
        raise _refuse(state, event, "an approval must name the approver")
    if state is not State.AWAITING_APPROVAL:
        return _stay(state, f"approval by @{event.by} ignored: nothing is waiting for it")
    reason = f"approved by @{event.by}"
    return _move(state, State.QUEUED, reason, ctx, before=[SetApprovedLabel(event.by)])


def _started(state: State, event: Event, ctx: Context) -> Transition:
    if ctx.halted:
        return _halted(state, ctx)
    if ctx.over_budget:
        return _move(state, State.BUDGET_EXCEEDED, _budget_reason(ctx.spent_usd, ctx), ctx)
    return _move(state, State.CODING, "a coder started", ctx)


def _coded(state: State, event: Event, ctx: Context) -> Transition:
    assert isinstance(event, Coded)
    if state is State.GATING:
        return _stay(state, "the coder's result was already taken")
    if ctx.halted:
        return _halted(state, ctx)  # before anything is pushed
    if ctx.over_budget:
        return _move(state, State.BUDGET_EXCEEDED, _budget_reason(ctx.spent_usd, ctx), ctx)
    if not event.files_changed:
        return _move(state, State.FAILED, "the coder changed no file", ctx)
    n = len(event.files_changed)
    return _move(state, State.GATING, f"the coder changed {n} file{'s' if n != 1 else ''}", ctx)


def _nothing_to_do(state: State, event: Event, ctx: Context) -> Transition:
    assert isinstance(event, NothingToDo)
    return _move(state, State.FAILED, f"the coder had nothing to do: {event.reason}", ctx)


def _gate_passed(state: State, event: Event, ctx: Context) -> Transition:
    if state is State.PR_READY:
        return _stay(state, "the gate passed again")
    if ctx.halted:
        return _halted(state, ctx)
    return _move(state, State.PR_READY, "the gate passed", ctx)


WAITING_FOR_DIFF_APPROVAL = (
    "waiting for an owner to approve the diff with the gate's Approve button (the approval "
    "of the plan does not cover the diff); a PR on a review path is never merged automatically"
)


def _gate_needs_approval(state: State, event: Event, ctx: Context) -> Transition:
    if ctx.halted:
        return _halted(state, ctx)
    return Transition(
        state, state, (UpdateStatusComment(state, WAITING_FOR_DIFF_APPROVAL),),
        WAITING_FOR_DIFF_APPROVAL,
    )  # fmt: skip


def _gate_failed(state: State, event: Event, ctx: Context) -> Transition:
    assert isinstance(event, GateFailed)
    if state is State.ROLLED_BACK:
        return _stay(state, "the gate failed again")
    if ctx.halted:
        return _halted(state, ctx)  # the halt fails the gate; nothing is rolled back for it
    return _move(state, State.ROLLED_BACK, f"the gate failed: {event.reason}", ctx)


def _merged(state: State, event: Event, ctx: Context) -> Transition:
    if state is State.MERGED:
        return _stay(state, "already merged")
    return _move(state, State.MERGED, "the pull request was merged", ctx)


def _cancel(state: State, event: Event, ctx: Context) -> Transition:
    assert isinstance(event, Cancel)
    if state is State.CANCELLED:
        return _stay(state, "already cancelled")
    before: list[Action] = []
    if state in _MAY_HAVE_PR:
        before.append(Rollback(delete_branch=not ctx.branch_shared))
    return _move(state, State.CANCELLED, f"cancelled by @{event.by}", ctx, before=before)


def _halt(state: State, event: Event, ctx: Context) -> Transition:
    if state is State.RECEIVED:  # ``accepted`` goes to halted once the requester is checked
        return _stay(state, "halt: nothing has started; the review will not start either")
    if state in ACTIVE:
        return _halted(state, ctx)
    return _stay(state, f"halt: nothing is running while the request is {state.value}")


def _retry(state: State, event: Event, ctx: Context) -> Transition:
    assert isinstance(event, Retry)
    if ctx.halted:
        raise _refuse(state, event, "the repository is halted; remove the halt label first")
    if state is State.BUDGET_EXCEEDED and ctx.over_budget:
        raise _refuse(state, event, "the budget is used up; an owner must extend it first")
    return _move(state, State.REVIEWING, f"retry by @{event.by}", ctx)


def _budget_reason(spent: float, ctx: Context) -> str:
    return f"the budget is used up: ${spent:.2f} of ${ctx.budget_usd:.2f}"


def _budget_exceeded(state: State, event: Event, ctx: Context) -> Transition:
    assert isinstance(event, BudgetExceeded)
    if state is State.BUDGET_EXCEEDED:
        return _stay(state, "the budget was already used up")
    return _move(state, State.BUDGET_EXCEEDED, _budget_reason(event.spent_usd, ctx), ctx)


def _error(state: State, event: Event, ctx: Context) -> Transition:
    assert isinstance(event, Error)
    if state is State.FAILED:
        return _stay(state, f"a further error: {event.reason}")
    return _move(state, State.FAILED, f"failed: {event.reason}", ctx, stop=True)


def _revert_requested(state: State, event: Event, ctx: Context) -> Transition:
    assert isinstance(event, RevertRequested)
    if not event.by:
        raise _refuse(state, event, "a revert must name who asked for it")
    if ctx.revert_state == "open":
        raise _refuse(state, event, f"its revert pull request #{ctx.revert_pr} is open; "
                      "merge or close it first")  # fmt: skip
    if ctx.revert_state == "merged":
        raise _refuse(state, event, f"the change was already reverted by #{ctx.revert_pr}")
    if ctx.halted:
        raise _refuse(state, event, "the repository is halted; remove the halt label first")
    reason = f"revert requested by @{event.by}"
    return Transition(state, state, (OpenRevertPR(event.by), UpdateStatusComment(state, reason)),
                      reason)  # fmt: skip


def _edited(state: State, event: Event, ctx: Context) -> Transition:
    assert isinstance(event, Edited)
    if not event.plan_changed:
        return _stay(state, "edited: the request is the same")
    if state in TERMINAL:
        return _stay(state, f"edited after the request was {state.value}: nothing to do")
    if state is State.RECEIVED:
        return _stay(state, "edited before the review: the review reads the new text")
    # an approval was for the plan as it was
    clear: list[Action] = [ClearApproval()] if ctx.approved else []
    if state in (State.REVIEWING, State.BLOCKED, State.AWAITING_APPROVAL, State.QUEUED):
        return _move(state, State.REVIEWING, "edited: the new request is reviewed", ctx, clear)
    reason = f"edited while {state.value}: the change applies to the next attempt"
    return Transition(state, state, tuple(clear), reason)


def _resubmitted(state: State, event: Event, ctx: Context) -> Transition:
    assert isinstance(event, Resubmitted)
    return _stay(state, f"{event.trigger} again: the request is already known")


def _build() -> dict[tuple[State, str], Handler]:
    every = frozenset(State)
    rows: list[tuple[str, Iterable[State], Handler]] = [
        ("accepted", [State.RECEIVED], _accepted),
        ("reviewed", [State.REVIEWING], _reviewed),
        (
            "approved",
            [State.AWAITING_APPROVAL, State.QUEUED, State.CODING, State.GATING, State.PR_READY],
            _approved,
        ),
        ("started", [State.QUEUED], _started),
        ("coded", [State.CODING, State.GATING], _coded),
        ("nothing_to_do", [State.CODING], _nothing_to_do),
        ("gate_passed", [State.GATING, State.PR_READY], _gate_passed),
        ("gate_needs_approval", [State.GATING], _gate_needs_approval),
        ("gate_failed", [State.GATING, State.PR_READY, State.ROLLED_BACK], _gate_failed),
        ("merged", [State.PR_READY, State.HALTED, State.FAILED, State.MERGED], _merged),
        ("cancel", every - {State.MERGED}, _cancel),
        ("halt", every, _halt),
        ("retry", RETRYABLE, _retry),
        (
            "budget_exceeded",
            [State.REVIEWING, State.QUEUED, State.CODING, State.BUDGET_EXCEEDED],
            _budget_exceeded,
        ),
        ("error", ACTIVE | {State.FAILED}, _error),
        ("revert_requested", [State.MERGED], _revert_requested),
        ("edited", every, _edited),
        ("resubmitted", every, _resubmitted),
    ]
    table: dict[tuple[State, str], Handler] = {}
    for kind, states, handler in rows:
        for state in states:
            table[(state, kind)] = handler
    return table


TABLE: Mapping[tuple[State, str], Handler] = MappingProxyType(_build())


def _why_not(state: State, kind: str) -> str:
    """The reason for the reply when the table has no row for (state, kind)."""
    if kind == "revert_requested":
        return f"only a merged request can be reverted, and this one is {state.value}"
    if state is State.MERGED:
        return "the request is already merged; `/selfheal revert` undoes it"
    if state is State.CANCELLED:
        return "the request was cancelled; file a new request to ask again"
    if kind == "retry":
        if state is State.PR_READY:
            return "its pull request is open; cancel the request before a new attempt"
        return "the request is still in progress"
    if kind == "approved":
        if state is State.BLOCKED:
            return "a blocked request (a protected path, or an invalid request) cannot be approved"
        return "nothing is waiting for an owner's approval yet"
    return f"a request that is {state.value} does not take this step"


def apply(state: State, event: Event, context: Context | None = None) -> Transition:
    """The transition for ``event`` in ``state``; raises :class:`InvalidTransition`."""
    handler = TABLE.get((state, event.kind))
    if handler is None:
        raise InvalidTransition(state, event.kind, _why_not(state, event.kind))
    return handler(state, event, context or Context())


def allowed(state: State) -> frozenset[str]:
    """The event kinds the table has a row for in ``state``."""
    return frozenset(kind for (s, kind) in TABLE if s is state)
