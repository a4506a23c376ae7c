"""``SelfHealClient``: the orchestrator's methods over the selfheal API (async, aiohttp).

Every call sends ``Authorization: Bearer <token>``. Calls that are safe to repeat (reads,
halt and resume) are retried with exponential backoff on 5xx and connection errors; the
others (a request, which could file a second issue; approve, cancel, event reports) are not.
Any call is retried after a 429, which the server answers before doing anything, once its
``Retry-After`` has passed.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Collection, Mapping, Sequence
from types import TracebackType
from typing import Any, cast
from urllib.parse import quote

import aiohttp

from selfheal.sdk.errors import RateLimitedError, SelfHealError, ServerError, error_for
from selfheal.sdk.types import FINAL_STATES, Created, Halted, History, Moved, Recorded, Status

RETRIES = 4
BACKOFF = 0.25
MAX_BACKOFF = 8.0
TIMEOUT = 30.0


class SelfHealClient:
    """``async with SelfHealClient(base_url, token) as client: ...`` (or call ``close()``).

    ``repository`` picks the repository for requests when the token covers several."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        repository: str | None = None,
        retries: int = RETRIES,
        backoff: float = BACKOFF,
        timeout: float = TIMEOUT,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.repository = repository
        self.retries = retries
        self.backoff = backoff
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._own_session = session is None

    def __repr__(self) -> str:  # never the token
        return f"SelfHealClient({self.base_url!r})"

    async def __aenter__(self) -> SelfHealClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None and self._own_session:
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._own_session = True
        return self._session

    # ---- transport ---------------------------------------------------------------------

    async def _once(
        self, method: str, path: str, body: Any, params: Mapping[str, str] | None
    ) -> Any:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        data = None if body is None else json.dumps(body)
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            async with self._http().request(
                method, self.base_url + path, data=data, headers=headers, params=params
            ) as resp:
                text = await resp.text()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ServerError(0, f"no answer from {self.base_url}: {type(exc).__name__}") from exc
        try:
            parsed = json.loads(text) if text else {}
        except ValueError:
            parsed = {"message": text[:200]}
        if status >= 400:
            raise error_for(status, parsed if isinstance(parsed, dict) else {})
        return parsed

    def _delay(self, attempt: int, error: SelfHealError) -> float:
        if isinstance(error, RateLimitedError):
            return error.retry_after
        step: float = min(MAX_BACKOFF, self.backoff * 2**attempt)
        return step * (0.5 + random.random() / 2)  # noqa: S311 (jitter, not a secret)

    async def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, str] | None = None,
        idempotent: bool,
    ) -> Any:
        attempt = 0
        while True:
            try:
                return await self._once(method, path, body, params)
            except (ServerError, RateLimitedError) as exc:
                # a 429 did nothing on the server, so any call may repeat after it
                repeatable = idempotent or isinstance(exc, RateLimitedError)
                if not repeatable or attempt >= self.retries:
                    raise
                await asyncio.sleep(self._delay(attempt, exc))
                attempt += 1

    def _with_repo(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.repository is not None and "repository" not in body:
            body["repository"] = self.repository
        return body

    # ---- the orchestrator's methods ------------------------------------------------------

    async def request_change(
        self,
        description: str,
        *,
        change_type: str = "fix-bug",
        target_files: Sequence[str] = (),
        priority: int = 5,
        context: Mapping[str, Any] | None = None,
        agent_id: str | None = None,
        requester_id: str | None = None,
    ) -> Created:
        """``POST /api/code/request``: the request becomes an issue filed by the App."""
        body: dict[str, Any] = {
            "description": description,
            "change_type": change_type,
            "target_files": list(target_files),
            "priority": priority,
        }
        if context:
            body["context"] = dict(context)
        if agent_id is not None:
            body["agent_id"] = agent_id
        if requester_id is not None:
            body["requester_id"] = requester_id
        created = await self._call("POST", "/api/code/request", self._with_repo(body),
                                   idempotent=False)  # fmt: skip
        return cast(Created, created)

    async def request_code_fix(
        self,
        description: str,
        target_files: Sequence[str] = (),
        priority: int = 5,
        context: Mapping[str, Any] | None = None,
    ) -> Created:
        """The seed's ``request_code_fix`` (``POST /code/fix``)."""
        body: dict[str, Any] = {"description": description, "target_files": list(target_files),
                                "priority": priority}  # fmt: skip
        if context:
            body["context"] = dict(context)
        return cast(Created, await self._call("POST", "/code/fix", self._with_repo(body),
                                              idempotent=False))  # fmt: skip

    async def tell_agent_to_code(
        self,
        agent_id: str,
        coding_task: str,
        target_files: Sequence[str] = (),
        priority: int = 5,
    ) -> Created:
        """The seed's ``tell_agent_to_code`` (``POST /code/tell-agent``): the named coding
        agent (one of the operator's) does the work."""
        body: dict[str, Any] = {
            "agent_id": agent_id,
            "coding_task": coding_task,
            "target_files": list(target_files),
            "priority": priority,
        }
        return cast(Created, await self._call("POST", "/code/tell-agent", self._with_repo(body),
                                              idempotent=False))  # fmt: skip

    async def get_code_change_status(self, change_id: str) -> Status:
        """The seed's ``get_code_change_status``: state, cost, budget, URLs, gate, timeline."""
        path = f"/api/code/status/{quote(change_id, safe='')}"
        return cast(Status, await self._call("GET", path, idempotent=True))

    async def halt_all_code_changes(self, reason: str | None = None) -> Halted:
        """The seed's ``halt_all_code_changes``: halts every repository the token covers."""
        body = {"reason": reason} if reason else {}
        return cast(Halted, await self._call("POST", "/code/halt", body, idempotent=True))

    async def resume_code_changes(self) -> Halted:
        return cast(Halted, await self._call("POST", "/api/code/resume", {}, idempotent=True))

    async def approve(self, change_id: str) -> Moved:
        path = f"/api/code/approve/{quote(change_id, safe='')}"
        return cast(Moved, await self._call("POST", path, {}, idempotent=False))

    async def cancel(self, change_id: str) -> Moved:
        path = f"/api/code/cancel/{quote(change_id, safe='')}"
        return cast(Moved, await self._call("POST", path, {}, idempotent=False))

    async def history(
        self,
        *,
        repository: str | None = None,
        requester: str | None = None,
        agent: str | None = None,
        state: str | None = None,
        since: float | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> History:
        """``GET /api/code/history``: how an agent remembers its own requests."""
        given = {"repository": repository, "requester": requester, "agent": agent,
                 "state": state, "since": since, "limit": limit, "offset": offset}  # fmt: skip
        params = {k: str(v) for k, v in given.items() if v is not None}
        return cast(History, await self._call("GET", "/api/code/history", params=params,
                                              idempotent=True))  # fmt: skip

    async def wait(
        self,
        change_id: str,
        until: Collection[str] = FINAL_STATES,
        *,
        timeout: float = 600.0,
        interval: float = 1.0,
    ) -> Status:
        """Poll the status until its state is one of ``until``; raises TimeoutError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            status = await self.get_code_change_status(change_id)
            if status["state"] in until:
                return status
            if loop.time() >= deadline:
                raise TimeoutError(f"{change_id} is still {status['state']} after {timeout}s")
            await asyncio.sleep(min(interval, max(0.0, deadline - loop.time())))

    async def report_events(self, events: Sequence[Mapping[str, Any]]) -> int:
        """``POST /api/monitor/events``; returns how many were recorded. An event without a
        ``repository`` is about the client's repository, when it has one."""
        default = {"repository": self.repository} if self.repository else {}
        body = [{**default, **dict(e)} for e in events]
        found = await self._call("POST", "/api/monitor/events", body, idempotent=False)
        return int(cast(Recorded, found)["recorded"])

    async def scan(
        self, file_paths: Sequence[str], *, repository: str | None = None, ref: str | None = None
    ) -> dict[str, Any]:
        """``POST /api/code/security/scan``: the scanner's JSON report for these files (or
        directories) of the repository, at ``ref`` (default: its default branch)."""
        body: dict[str, Any] = {"file_paths": list(file_paths)}
        if repository is not None:
            body["repository"] = repository
        if ref is not None:
            body["ref"] = ref
        found = await self._call("POST", "/api/code/security/scan", self._with_repo(body),
                                 idempotent=True)  # fmt: skip
        return cast(dict[str, Any], found)

    async def health(self) -> dict[str, Any]:
        return cast(dict[str, Any], await self._call("GET", "/api/code/health", idempotent=True))
