"""Webhook event handlers, one gidgethub Router per concern, composed here.

The worker's ``webhook`` job calls :func:`dispatch` (found by ``app.worker``) with every
delivery; each router passes the event to its handlers as ``handler(event, ctx)``.
Importing this package also registers the ``gate`` and ``gate_abandon`` job kinds.
"""

from __future__ import annotations

from gidgethub import routing
from gidgethub.sansio import Event

from selfheal.gate import abandon as _gate_abandon  # noqa: F401 - registers its job kind
from selfheal.gate import approve
from selfheal.gate import job as gate
from selfheal.halt import events as halt
from selfheal.install import events as installation
from selfheal.runtime.worker import JobContext

router = routing.Router(gate.router, approve.router, halt.router, installation.router)


async def dispatch(event: Event, ctx: JobContext) -> None:
    """Hand one event to every registered handler."""
    await router.dispatch(event, ctx)
