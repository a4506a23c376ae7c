"""What a job handler gets: the job's context, the feature interface and the caches.

A *feature package* (gate, halt, install, ...) hands the registry one :class:`Feature`: its
gidgethub router, the job kinds it owns and their dead-letter hooks. The registry composes
them into one :class:`Wiring`, which the runtime runs; nothing registers itself by being
imported.

A job handler is ``async def handler(job, ctx)``; a webhook handler, registered on a
feature's router, is ``async def handler(event, ctx)``. Both get a :class:`JobContext`.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gidgethub
from aiohttp import web
from gidgethub import routing
from gidgethub.sansio import Event

from selfheal.config.metrics import AppMetrics
from selfheal.github.protocol import GitHubAPI
from selfheal.ledger import Ledger, jobs
from selfheal.ledger import audit as audit_log
from selfheal.model.repo_config import TextCache

if TYPE_CHECKING:
    from selfheal.runtime.worker import Worker

log = logging.getLogger("selfheal.runtime.worker")

GitHubFactory = Callable[[int | None], Awaitable[Any]]
JobHandler = Callable[[jobs.Job, "JobContext"], Awaitable[None]]
Dispatch = Callable[[Event, "JobContext"], Awaitable[None]]
WebHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]

BOT_FALLBACK = "selfheal[bot]"
# GET /app needs the App's JWT: a token client (a CI GITHUB_TOKEN, a user's token) is told
# 401 or 403 there, which is how token mode shows. Anything else (5xx, rate limits, a
# connection error) is a real failure and is raised, never taken for token mode.
TOKEN_MODE_STATUSES = frozenset({401, 403})
CACHE_MAX = 256


class JobCancelled(Exception):
    """Raised by ``ctx.raise_if_cancelled()`` when the job's repository was halted."""


class PermanentError(Exception):
    """A failure that retrying cannot fix: the job is dead-lettered at once."""


# What a handler raises when a payload lacks the fields its event promises or holds the wrong
# types. Handlers read payloads directly (as bedevere's do); the worker turns these into a
# permanent failure instead of retrying the same bad payload.
MALFORMED_PAYLOAD = (KeyError, TypeError, AttributeError, ValueError)


@dataclass(frozen=True)
class WebRoute:
    """An HTTP route a feature adds to the server (``GET /api/monitor/stats``); the handler
    reads the ledger and the worker through the server's app keys."""

    method: str
    path: str
    handler: WebHandler


@dataclass(frozen=True)
class Feature:
    """One feature package's contribution to the runtime."""

    name: str
    router: routing.Router = field(default_factory=routing.Router)
    job_kinds: Mapping[str, JobHandler] = field(default_factory=dict)
    dead_letter: Mapping[str, jobs.DeadLetterHook] = field(default_factory=dict)
    web_routes: tuple[WebRoute, ...] = ()


@dataclass(frozen=True)
class Wiring:
    """What the worker runs: the webhook dispatch hooks, the job kinds and the dead-letter
    hooks (the registry builds it from the features)."""

    dispatchers: tuple[Dispatch, ...] = ()
    job_kinds: Mapping[str, JobHandler] = field(default_factory=dict)
    dead_letter: Mapping[str, jobs.DeadLetterHook] = field(default_factory=dict)
    web_routes: tuple[WebRoute, ...] = ()


class BoundedCache(OrderedDict[Any, Any]):
    """A small LRU: the oldest entry goes once ``maxsize`` is reached."""

    def __init__(self, maxsize: int = CACHE_MAX) -> None:
        super().__init__()
        self.maxsize = maxsize

    def remember(self, key: Any, make: Callable[[], Any]) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = make()
        self[key] = value
        while len(self) > self.maxsize:
            self.popitem(last=False)
        return value


@dataclass
class WorkerCaches:
    """The caches one worker owns (a new worker, as in a fresh process, starts empty):
    repository config text by commit, effective policies by base commit, the bot's login."""

    config_text: TextCache = field(default_factory=TextCache)
    policies: BoundedCache = field(default_factory=BoundedCache)
    bot_login: str | None = None


async def fetch_bot_login(gh: GitHubAPI) -> str:
    """``<app slug>[bot]`` from ``GET /app``; the conventional name in token mode only."""
    try:
        app = await gh.call("apps.get_authenticated")
    except gidgethub.BadRequest as exc:
        if exc.status_code in TOKEN_MODE_STATUSES:
            return BOT_FALLBACK
        raise
    return f"{app['slug']}[bot]"


@dataclass
class JobContext:
    """What a job handler gets besides the job itself."""

    job: jobs.Job
    ledger: Ledger
    worker: Worker
    installation_id: int | None = None
    repository: str | None = None
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    cancel_reason: str = ""
    log: logging.LoggerAdapter[logging.Logger] = field(
        default_factory=lambda: logging.LoggerAdapter(log, {})
    )
    on_success: list[Callable[[sqlite3.Connection], object]] = field(default_factory=list)

    def when_done(self, write: Callable[[sqlite3.Connection], object]) -> None:
        """Run ``write`` in the same transaction that marks the job done (and only then)."""
        self.on_success.append(write)

    async def github(self, installation_id: int | None = None) -> GitHubAPI:
        """A GitHub client for the installation (default: the event's), or the App itself."""
        inst = installation_id if installation_id is not None else self.installation_id
        client: GitHubAPI = await self.worker.github_factory(inst)
        return client

    async def bot_login(self) -> str:
        """The App's bot login, asked once per worker."""
        caches = self.worker.caches
        if caches.bot_login is None:
            caches.bot_login = await fetch_bot_login(await self.github(None))
        return caches.bot_login

    @property
    def caches(self) -> WorkerCaches:
        return self.worker.caches

    @property
    def data_dir(self) -> Path:
        """Where jobs keep local state such as cache clones (see WorkerConfig.data_dir)."""
        return self.worker.data_dir

    @property
    def semgrep_engine(self) -> str | None:
        """The operator's semgrep engine setting, for the scans jobs run."""
        return self.worker.config.semgrep_engine

    def raise_if_cancelled(self) -> None:
        if self.cancelled.is_set():
            raise JobCancelled(self.cancel_reason or "cancelled")

    @property
    def metrics(self) -> AppMetrics:
        return self.worker.metrics

    async def enqueue(
        self,
        kind: str,
        payload: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
        repository: str | None = None,
    ) -> int:
        repo = repository if repository is not None else self.repository
        job_id, _ = await self.ledger.awrite(
            lambda c: jobs.enqueue(
                c, kind, payload, key=key, repository=repo,
                max_attempts=self.worker.config.max_attempts,
            )
        )  # fmt: skip
        self.worker.notify()
        return job_id

    async def audit(
        self,
        actor: str,
        action: str,
        details: Mapping[str, Any] | None = None,
        *,
        request: int | None = None,
    ) -> audit_log.AuditEntry:
        """Append to the audit log for this job's repository (``request``: issue number)."""
        return await self.ledger.awrite(
            lambda c: audit_log.append(c, actor, action, repository=self.repository,
                                       request=request, details=details)
        )  # fmt: skip
