"""SelfHealingMonitor: failures in, fix requests out, and fix success measured.

The pure core, tested with plain values and free of I/O (the import contracts check it):

- ``events``: the failure event, parsed from a mapping with field-level errors, and its
  JSON Schema;
- ``fingerprint``: message normalisation, in-app frames, identity and signature, the
  versioned fingerprint;
- ``rules``: occurrences within the window, the threshold, the cooldown, the hourly cap, the
  fix attempts, regressions;
- ``issue``: the request issue's title, body, marker and occurrences table;
- ``render``: the monitor's section of the dashboard issue (counts, top failing fingerprints);
- ``ci``: which CI runs count, JUnit XML and check-run annotations as failure events;
- ``standalone``: without the App, the runs kept in a hidden marker of the issue itself.

The edges: ``ingest`` (:class:`Ingest`, the sink ``POST /api/monitor/events`` hands events
to, and every source's entry point), ``filing`` (the ``monitor_sync`` job: file, update,
reopen, note, revert requests), ``webhooks`` (CI runs, pushes, installations, the monitor's
issues), ``probes`` (the ``monitor_tick`` scheduler and endpoint probes), ``security`` (the
``monitor_scan`` job) and ``web`` (``GET /api/monitor/stats`` and the dashboard section).
See docs/monitor.md.
"""

from selfheal.monitor import filing, probes, security, web, webhooks
from selfheal.monitor.events import (
    EVENT_SCHEMA,
    EVENTS_SCHEMA,
    EventError,
    FailureEvent,
    parse_event,
    parse_events,
)
from selfheal.monitor.filing import limits_from
from selfheal.monitor.fingerprint import Fingerprint, fingerprint, normalise_message
from selfheal.monitor.ingest import SYNC_JOB, Ingest
from selfheal.monitor.rules import Limits
from selfheal.monitor.web import dashboard_section, event_sink
from selfheal.runtime.context import Feature


def feature() -> Feature:
    """The monitor: CI webhooks, its sync and CI jobs, and the stats endpoint."""
    kinds = {
        SYNC_JOB: filing.run_sync,
        webhooks.CI_JOB: webhooks.run_ci,
        probes.TICK_JOB: probes.run_tick,
        security.SCAN_JOB: security.run_scan,
    }
    return Feature("monitor", router=webhooks.router, job_kinds=kinds,
                   dead_letter={SYNC_JOB: filing.release}, web=web.setup)  # fmt: skip


__all__ = [
    "EVENTS_SCHEMA",
    "EVENT_SCHEMA",
    "EventError",
    "FailureEvent",
    "Fingerprint",
    "Ingest",
    "Limits",
    "dashboard_section",
    "event_sink",
    "feature",
    "fingerprint",
    "limits_from",
    "normalise_message",
    "parse_event",
    "parse_events",
]
