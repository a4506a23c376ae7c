"""The web dashboard at ``/dashboard``: server-rendered pages for people, served by
``selfheal serve`` beside the API (docs/webui.md).

People log in with an API token (``selfheal token create``); the session lives in the
server's memory and its cookie names only a random id. The pages show the repositories the
token covers, their requests, the monitor's fingerprints, the notifications and the audit
log; the halt, resume and approve buttons run the API's own operations
(:func:`selfheal.api.perform`). Its parts:

- ``render``: the pages as HTML, pure functions that escape everything they are given;
- ``sessions``: the sessions and their CSRF tokens;
- ``pages``: the routes, the ledger reads and the buttons.

Other packages use what this module exports.
"""

from __future__ import annotations

from aiohttp import web

from selfheal.api import API_STATE
from selfheal.runtime.context import Feature
from selfheal.webui.pages import add_routes

__all__ = ["feature"]


def _setup(app: web.Application) -> None:
    if API_STATE not in app:
        raise RuntimeError("the web dashboard needs the API feature composed before it")
    add_routes(app)


def feature() -> Feature:
    """The web dashboard; compose it after the API (its buttons run the API's operations)."""
    return Feature("webui", web=_setup)
