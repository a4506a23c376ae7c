"""The security gate (the seed's SecurityCodeReviewer at the PR): the check run
``selfheal/security-gate`` on every pull request head.

- :mod:`~selfheal.gate.events`: what queues a gate job, and the re-runs on a halt change;
- :mod:`~selfheal.gate.job`: the ``gate`` job (check run, fetch, review, completion);
- :mod:`~selfheal.gate.approve`: the check run's Approve button;
- :mod:`~selfheal.gate.abandon`: closing the check of a gate job that died;
- :mod:`~selfheal.gate.output` and :mod:`~selfheal.model.approval`: the pure parts (check-run
  output, who may approve); :mod:`~selfheal.gate.ruleset`: which rules a change needs.

Other packages use what this module exports.
"""

from __future__ import annotations

from collections.abc import Sequence

from gidgethub import routing

from selfheal.gate import abandon, approve, events, job
from selfheal.gate.events import enqueue_gate, rerun_bot_gates
from selfheal.gate.job import GateListener, GateOutcome
from selfheal.runtime.context import Feature

__all__ = ["GateListener", "GateOutcome", "enqueue_gate", "feature", "rerun_bot_gates"]


def feature(on_complete: Sequence[GateListener] = ()) -> Feature:
    """The gate feature; ``on_complete`` are told every completed run's outcome."""
    return Feature(
        "gate",
        router=routing.Router(events.router, approve.make_router(on_complete)),
        job_kinds={
            job.JOB_KIND: job.gate_job(on_complete),
            abandon.ABANDON_KIND: abandon.run_gate_abandon,
        },
        dead_letter={job.JOB_KIND: abandon.enqueue_abandon},
    )
