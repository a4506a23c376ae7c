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

from selfheal.changes import coding, events, service
from selfheal.changes.commands import COMMANDS
from selfheal.changes.intake import IntakeError, parse_request, render_machine_block
from selfheal.coder.interface import BackendFactory, backend_registry
from selfheal.runtime.context import Feature


def feature(backends: Mapping[str, BackendFactory] | None = None) -> Feature:
    """The request lifecycle; ``backends`` are the coder backends by name (default: the
    coder registry's)."""
    kinds = {
        service.JOB_KIND: service.run_request,
        coding.CODE_JOB: coding.code_job(backends or backend_registry()),
        coding.GATE_JOB: coding.run_gate_result,
    }
    return Feature("changes", router=events.router, job_kinds=kinds)


on_gate_complete = coding.on_gate_complete

__all__ = [
    "COMMANDS",
    "IntakeError",
    "feature",
    "on_gate_complete",
    "parse_request",
    "render_machine_block",
]
