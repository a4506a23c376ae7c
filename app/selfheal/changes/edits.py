"""Events on an issue that is a request already: edits, re-labels and reopening.

- ``edited``: the editor (the event's sender) is checked again. An edit by someone who is not
  a writer (or the App) does not change the request: it is audited, and the bot says so once
  on the issue; the coder keeps reading the text a writer last left (the request's data). A
  writer's edit is read again by the intake; the new text is kept, and when the plan (the
  targets, the type, the priority or the agent) changed, the request's fields are updated and
  the state machine takes ``Edited(plan_changed=True)``: back to the review with the approval
  cleared, or, while a coder or the gate is at work, for the next attempt.
- ``labeled`` (``selfheal:request`` again) and ``reopened``: ``Resubmitted``, which changes
  nothing; the request is already known.

:func:`plan_changes` is the pure comparison.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from selfheal.changes import machine
from selfheal.changes.authorisation import Actor, decide_edit
from selfheal.changes.intake import IntakeError, ParsedRequest, parse_request, quote_untrusted
from selfheal.ledger import requests

if TYPE_CHECKING:  # the run type only; service imports this module
    from selfheal.changes.service import RequestRun

RESUBMITTED = ("labeled", "reopened")


def plan_changes(request: requests.Request, parsed: ParsedRequest) -> dict[str, Any]:
    """The request's plan fields (ledger column -> new value) that the parsed text changes."""
    new: dict[str, Any] = {
        "targets": tuple(parsed.target_paths),
        "change_type": parsed.change_type,
        "priority": parsed.priority,
        "agent_id": parsed.agent,
    }
    old: dict[str, Any] = {
        "targets": tuple(request.targets),
        "change_type": request.change_type,
        "priority": request.priority,
        "agent_id": request.agent_id,
    }
    return {key: value for key, value in new.items() if old[key] != value}


def refused_edit_key(repo: str, number: int) -> str:
    return f"request-edit-refused:{repo.lower()}#{number}"


async def on_known_request(
    run: RequestRun,
    request: requests.Request,
    action: str,
    sender: str,
    edit: Mapping[str, Any] | None = None,
) -> None:
    """An ``issues`` event (``action``, by ``sender``) on the issue of ``request``; ``edit``
    is the title and body the event carried for an ``edited`` one."""
    if action == "edited":
        await on_edit(run, request, sender, edit)
    elif action in RESUBMITTED:
        await run.drive(request, machine.Resubmitted(action))


async def _refuse_edit(run: RequestRun, editor: Actor, reason: str) -> None:
    """Audit the refused edit; say so on the issue the first time only."""
    await run.ctx.audit(editor.login or "unknown", "request.edit_refused",
                        {"issue": run.number, "reason": reason}, request=run.number)  # fmt: skip
    await run.comment_once(
        refused_edit_key(run.repo, run.number), "edit-refusal",
        f"selfheal ignores this edit: {reason}. A writer can edit the request to change it.",
    )  # fmt: skip


async def on_edit(
    run: RequestRun, request: requests.Request, sender: str, edit: Mapping[str, Any] | None
) -> None:
    """``sender`` edited the request's issue. The text read is the one the edit left (from the
    event), not the issue as it is now: a later edit by someone else cannot ride on this
    one's check."""
    # No sender: nobody can be checked, so nobody's edit counts.
    editor = await run.actor(sender) if sender else Actor("", "none")
    decision = decide_edit(editor)
    if not decision.allowed:
        await _refuse_edit(run, editor, decision.reason)
        return
    author = await run.actor(str(run.issue["user"]["login"]))
    try:
        # The App's block counts in the App's issue, as at intake: a writer (checked above)
        # who edits it may change the plan, as they could file a request of their own; the
        # requester the block names is never taken from an edit.
        text = edit if edit is not None else run.issue
        parsed = parse_request(str(text.get("title") or ""), text.get("body"), run.labels,
                               app_authored=author.is_app)  # fmt: skip
    except IntakeError as exc:
        body = ("selfheal cannot read the edited request, so the request stays as it was:\n\n"
                + quote_untrusted(str(exc), "the check"))  # fmt: skip
        await run.comment(body)
        await run.ctx.audit(editor.login, "request.edit_unreadable", {"issue": run.number},
                            request=run.number)  # fmt: skip
        return
    from selfheal.changes.service import accepted_text

    changes = plan_changes(request, parsed)
    fresh = await run.ctx.ledger.aread(lambda c: requests.get(c, request.id)) or request
    data = {**fresh.data, **accepted_text(parsed)}
    updated = await run.ctx.ledger.awrite(
        lambda c: requests.update(c, request.id, data=data, **changes)
    )
    await run.ctx.audit(editor.login, "request.edited", {"issue": run.number, "request":
                        request.id, "changed": sorted(changes)}, request=run.number)  # fmt: skip
    await run.drive(updated, machine.Edited(plan_changed=bool(changes)))
