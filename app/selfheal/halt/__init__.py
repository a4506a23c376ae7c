"""The lock label (the seed's emergency halt): its state, its events and the operator's
``selfheal halt`` / ``selfheal resume``.

Other packages use what this module exports; the modules inside are the package's own.
"""

from __future__ import annotations

from collections.abc import Sequence

from selfheal.halt.events import HaltListener, make_router
from selfheal.halt.ops import halt_repo, installation_repos, resume_repo
from selfheal.halt.state import halt_label, halted_by, is_halted, known_halting
from selfheal.runtime.context import Feature

__all__ = [
    "HaltListener",
    "feature",
    "halt_label",
    "halt_repo",
    "halted_by",
    "installation_repos",
    "is_halted",
    "known_halting",
    "resume_repo",
]


def feature(on_change: Sequence[HaltListener] = ()) -> Feature:
    """The halt feature; ``on_change`` are told when a repository's halt starts or ends."""
    return Feature("halt", router=make_router(on_change))
