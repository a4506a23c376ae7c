"""The coding API (the seed's ``/api/code/*`` and ``/code/*``) and the failure-event intake.

The feature serves its routes through the server's application (``Feature.web``); nothing
else. Its parts:

- ``schemas``: the bodies as JSON Schema, the one source for validation and the document;
- ``openapi``: the table of operations and the OpenAPI 3.1 document (pure);
- ``tokens``: bearer tokens with scopes and repositories, stored hashed;
- ``limits``: per-token rate and concurrency limits (pure);
- ``filing``: a request as an issue filed by the App, read back with the intake first;
- ``store``: the API's ledger reads and writes (filed requests, history, status);
- ``sink``: where accepted failure events go (:class:`EventSink`; the default stores them);
- ``web``: authentication, limits, bodies, auditing and error answers;
- ``handlers``: the operations;
- ``acting``: an operation run for another front end (the web dashboard's buttons), through
  the same scope check, limits, handler and audit as the API's route.

Other packages use what this module exports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from selfheal.api.acting import Outcome, perform
from selfheal.api.errors import ApiError
from selfheal.api.handlers import HANDLERS, openapi_handler, web_base
from selfheal.api.limits import Limiter
from selfheal.api.openapi import OPERATIONS, Operation, document
from selfheal.api.schemas import STATES as REQUEST_STATES
from selfheal.api.sink import EventSink, LedgerSink, SinkFactory, ledger_sink, stored_events
from selfheal.api.store import HistoryQuery
from selfheal.api.store import details as request_details
from selfheal.api.store import history as request_history
from selfheal.api.store import stats as request_stats
from selfheal.api.tokens import Token, TokenError
from selfheal.api.tokens import get as token_named
from selfheal.api.web import API_STATE, ApiState, Call, Handler, answer, mount, token_for
from selfheal.runtime.context import Feature, WebSetup
from selfheal.runtime.server import SETTINGS

__all__ = [
    "API_STATE",
    "OPERATIONS",
    "REQUEST_STATES",
    "ApiError",
    "Call",
    "EventSink",
    "Handler",
    "HistoryQuery",
    "LedgerSink",
    "Operation",
    "Outcome",
    "Route",
    "SinkFactory",
    "Token",
    "TokenError",
    "answer",
    "document",
    "feature",
    "perform",
    "request_details",
    "request_history",
    "request_stats",
    "stored_events",
    "token_for",
    "token_named",
    "web_base",
]


@dataclass(frozen=True)
class Route:
    """Another feature's route under the API's tokens, limits, audit and document (the
    monitor's ``GET /api/monitor/stats``): its operation, its handler, and the schemas its
    operation names that the API does not define."""

    operation: Operation
    handler: Handler
    schemas: Mapping[str, dict[str, Any]] = field(default_factory=dict)


def _setup(sink: SinkFactory | None, extra: Sequence[Route]) -> WebSetup:
    operations = (*OPERATIONS, *(r.operation for r in extra))
    handlers = {**HANDLERS, **{r.operation.id: r.handler for r in extra}}
    if len(handlers) != len(operations):
        raise ValueError("two API operations share an id")
    schemas = {name: schema for r in extra for name, schema in r.schemas.items()}

    def setup(app: web.Application) -> None:
        settings = app[SETTINGS]
        limiter = Limiter(settings.api_rate, settings.api_burst, settings.api_concurrency)
        make = sink or ledger_sink
        app[API_STATE] = ApiState(limiter, make(app))
        mount(app, handlers, operations)
        app.router.add_get("/api/openapi.json", openapi_handler(operations, schemas))

    return setup


def feature(sink: SinkFactory | None = None, extra: Sequence[Route] = ()) -> Feature:
    """The API; ``sink`` builds the failure-event sink from the ledger (default: the ledger's
    ``monitor_events`` table, :class:`LedgerSink`); ``extra`` are other features' routes,
    served with the API's authentication, limits, auditing and errors, and published in its
    document."""
    return Feature("api", web=_setup(sink, extra))
