"""CodeModificationService: the change request lifecycle.

The pure core, tested with plain values and free of I/O (the import contracts check it):

- ``machine``: the request's state machine, a transition table with guards;
- ``intake``: the request read from its issue (the issue form, free text, or the App's own
  machine block), the hygiene that runs before anything reads the text, and quoting text as
  untrusted data;
- ``authorisation``: who may file, label and edit a request;
- ``limits``: per-repository limits, the queue's order and the budget check.

The edges: ``events`` queues a ``request`` job for an ``issues`` event on a request issue;
``service`` runs it (who asked, intake, the ledger record, and the state machine's actions up
to the pre-review). Coding, the branch, the draft PR and the gate are the next stage.
"""

from collections.abc import Mapping

from gidgethub import routing

from selfheal.changes import actions, coding, events, merging, service
from selfheal.changes.commands import COMMANDS
from selfheal.changes.intake import IntakeError, parse_request, render_machine_block
from selfheal.coder.backends import backend_registry
from selfheal.coder.interface import BackendFactory
from selfheal.runtime.context import Feature

# The lifecycle's own backend: coding on the repository's Actions runners (docs/actions.md).
BUILTIN: Mapping[str, BackendFactory] = {"actions": actions.ActionsExecutor()}


def feature(backends: Mapping[str, BackendFactory] | None = None) -> Feature:
    """The request lifecycle; ``backends`` are the coder backends by name (default: the
    coder registry's, and the ``actions`` executor)."""
    kinds = {
        service.JOB_KIND: service.run_request,
        coding.CODE_JOB: coding.code_job(backends or backend_registry(BUILTIN)),
        coding.GATE_JOB: coding.run_gate_result,
        merging.MERGE_JOB: merging.run_merge,
    }
    router = routing.Router(events.router, actions.router)
    return Feature("changes", router=router, job_kinds=kinds)


on_gate_complete = coding.on_gate_complete
on_halt_change = merging.on_halt_change

__all__ = [
    "COMMANDS",
    "IntakeError",
    "feature",
    "on_gate_complete",
    "on_halt_change",
    "parse_request",
    "render_machine_block",
]
