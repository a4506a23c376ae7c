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
- ``handlers``: the operations.

Other packages use what this module exports.
"""

from __future__ import annotations

from aiohttp import web

from selfheal.api.handlers import HANDLERS, openapi_document, web_base
from selfheal.api.limits import Limiter
from selfheal.api.openapi import OPERATIONS, document
from selfheal.api.sink import EventSink, LedgerSink, SinkFactory, stored_events
from selfheal.api.tokens import Token, TokenError
from selfheal.api.web import API_STATE, ApiState, mount
from selfheal.runtime.context import Feature, WebSetup
from selfheal.runtime.server import LEDGER, SETTINGS

__all__ = [
    "OPERATIONS",
    "EventSink",
    "LedgerSink",
    "SinkFactory",
    "Token",
    "TokenError",
    "document",
    "feature",
    "stored_events",
    "web_base",
]


def _setup(sink: SinkFactory | None) -> WebSetup:
    def setup(app: web.Application) -> None:
        settings = app[SETTINGS]
        limiter = Limiter(settings.api_rate, settings.api_burst, settings.api_concurrency)
        make = sink or LedgerSink
        app[API_STATE] = ApiState(limiter, make(app[LEDGER]))
        mount(app, HANDLERS, OPERATIONS)
        app.router.add_get("/api/openapi.json", openapi_document)

    return setup


def feature(sink: SinkFactory | None = None) -> Feature:
    """The API; ``sink`` builds the failure-event sink from the ledger (default: the ledger's
    ``monitor_events`` table, :class:`LedgerSink`)."""
    return Feature("api", web=_setup(sink))
