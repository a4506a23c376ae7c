"""The API's bodies as JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1).

These schemas are the one source: the handlers validate every body against them, and
:mod:`selfheal.api.openapi` publishes them in ``/api/openapi.json``, so the document cannot
drift from what the server accepts. :func:`check` returns the first problem with the field
it concerns (pure).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from selfheal.model.labels import REQUEST_TYPES

Schema = dict[str, Any]

# a coding agent id that fits in a `selfheal:agent/<id>` label (GitHub: 50 characters)
AGENT_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,35}$"
REPOSITORY_PATTERN = r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$"
REQUEST_ID_PATTERN = r"^req_[A-Za-z0-9_-]{16}$"
REQUESTER_PATTERN = r"^[A-Za-z0-9_.@-]{1,64}$"
# the labels' spelling and the seed's (fix_bug)
CHANGE_TYPES = sorted({*REQUEST_TYPES, *(t.replace("-", "_") for t in REQUEST_TYPES)})
STATES = [
    "received", "reviewing", "blocked", "awaiting_approval", "queued", "coding", "gating",
    "pr_ready", "rolled_back", "failed", "merged", "cancelled", "halted", "budget_exceeded",
]  # fmt: skip
SCOPES = ["request", "approve", "halt", "read", "scan", "report"]
MAX_TARGETS = 50
MAX_DESCRIPTION = 20_000
MAX_EVENTS = 500

_PATH: Schema = {"type": "string", "minLength": 1, "maxLength": 512, "pattern": r"^[^\x00-\x1f]+$"}
_TARGETS: Schema = {"type": "array", "items": _PATH, "maxItems": MAX_TARGETS}
_PRIORITY: Schema = {"type": "integer", "minimum": 1, "maximum": 10}
_REPOSITORY: Schema = {"type": "string", "pattern": REPOSITORY_PATTERN}
_CONTEXT: Schema = {
    "type": "object",
    "description": "free-form facts for the coder (shown in the issue as untrusted data)",
    "maxProperties": 50,
}
_DESCRIPTION: Schema = {"type": "string", "minLength": 1, "maxLength": MAX_DESCRIPTION}


def _object(properties: Mapping[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    schema: Schema = {
        "type": "object",
        "properties": dict(properties),
        "additionalProperties": False,
    }
    if required:
        schema["required"] = list(required)
    return schema


CODE_REQUEST = _object(
    {
        "requester_id": {"type": "string", "pattern": REQUESTER_PATTERN},
        "change_type": {"type": "string", "enum": CHANGE_TYPES},
        "description": _DESCRIPTION,
        "target_files": _TARGETS,
        "priority": _PRIORITY,
        "context": _CONTEXT,
        "agent_id": {"type": "string", "pattern": AGENT_ID_PATTERN},
        "repository": _REPOSITORY,
    },
    ("description",),
)
CODE_FIX = _object(
    {
        "description": _DESCRIPTION,
        "target_files": _TARGETS,
        "priority": _PRIORITY,
        "context": _CONTEXT,
        "repository": _REPOSITORY,
        "requester_id": {"type": "string", "pattern": REQUESTER_PATTERN},
    },
    ("description",),
)
TELL_AGENT = _object(
    {
        "agent_id": {"type": "string", "pattern": AGENT_ID_PATTERN},
        "coding_task": _DESCRIPTION,
        "target_files": _TARGETS,
        "priority": _PRIORITY,
        "repository": _REPOSITORY,
        "requester_id": {"type": "string", "pattern": REQUESTER_PATTERN},
    },
    ("agent_id", "coding_task"),
)
HALT = _object({"reason": {"type": "string", "maxLength": 500}})
NOTE = _object({"reason": {"type": "string", "maxLength": 500}})
SCAN = _object(
    {
        "file_paths": {"type": "array", "items": _PATH, "minItems": 1, "maxItems": 200},
        "repository": _REPOSITORY,
        "ref": {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "pattern": r"^[A-Za-z0-9_./-]+$",
        },
    },
    ("file_paths",),
)
_SHORT = {"type": "string", "maxLength": 200}
EVENT = _object(
    {
        "source": {"type": "string", "enum": ["agent", "test", "endpoint", "ci"]},
        "error_type": {"type": "string", "maxLength": 200},
        "message": {"type": "string", "maxLength": 10_000},
        "stack_trace": {"type": "string", "maxLength": 100_000},
        "affected_files": {"type": "array", "items": _PATH, "maxItems": 100},
        "severity": {"type": "string", "enum": ["low", "medium", "high", "critical"]},
        "agent_id": _SHORT,
        "test_id": {"type": "string", "maxLength": 1000},
        "endpoint": _object(
            {
                "url": {"type": "string", "maxLength": 2000},
                "method": {"type": "string", "pattern": r"^[A-Za-z]{1,10}$"},
                "status": {"type": ["integer", "null"], "minimum": 0, "maximum": 999},
            },
            ("url",),
        ),
        "timestamp": {"type": "string", "format": "date-time", "maxLength": 64},
        "run_id": _SHORT,
        "repository": _REPOSITORY,
    },
    ("source",),
)
EVENTS = {
    "oneOf": [EVENT, {"type": "array", "items": EVENT, "minItems": 1, "maxItems": MAX_EVENTS}]
}

# ---- responses ----------------------------------------------------------------------------

ERROR = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "field": {"type": "string"},
        # halt and resume: the repositories done, and those that failed with the error's code
        "repositories": {"type": "array", "items": {"type": "string"}},
        "failed": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"repository": {"type": "string"}, "error": {"type": "string"}},
                "required": ["repository", "error"],
            },
        },
    },
    "required": ["error", "message"],
}
_NULLABLE_STR = {"type": ["string", "null"]}
_NULLABLE_INT = {"type": ["integer", "null"]}
TIMELINE_ENTRY = {
    "type": "object",
    "properties": {
        "at": {"type": "string"},
        "actor": {"type": "string"},
        "action": {"type": "string"},
        "details": {"type": "object"},
    },
    "required": ["at", "actor", "action", "details"],
}
SUMMARY_PROPERTIES: dict[str, Schema] = {
    "change_id": {"type": "string"},
    "repository": {"type": "string"},
    "issue_number": {"type": "integer"},
    "issue_url": {"type": "string"},
    "state": {"type": "string", "enum": STATES},
    "change_type": {"type": "string"},
    "priority": {"type": "integer"},
    "agent_id": _NULLABLE_STR,
    "requester": {"type": "string"},
    "requester_id": _NULLABLE_STR,
    "cost_usd": {"type": "number"},
    "budget_usd": {"type": "number"},
    "created_at": {"type": "number"},
}
SUMMARY = {
    "type": "object",
    "properties": SUMMARY_PROPERTIES,
    "required": list(SUMMARY_PROPERTIES),
}
STATUS_PROPERTIES: dict[str, Schema] = {
    **SUMMARY_PROPERTIES,
    "pr_number": _NULLABLE_INT,
    "pr_url": _NULLABLE_STR,
    "branch": _NULLABLE_STR,
    "gate": {
        "type": ["object", "null"],
        "properties": {
            "conclusion": _NULLABLE_STR,
            "risk": _NULLABLE_STR,
            "status": {"type": "string"},
        },
    },
    "targets": {"type": "array", "items": {"type": "string"}},
    "updated_at": {"type": "number"},
    "timeline": {"type": "array", "items": TIMELINE_ENTRY},
}
STATUS = {"type": "object", "properties": STATUS_PROPERTIES, "required": list(STATUS_PROPERTIES)}
HISTORY = {
    "type": "object",
    "properties": {
        "items": {"type": "array", "items": SUMMARY},
        "next_offset": _NULLABLE_INT,
    },
    "required": ["items", "next_offset"],
}
CREATED = {
    "type": "object",
    "properties": {
        "change_id": {"type": "string"},
        "repository": {"type": "string"},
        "issue_number": {"type": "integer"},
        "issue_url": {"type": "string"},
        "state": {"type": "string"},
        "agent_id": _NULLABLE_STR,
        "status_url": {"type": "string"},
    },
    "required": ["change_id", "repository", "issue_number", "issue_url", "state", "status_url"],
}
HALTED = {
    "type": "object",
    "properties": {
        "halted": {"type": "boolean"},
        "repositories": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["halted", "repositories"],
}
MOVED = {
    "type": "object",
    "properties": {
        "change_id": {"type": "string"},
        "state": {"type": "string"},
        "message": {"type": "string"},
    },
    "required": ["change_id", "state", "message"],
}
RECORDED = {
    "type": "object",
    "properties": {"recorded": {"type": "integer"}},
    "required": ["recorded"],
}
HEALTH = {
    "type": "object",
    "properties": {
        "status": {"type": "string"},
        "ledger": {"type": "boolean"},
        "version": {"type": "string"},
    },
    "required": ["status", "ledger"],
}
SCAN_RESULT = {
    "type": "object",
    "description": "the scanner's JSON report (docs/scanning.md) and what was scanned",
    "properties": {
        "version": {"type": "integer"},
        "tool": {"type": "object"},
        "findings": {"type": "array", "items": {"type": "object"}},
        "skipped": {"type": "array", "items": {"type": "object"}},
        "errors": {"type": "array", "items": {"type": "string"}},
        "summary": {"type": "object"},
        "meta": {"type": "object"},
        "repository": {"type": "string"},
        "ref": {"type": "string"},
        "commit": {"type": "string"},
    },
    "required": ["findings", "skipped", "errors", "summary", "repository", "ref", "commit"],
}
SECURITY_STATS = {
    "type": "object",
    "properties": {
        "gate_runs": {"type": "object", "additionalProperties": {"type": "integer"}},
        "requests": {"type": "object", "additionalProperties": {"type": "integer"}},
        "repositories": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["gate_runs", "requests", "repositories"],
}

REQUEST_BODIES: dict[str, Schema] = {
    "CodeRequest": CODE_REQUEST,
    "CodeFix": CODE_FIX,
    "TellAgent": TELL_AGENT,
    "Halt": HALT,
    "Note": NOTE,
    "Scan": SCAN,
    "Event": EVENT,
    "Events": EVENTS,
}
RESPONSES: dict[str, Schema] = {
    "Error": ERROR,
    "Status": STATUS,
    "Summary": SUMMARY,
    "History": HISTORY,
    "Created": CREATED,
    "Halted": HALTED,
    "Moved": MOVED,
    "Recorded": RECORDED,
    "Health": HEALTH,
    "ScanResult": SCAN_RESULT,
    "SecurityStats": SECURITY_STATS,
    "TimelineEntry": TIMELINE_ENTRY,
}

_VALIDATORS = {
    name: Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for name, schema in REQUEST_BODIES.items()
}


def _field(error: ValidationError) -> str:
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required" and isinstance(error.message, str):
        missing = error.message.split("'")[1] if "'" in error.message else ""
        path.append(missing)
    if error.validator == "additionalProperties":
        schema: Any = error.schema
        known = set(schema.get("properties", {})) if isinstance(schema, dict) else set()
        instance: Any = error.instance
        extra = sorted(set(instance) - known) if isinstance(instance, dict) else []
        path.append(extra[0] if extra else "")
    return ".".join(p for p in path if p) or "body"


def _message(error: ValidationError) -> str:
    if error.validator == "required":
        return "is required"
    if error.validator == "additionalProperties":
        return "is not a known field"
    if error.validator == "enum":
        allowed: Any = error.validator_value
        return "must be one of " + ", ".join(map(str, allowed))
    if error.validator == "pattern":
        return "has the wrong form"
    return error.message[:200]


def check(name: str, body: Any) -> tuple[str, str] | None:
    """(field, problem) for the first thing wrong with ``body`` under schema ``name``."""
    error = best_match(_VALIDATORS[name].iter_errors(body))
    if error is None:
        return None
    return _field(error), _message(error)


def check_value(schema: Schema, value: Any) -> str | None:
    """The problem with one value under ``schema`` (a query parameter's), or None."""
    error = best_match(Draft202012Validator(schema).iter_errors(value))
    return None if error is None else _message(error)
