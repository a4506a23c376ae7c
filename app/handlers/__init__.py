"""Webhook event handlers, one gidgethub Router per concern, composed here.

The worker's ``webhook`` job calls :func:`dispatch` (found by ``app.worker``) with every
delivery; each router passes the event to its handlers as ``handler(event, ctx)``.
Importing this package also registers the ``gate`` and ``gate_abandon`` job kinds.
"""

from __future__ import annotations

from gidgethub import routing
from gidgethub.sansio import Event

from app.handlers import approve, gate, halt, installation
from app.handlers import gate_abandon as _gate_abandon  # noqa: F401 - registers its job kind
from app.worker import JobContext

router = routing.Router(gate.router, approve.router, halt.router, installation.router)


async def dispatch(event: Event, ctx: JobContext) -> None:
    """Hand one event to every registered handler."""
    await router.dispatch(event, ctx)
