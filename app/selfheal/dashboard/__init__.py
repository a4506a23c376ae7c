"""The dashboard issue: one pinned issue per repository that shows the halt (with a checkbox
to halt or resume), the requests by state, those waiting for an owner (with approve boxes),
the bot's open PRs, this month's spend, configuration problems, and any sections the registry
adds (the monitor's). See docs/dashboard.md."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from selfheal.commands import CommandSpec
from selfheal.dashboard import events
from selfheal.dashboard.job import EDIT_JOB, REFRESH_JOB, Section, edit_job, refresh_job
from selfheal.runtime.context import Feature

__all__ = ["Section", "feature"]


def feature(commands: Iterable[CommandSpec] = (), sections: Sequence[Section] = ()) -> Feature:
    """The dashboard; its approve boxes run the ``approve`` command among ``commands``."""
    approve = next((spec for spec in commands if spec.name == "approve"), None)
    kinds = {REFRESH_JOB: refresh_job(sections), EDIT_JOB: edit_job(approve)}
    return Feature("dashboard", router=events.router, job_kinds=kinds)
