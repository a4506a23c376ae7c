"""The selfheal SDK: ``SelfHealClient`` for orchestrators and ``BaseAgent`` for agents.

It talks to a selfheal server over its REST API and imports nothing from the server: only
aiohttp and the standard library (an import contract checks it)::

    async with SelfHealClient("https://selfheal.example", token) as client:
        created = await client.request_code_fix("Fix the pool leak", ["app/db.py"], 8)
        status = await client.wait(created["change_id"], until={"pr_ready"})
"""

from selfheal.sdk.agent import BaseAgent
from selfheal.sdk.client import SelfHealClient
from selfheal.sdk.errors import (
    AuthError,
    HaltedError,
    NotFoundError,
    RateLimitedError,
    SelfHealError,
    ServerError,
    ValidationError,
)
from selfheal.sdk.types import (
    FINAL_STATES,
    Created,
    Halted,
    History,
    Moved,
    Status,
    Summary,
    TimelineEntry,
)

__all__ = [
    "FINAL_STATES",
    "AuthError",
    "BaseAgent",
    "Created",
    "Halted",
    "HaltedError",
    "History",
    "Moved",
    "NotFoundError",
    "RateLimitedError",
    "SelfHealClient",
    "SelfHealError",
    "ServerError",
    "Status",
    "Summary",
    "TimelineEntry",
    "ValidationError",
]
