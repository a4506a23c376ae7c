"""The API's operations and its OpenAPI 3.1 document, built from one table (pure).

:data:`OPERATIONS` lists each route: its method and path, the scope it needs, the schema of
its body and of its answer. The server mounts the handlers from this table and validates
bodies with :mod:`selfheal.api.schemas`; :func:`document` renders the same table and schemas
as the document served at ``/api/openapi.json``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from selfheal.api import schemas

VERSION = "1.0.0"


@dataclass(frozen=True)
class Query:
    name: str
    schema: dict[str, Any]
    description: str


@dataclass(frozen=True)
class Operation:
    id: str
    method: str
    path: str
    summary: str
    scope: str | None  # None: anonymous
    body: str | None = None  # a name in schemas.REQUEST_BODIES
    answer: str = "Moved"  # a name in schemas.RESPONSES
    status: int = 200
    query: tuple[Query, ...] = ()


_ID = {"type": "string", "pattern": schemas.REQUEST_ID_PATTERN}
HISTORY_QUERY = (
    Query("repository", {"type": "string", "pattern": schemas.REPOSITORY_PATTERN},
          "only this repository (one the token covers)"),
    Query("requester", {"type": "string", "pattern": schemas.REQUESTER_PATTERN + "|^api:.+$"},
          "the caller's requester_id, or the requester recorded on the request"),
    Query("agent", {"type": "string", "pattern": schemas.AGENT_ID_PATTERN}, "coding agent id"),
    Query("state", {"type": "string", "enum": schemas.STATES}, "the request's state"),
    Query("since", {"type": "number", "minimum": 0}, "created at or after (Unix seconds)"),
    Query("limit", {"type": "integer", "minimum": 1, "maximum": 100}, "page size (50)"),
    Query("offset", {"type": "integer", "minimum": 0, "maximum": 1_000_000}, "skip this many"),
)  # fmt: skip

OPERATIONS: tuple[Operation, ...] = (
    Operation("createRequest", "POST", "/api/code/request", "Request a code change",
              "request", "CodeRequest", "Created", 201),
    Operation("getStatus", "GET", "/api/code/status/{id}", "A request's status", "read",
              answer="Status"),
    Operation("getHistory", "GET", "/api/code/history", "Requests, newest first", "read",
              answer="History", query=HISTORY_QUERY),
    Operation("approve", "POST", "/api/code/approve/{id}",
              "Approve a request's plan (as the token's GitHub identity)", "approve", "Note"),
    Operation("cancel", "POST", "/api/code/cancel/{id}", "Cancel a request", "request", "Note"),
    Operation("halt", "POST", "/api/code/halt", "Halt the token's repositories", "halt", "Halt",
              "Halted"),
    Operation("resume", "POST", "/api/code/resume", "Resume the token's repositories", "halt",
              "Halt", "Halted"),
    Operation("scan", "POST", "/api/code/security/scan", "Scan files of a repository", "scan",
              "Scan", "ScanResult"),
    Operation("securityStats", "GET", "/api/code/security/stats", "Gate and request counts",
              "read", answer="SecurityStats"),
    Operation("health", "GET", "/api/code/health", "Whether the API can serve", None,
              answer="Health"),
    Operation("reportEvents", "POST", "/api/monitor/events", "Report failure events",
              "report", "Events", "Recorded", 202),
    Operation("codeFix", "POST", "/code/fix", "The orchestrator asks for a fix", "request",
              "CodeFix", "Created", 201),
    Operation("tellAgent", "POST", "/code/tell-agent", "The orchestrator names the coding agent",
              "request", "TellAgent", "Created", 201),
    Operation("orchestratorStatus", "GET", "/code/status/{id}", "A request's status", "read",
              answer="Status"),
    Operation("orchestratorHalt", "POST", "/code/halt", "Halt the token's repositories",
              "halt", "Halt", "Halted"),
)  # fmt: skip

_ERRORS = {
    "400": "the body is not JSON, or a parameter is malformed",
    "401": "no token, or a token that is unknown, revoked or expired",
    "403": "the token lacks the scope, or its GitHub identity may not do this",
    "404": "no such request in the token's repositories",
    "409": "the repository is halted, or the request is in a state that refuses this",
    "413": "the body is larger than 1 MiB",
    "422": "the body does not match the schema; `field` names the field",
    "429": "over the token's rate or concurrency limit; see Retry-After",
    "502": "GitHub refused selfheal's call",
    "503": "GitHub is failing or limiting selfheal's calls; see Retry-After",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": _ref(name)}}}


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    if "{id}" in op.path:
        params.append({"name": "id", "in": "path", "required": True, "schema": _ID,
                       "description": "the request id (req_...)"})  # fmt: skip
    params += [{"name": q.name, "in": "query", "required": False, "schema": q.schema,
                "description": q.description} for q in op.query]  # fmt: skip
    return params


def _responses(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {str(op.status): {"description": op.summary, **_json(op.answer)}}
    codes = ["400", "413", "422", "429"] if op.body else ["400", "429"]
    if op.scope is not None:
        codes += ["401", "403", "404", "409", "502", "503"]
    for code in sorted(set(codes)):
        out[code] = {"description": _ERRORS[code], **_json("Error")}
    if op.id == "health":
        out["503"] = {"description": "the ledger does not answer", **_json("Health")}
    if op.scope is None:
        out.pop("429", None)
    return out


def _operation(op: Operation) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "operationId": op.id,
        "summary": op.summary,
        "parameters": _parameters(op),
        "responses": _responses(op),
    }
    if op.scope is not None:
        spec["security"] = [{"bearer": []}]
        spec["description"] = f"Needs the `{op.scope}` scope."
    else:
        spec["security"] = []
    if op.body is not None:
        spec["requestBody"] = {"required": op.body not in ("Halt", "Note"), **_json(op.body)}
    return spec


def document(
    operations: Sequence[Operation] = OPERATIONS,
    extra_schemas: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``operations`` (default: :data:`OPERATIONS`); other
    features' operations name their schemas in ``extra_schemas``."""
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "selfheal API",
            "version": VERSION,
            "description": "Change requests, status, halt and failure reports. A request "
            "becomes an issue filed by the App and goes through the same lifecycle, policy, "
            "halt and budget as any other.",
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths,
        "components": {
            "schemas": {**schemas.REQUEST_BODIES, **schemas.RESPONSES, **(extra_schemas or {})},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
