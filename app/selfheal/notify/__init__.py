"""Signed notifications to the operator's URLs (the seed's n8n and GuardianAgent hooks).

A service below the features: the request lifecycle, the halt, the gate and the monitor call
:func:`emit`; this package owns the outbox and its ``notify`` job. See docs/notifications.md.
"""

from selfheal.model.notifications import EVENTS, Notification, Target, TargetError, parse_targets
from selfheal.notify.outbox import NOTIFY_JOB, deliver, emit
from selfheal.notify.outbox import dead_letter as _dead_letter
from selfheal.runtime.context import Feature


def feature() -> Feature:
    """The ``notify`` job kind and its dead-letter hook."""
    return Feature("notify", job_kinds={NOTIFY_JOB: deliver},
                   dead_letter={NOTIFY_JOB: _dead_letter})  # fmt: skip


__all__ = ["EVENTS", "Notification", "Target", "TargetError", "emit", "feature", "parse_targets"]
