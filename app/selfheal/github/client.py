"""GitHubClient: every GitHub REST call the app makes, on gidgethub over one aiohttp session.

``await client.call("issues.add_labels", owner=..., repo=..., issue_number=7, data={...})``
expands the path template registered in :data:`app.github.calls.CALLS` (names not listed
there are refused), sends the remaining keyword arguments as query parameters, and returns
the decoded JSON. ``client.paginate(name, **params)`` follows ``Link`` headers.

Authentication and retries happen below gidgethub, per HTTP request (so every page of a
pagination and every GraphQL query too): the credential is asked for its current value, and a
401 makes it forget that value and the request go once more with a fresh one. Retries follow
:func:`app.github.ratelimit.decide`; when a retryable failure runs out of bounds the client
raises :class:`GitHubGaveUp` and calls the ``on_give_up`` hook. Other HTTP errors surface as
gidgethub's own exceptions (``gidgethub.BadRequest`` with ``status_code`` 404, ``InvalidField``
for 422, ...).

The ``aiohttp.ClientSession`` is created once per process by the app and passed in; the
client never opens or closes sessions itself.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import aiohttp
import gidgethub
import gidgethub.aiohttp
import gidgethub.sansio
import yarl

from selfheal.github.calls import DOWNLOADS, GRAPHQL, Call, CallError, expand, get_call
from selfheal.github.protocol import Credential
from selfheal.github.ratelimit import Decision, Failure, RetryPolicy, classify, decide

API_VERSION = "2022-11-28"
USER_AGENT = "selfheal"
# GitHub's recommended media type, plus plain JSON: the two are the same representation,
# and tools that only know the published description (Prism) negotiate on the second.
ACCEPT = "application/vnd.github+json, application/json"
# Responses that list items inside an object rather than as a bare JSON array.
ITEMS_KEYS: Mapping[str, str] = {
    "apps.list_repos_accessible_to_installation": "repositories",
    "checks.list_for_ref": "check_runs",
    "checks.list_suites_for_ref": "check_suites",
    "actions.list_jobs_for_workflow_run": "jobs",
    "actions.list_workflow_runs": "workflow_runs",
    "actions.list_workflow_run_artifacts": "artifacts",
    "search.issues_and_pull_requests": "items",
}


DEFAULT_API_URL = "https://api.github.com"


class GitHubGaveUp(gidgethub.GitHubException):
    """A retryable failure (rate limit, 5xx, connection) that exhausted the retry bounds."""

    def __init__(self, reason: str, call: str, status: int | None, attempts: int = 0) -> None:
        self.reason = reason
        self.call = call
        self.status = status
        self.attempts = attempts
        super().__init__(f"GitHub call {call} gave up: {reason}")


class DownloadTooLarge(gidgethub.GitHubException):
    """A download was larger than the caller allows."""

    def __init__(self, call: str, max_bytes: int) -> None:
        self.call = call
        self.max_bytes = max_bytes
        super().__init__(f"{call}: the download is larger than {max_bytes} bytes")


@dataclass
class StaticToken:
    """A fixed OAuth / personal / installation token. ``repr`` never shows it."""

    token: str

    async def get(self) -> tuple[str, str]:
        return ("token", self.token)

    def invalidate(self) -> None:
        return None

    def __repr__(self) -> str:
        return "StaticToken(token='***')"


@dataclass
class ClientHooks:
    """Callbacks for metrics and the ledger. ``on_call(name, status, remaining)`` runs after
    every HTTP attempt (status None for a connection error); ``on_give_up(error)`` runs once
    when the client gives up."""

    on_call: Callable[[str, int | None, int | None], None] | None = None
    on_give_up: Callable[[GitHubGaveUp], None] | None = None


def api_url_from_env(env: Mapping[str, str] | None = None) -> str:
    """``GITHUB_API_URL`` (GitHub Enterprise Server: ``https://HOST/api/v3``) or github.com."""
    value = (env if env is not None else os.environ).get("GITHUB_API_URL", "").strip()
    return value.rstrip("/") or DEFAULT_API_URL


def graphql_url(base_url: str) -> str:
    """GitHub's GraphQL endpoint next to a REST base URL (GHES: ``/api/v3`` -> ``/api/graphql``)."""
    base = base_url.rstrip("/")
    if base.endswith("/api/v3"):
        return base[: -len("v3")] + "graphql"
    return base + "/graphql"


def _remaining(headers: Mapping[str, str]) -> int | None:
    try:
        return int(headers["x-ratelimit-remaining"])
    except (KeyError, ValueError):
        return None


def _message(body: bytes) -> str:
    return body[:2000].decode("utf-8", "replace")


class _RetryingAPI(gidgethub.aiohttp.GitHubAPI):
    """gidgethub's aiohttp adapter with authentication and the retry loop around each HTTP
    attempt."""

    def __init__(self, client: GitHubClient, call: Call) -> None:
        super().__init__(client.session, USER_AGENT, base_url=client.base_url)
        self._client = client
        self._call = call
        # a download's redirect goes to signed storage: read it here, never follow it with
        # the token (see GitHubClient.locate)
        self._follow = call.name not in DOWNLOADS

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        client, policy = self._client, self._client.policy
        if not client.owns(url):
            # A Link header (or a bug) pointing elsewhere must never receive our token.
            raise CallError(f"refusing to send a GitHub request off {client.base_url}: {url}")
        headers = {**headers, **await client.authorization()}
        attempt, waited, reauthorized = 0, 0.0, False
        while True:
            attempt += 1
            status: int | None = None
            resp_headers: Mapping[str, str] = {}
            try:
                async with client.session.request(
                    method,
                    url,
                    headers=headers,
                    data=body,
                    timeout=aiohttp.ClientTimeout(total=policy.request_timeout),
                    allow_redirects=self._follow,
                ) as response:
                    status, resp_headers = response.status, response.headers
                    payload = await response.read()
            except aiohttp.ClientConnectorError:
                failure = Failure.CONNECT
            except (TimeoutError, aiohttp.ClientError):
                failure = Failure.CONNECTION
            else:
                failure = classify(status, resp_headers, _message(payload))
            client.notify_call(self._call.name, status, _remaining(resp_headers))
            if status is not None and status < 400:
                return status, resp_headers, payload
            if status == 401 and client.credential is not None and not reauthorized:
                # A cached token or JWT that GitHub no longer accepts (revoked, say): forget
                # it and send the request once more, as new, with a fresh one.
                client.credential.invalidate()
                headers.update(await client.authorization())
                attempt, waited, reauthorized = 0, 0.0, True
                continue
            decision: Decision = decide(
                policy,
                method=method,
                failure=failure,
                status=status,
                headers=resp_headers,
                attempt=attempt,
                waited=waited,
                now=time.time(),
            )
            if decision.retry:
                waited += decision.delay
                await client.sleep(decision.delay)
                continue
            if decision.give_up or status is None:
                error = GitHubGaveUp(
                    decision.reason or failure.value, self._call.name, status, attempt
                )
                client.notify_give_up(error)
                raise error
            return status, resp_headers, payload


class GitHubClient:
    """The app's GitHub REST client (see module docstring)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        credential: Credential | None = None,
        *,
        base_url: str | None = None,
        policy: RetryPolicy | None = None,
        hooks: ClientHooks | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.session = session
        self.credential = credential
        self.base_url = (base_url or api_url_from_env()).rstrip("/")
        self.policy = policy or RetryPolicy()
        self.hooks = hooks or ClientHooks()
        self.sleep = sleep

    @classmethod
    def for_token(
        cls,
        token: str,
        *,
        session: aiohttp.ClientSession,
        base_url: str | None = None,
        policy: RetryPolicy | None = None,
        hooks: ClientHooks | None = None,
    ) -> GitHubClient:
        """A client acting with a fixed token (a user's token, or a CI ``GITHUB_TOKEN``)."""
        return cls(session, StaticToken(token), base_url=base_url, policy=policy, hooks=hooks)

    def __repr__(self) -> str:
        return f"GitHubClient(base_url={self.base_url!r}, credential={self.credential!r})"

    def owns(self, url: str) -> bool:
        """Whether ``url`` is under this client's API base URL (same scheme, host and port,
        and the base path) or is its GraphQL endpoint: the only places its credentials go."""
        base, target = yarl.URL(self.base_url), yarl.URL(url)
        if target.origin() != base.origin():
            return False
        under_base = (target.path + "/").startswith(base.path.rstrip("/") + "/")
        return under_base or target.path == yarl.URL(graphql_url(self.base_url)).path

    def notify_call(self, name: str, status: int | None, remaining: int | None) -> None:
        if self.hooks.on_call is not None:
            self.hooks.on_call(name, status, remaining)

    def notify_give_up(self, error: GitHubGaveUp) -> None:
        if self.hooks.on_give_up is not None:
            self.hooks.on_give_up(error)

    async def authorization(self) -> dict[str, str]:
        """The ``Authorization`` header for the credential's current value (none without a
        credential), written as gidgethub writes it."""
        if self.credential is None:
            return {}
        kind, value = await self.credential.get()
        return {"authorization": f"bearer {value}" if kind == "jwt" else f"token {value}"}

    async def call(
        self, name: str, /, *, data: Any = None, accept: str | None = None, **params: Any
    ) -> Any:
        """Make the registered call ``name``. Path parameters fill the template; the other
        keyword arguments become query parameters. ``data`` is the JSON body."""
        call = get_call(name)
        if data is not None and not call.accepts_body:
            raise ValueError(f"{name} takes no request body")
        target = expand(call, params)
        api = _RetryingAPI(self, call)
        kwargs: dict[str, Any] = {
            "accept": accept or ACCEPT,
            "extra_headers": {"x-github-api-version": API_VERSION},
        }
        if name in DOWNLOADS:
            raise CallError(f"{name} answers with a redirect: use download() or locate()")
        if call.method == "GET":
            return await api.getitem(target, {}, **kwargs)
        body: Any = b"" if data is None else data
        if call.method == "POST":
            return await api.post(target, {}, data=body, **kwargs)
        if call.method == "PATCH":
            return await api.patch(target, {}, data=body, **kwargs)
        if call.method == "PUT":
            return await api.put(target, {}, data=body, **kwargs)
        await api.delete(target, {}, data=body, **kwargs)
        return None

    async def locate(self, name: str, /, **params: Any) -> str:
        """Where a download call (:data:`~selfheal.github.calls.DOWNLOADS`) redirects: a
        short-lived signed URL. The redirect is not followed, so the token stays here."""
        call = get_call(name)
        if name not in DOWNLOADS:
            raise CallError(f"{name} is not a download")
        api = _RetryingAPI(self, call)
        headers = {"accept": ACCEPT, "user-agent": USER_AGENT,
                   "x-github-api-version": API_VERSION}  # fmt: skip
        status, resp_headers, body = await api._request(
            "GET", self.base_url + expand(call, params), headers
        )
        location = resp_headers.get("Location", "")
        if status >= 400 or status not in (301, 302, 303, 307) or not location:
            gidgethub.sansio.decipher_response(status, resp_headers, body)
            raise gidgethub.GitHubBroken(HTTPStatus(status if status >= 300 else 502))
        target = yarl.URL(location)
        if target.scheme not in ("https", yarl.URL(self.base_url).scheme):
            raise CallError(f"{name} redirected to a {target.scheme or 'relative'} URL")
        return location

    async def download(self, name: str, /, *, max_bytes: int, **params: Any) -> bytes:
        """The body behind a download call: :meth:`locate`, then a plain GET of the signed URL
        with no ``Authorization`` header, refused past ``max_bytes``."""
        location = await self.locate(name, **params)
        timeout = aiohttp.ClientTimeout(total=self.policy.request_timeout)
        async with self.session.get(
            location, headers={"user-agent": USER_AGENT}, timeout=timeout, allow_redirects=False
        ) as response:
            if response.status != 200:
                raise gidgethub.BadRequest(HTTPStatus(response.status))
            declared = response.content_length
            if declared is not None and declared > max_bytes:
                raise DownloadTooLarge(name, max_bytes)
            data = bytearray()
            async for chunk in response.content.iter_chunked(65536):
                data += chunk
                if len(data) > max_bytes:
                    raise DownloadTooLarge(name, max_bytes)
        return bytes(data)

    async def paginate(
        self, name: str, /, *, per_page: int = 100, **params: Any
    ) -> AsyncIterator[Any]:
        """Every item of a paginated call, following ``Link: rel="next"``."""
        call = get_call(name)
        if not call.paginated:
            raise ValueError(f"{name} is not a paginated call")
        target = expand(call, {**params, "per_page": per_page})
        api = _RetryingAPI(self, call)
        async for item in api.getiter(
            target,
            {},
            accept=ACCEPT,
            extra_headers={"x-github-api-version": API_VERSION},
            iterable_key=ITEMS_KEYS.get(name),
        ):
            yield item

    async def graphql(self, name: str, /, **variables: Any) -> Any:
        """Run the registered GraphQL operation ``name`` (see ``app.github.calls.GRAPHQL``)
        and return its ``data``; same retries as REST calls. Needs a token credential."""
        if name not in GRAPHQL:
            raise CallError(f"{name!r} is not in the list of GraphQL operations the app runs")
        if self.credential is None or (await self.credential.get())[0] != "token":
            raise ValueError("GraphQL needs a token (an installation or user token), not a JWT")
        call = Call(name, "POST", "/graphql", "graphql", accepts_body=True)
        api = _RetryingAPI(self, call)
        return await api.graphql(GRAPHQL[name], endpoint=graphql_url(self.base_url), **variables)
