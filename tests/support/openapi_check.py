"""Record real HTTP exchanges and check responses against GitHub's OpenAPI description.

The recorder is an aiohttp TraceConfig on a real ClientSession; checking uses openapi-core
(``OpenAPI.validate_response``) with the official description from @octokit/openapi.
A status the description does not document for an operation is checked against GitHub's
``basic-error`` schema instead (GitHub documents only the common error statuses).

One normalisation is applied to a copy of the description before validation: in OpenAPI
3.0 ``nullable: true`` makes ``null`` valid for the whole schema, but openapi-core does not
apply it across ``enum`` or ``anyOf``/``oneOf`` (GitHub's ``state_reason`` and commit
``author`` are such schemas, and GitHub sends ``null`` there), so those schemas get ``null``
added explicitly. And ``discriminator`` hints are dropped: the contents endpoint maps an
*array* to ``content-directory``, which the validator cannot apply to a list; ``oneOf``
alone still requires exactly one branch to match, so nothing is relaxed.

Two known defects of the pinned description are corrected (``_fix_known_defects``), each to
what the same description says elsewhere about the same object:
- ``GET /app/installations`` declares ``account`` as ``allOf`` [simple-user, enterprise]
  (an object that is both); ``components/schemas/installation`` says ``anyOf``.
- ``issue-search-result-item.body`` is a non-nullable string, but an issue's body is
  ``nullable`` in ``components/schemas/issue`` and GitHub sends ``null`` for an empty body.
- ``head.repo`` of ``pull-request`` and ``pull-request-simple`` is a required repository,
  but GitHub sends ``null`` once the fork holding the head is deleted, and the webhook
  schema of the same object (@octokit/webhooks-schemas ``pull-request``) allows ``null``
  (github/rest-api-description#424 and #1811).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import aiohttp
import jsonschema
from openapi_core import Config, OpenAPI
from openapi_core.exceptions import OpenAPIError
from openapi_core.templating.responses.exceptions import ResponseNotFound
from openapi_core.testing import MockRequest, MockResponse

GITHUB = "https://api.github.com"


@dataclass
class Exchange:
    method: str
    raw_path: str
    query: dict[str, str]
    status: int
    content_type: str
    headers: dict[str, str]
    body: bytes
    request_body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Recorder:
    exchanges: list[Exchange] = field(default_factory=list)

    def trace(self) -> aiohttp.TraceConfig:
        config = aiohttp.TraceConfig()
        config.on_request_chunk_sent.append(self._chunk)
        config.on_request_end.append(self._end)
        return config

    async def _chunk(self, _s: aiohttp.ClientSession, ctx: SimpleNamespace, params: Any) -> None:
        ctx.sent = getattr(ctx, "sent", b"") + bytes(params.chunk)

    async def _end(
        self, _s: aiohttp.ClientSession, ctx: SimpleNamespace, params: aiohttp.TraceRequestEndParams
    ) -> None:
        response = params.response
        # Signed storage downloads are not REST; leave their body to the client's own
        # bounded streaming read (reading it here would consume the stream).
        storage = params.url.raw_path.startswith("/_emulator/")
        self.exchanges.append(
            Exchange(
                method=params.method,
                raw_path=params.url.raw_path,
                query=dict(params.url.query),
                status=response.status,
                content_type=response.content_type,
                headers={k.lower(): v for k, v in response.headers.items()},
                body=b"" if storage else await response.read(),
                request_body=getattr(ctx, "sent", b""),
            )
        )


def _allow_null(node: Any) -> Any:
    """A copy of ``node`` where every ``nullable`` enum / anyOf / oneOf also accepts null."""
    if isinstance(node, list):
        return [_allow_null(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _allow_null(value) for key, value in node.items() if key != "discriminator"}
    if out.get("nullable") is True:
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        for key in ("anyOf", "oneOf"):
            if key in out:
                out[key] = [*out[key], {"enum": [None]}]
    return out


def _fix_known_defects(spec: dict[str, Any]) -> dict[str, Any]:
    fixed = copy.deepcopy(spec)
    listing = fixed["paths"]["/app/installations"]["get"]["responses"]["200"]
    account = listing["content"]["application/json"]["schema"]["items"]["properties"]["account"]
    if "allOf" in account:
        account["anyOf"] = account.pop("allOf")
    body = fixed["components"]["schemas"]["issue-search-result-item"]["properties"]["body"]
    body["nullable"] = True
    for name in ("pull-request", "pull-request-simple"):
        head = fixed["components"]["schemas"][name]["properties"]["head"]["properties"]
        head["repo"] = {"anyOf": [head["repo"]], "nullable": True}
    return fixed


def _describe(error: BaseException) -> str:
    parts = [f"{type(error).__name__}: {str(error)[:300]}"]
    cause = error.__cause__
    while cause is not None:
        details = getattr(cause, "schema_errors", None)
        if details:
            parts = [
                f"at /{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:300]}"
                for e in details
            ]
        cause = cause.__cause__
    return "\n".join(parts)


class ResponseChecker:
    """Checks recorded responses against the official description."""

    def __init__(self, spec: dict[str, Any]) -> None:
        # GitHub's own document is taken as given; validating the 10 MB file itself is slow.
        # openapi-core reads None as "no spec validation"; its annotation omits None.
        fixed = _allow_null(_fix_known_defects(spec))
        no_spec_check = Config(spec_validator_cls=None)  # type: ignore[arg-type]
        self.openapi = OpenAPI.from_dict(fixed, config=no_spec_check)
        # GitHub's error bodies always carry a message; the schema leaves it optional.
        basic_error = {**spec["components"]["schemas"]["basic-error"], "required": ["message"]}
        self.basic_error = jsonschema.Draft4Validator(basic_error)

    def problems(self, exchange: Exchange) -> list[str]:
        """What is wrong with this response (empty when it matches the description)."""
        request = MockRequest(
            GITHUB,
            exchange.method.lower(),
            exchange.raw_path,
            args=exchange.query,
            data=exchange.request_body or None,
            content_type="application/json",
        )
        response = MockResponse(
            exchange.body,
            status_code=exchange.status,
            headers=exchange.headers,
            content_type=exchange.content_type or "application/json",
        )
        try:
            self.openapi.validate_response(request, response)
        except ResponseNotFound:
            return [f"  {m}" for m in self._error_body_problems(exchange)]
        except OpenAPIError as error:
            return [_describe(error)]
        return []

    def _error_body_problems(self, exchange: Exchange) -> list[str]:
        if exchange.status < 400:
            return [f"HTTP {exchange.status} is not documented for this operation"]
        try:
            data = exchange.json()
        except ValueError:
            return ["error body is not JSON"]
        return [e.message for e in self.basic_error.iter_errors(data)]
