"""The failure event (pure): what the monitor counts, parsed from a mapping with field errors.

One shape for every source: an agent's ``report_bug_for_fix`` (``POST /api/monitor/events``),
a failing test from a JUnit report or a CI run, an endpoint probe, a security finding. The
fields are the API's (issue 12) plus two optional ones the monitor needs for its own sources:
``repository`` (``owner/name``, when the caller is not bound to one) and ``commit`` (the SHA the
failure was seen on, for the regression rule).

:func:`parse_event` checks every field and raises :class:`EventError` naming each wrong one;
:data:`EVENT_SCHEMA` is the same shape as a JSON Schema (draft 2020-12), for the API's
OpenAPI document. Every size is bounded, so one event costs at most a few tens of KiB.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SOURCES = ("agent", "test", "endpoint", "ci", "security")
SEVERITIES = ("low", "medium", "high", "critical", "crash")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
MAX_EVENTS = 500  # events in one call
MAX_TYPE = 200
MAX_MESSAGE = 8_192
MAX_STACK = 65_536
MAX_FILES = 50
MAX_PATH = 512
MAX_ID = 200
MAX_URL = 2_048
ID = re.compile(r"[A-Za-z0-9_.:@/\[\]<>()=, #+-]{1,200}")
REPOSITORY = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
COMMIT = re.compile(r"[0-9a-f]{7,64}")
KEYS = frozenset(
    {
        "source", "error_type", "message", "stack_trace", "affected_files", "agent_id",
        "test_id", "endpoint", "severity", "timestamp", "run_id", "repository", "commit",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Endpoint:
    url: str
    method: str = "GET"
    status: int | None = None  # None: the call timed out or never answered


@dataclass(frozen=True)
class FailureEvent:
    source: str
    error_type: str = ""
    message: str = ""
    stack_trace: str = ""
    affected_files: tuple[str, ...] = ()
    agent_id: str | None = None
    test_id: str | None = None
    endpoint: Endpoint | None = None
    severity: str = "medium"
    timestamp: datetime | None = None
    run_id: str | None = None
    repository: str | None = None
    commit: str | None = None

    @property
    def immediate(self) -> bool:
        """Crashes and security findings are filed at once, at high priority."""
        return self.severity == "crash" or self.source == "security"


@dataclass(frozen=True)
class Problem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass
class EventError(ValueError):
    """An event (or a list of them) that does not have the monitor's shape."""

    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(str(p) for p in self.problems) or "not a failure event"


def _text(data: Mapping[str, Any], key: str, limit: int, problems: list[Problem]) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        problems.append(Problem(key, "must be a string"))
        return ""
    if len(value) > limit:
        problems.append(Problem(key, f"longer than {limit} characters"))
        return ""
    return value.replace("\x00", "")


def _ident(data: Mapping[str, Any], key: str, problems: list[Problem]) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not ID.fullmatch(value):
        problems.append(Problem(key, f"must be an id of 1 to {MAX_ID} plain characters"))
        return None
    return value


def _test_id(data: Mapping[str, Any], problems: list[Problem]) -> str | None:
    value = data.get("test_id")
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > MAX_PATH
        or any(ord(c) < 32 for c in value)
    ):
        problems.append(
            Problem("test_id", f"must be a test's node id of 1 to {MAX_PATH} characters")
        )
        return None
    return value.strip()


def _files(data: Mapping[str, Any], problems: list[Problem]) -> tuple[str, ...]:
    value = data.get("affected_files")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(Problem("affected_files", "must be a list of strings"))
        return ()
    if len(value) > MAX_FILES:
        problems.append(Problem("affected_files", f"more than {MAX_FILES} files"))
        return ()
    out: list[str] = []
    for path in value:
        clean = path.strip().replace("\\", "/").removeprefix("./")
        if not clean or len(clean) > MAX_PATH or any(ord(c) < 32 for c in clean):
            problems.append(Problem("affected_files", f"{path[:60]!r} is not a file path"))
            continue
        if clean not in out:
            out.append(clean)
    return tuple(out)


def _endpoint(data: Mapping[str, Any], problems: list[Problem]) -> Endpoint | None:
    value = data.get("endpoint")
    if value is None:
        return None
    if not isinstance(value, Mapping):
        problems.append(Problem("endpoint", "must be an object {url, method, status}"))
        return None
    url = value.get("url")
    if not isinstance(url, str) or not url or len(url) > MAX_URL or any(c.isspace() for c in url):
        problems.append(Problem("endpoint.url", "must be a URL or path without spaces"))
        url = ""
    method = value.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in METHODS:
        problems.append(Problem("endpoint.method", f"must be one of {', '.join(METHODS)}"))
        method = "GET"
    status = value.get("status")
    if status is not None and (type(status) is not int or not 100 <= status <= 599):
        problems.append(Problem("endpoint.status", "must be an HTTP status (100-599) or null"))
        status = None
    unknown = sorted(set(value) - {"url", "method", "status"})
    if unknown:
        problems.append(Problem("endpoint", f"unknown key {str(unknown[0])[:40]!r}"))
    return Endpoint(url, method.upper(), status)


def _timestamp(data: Mapping[str, Any], problems: list[Problem]) -> datetime | None:
    value = data.get("timestamp")
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (OverflowError, OSError, ValueError):
            problems.append(Problem("timestamp", "is out of range"))
            return None
    if not isinstance(value, str) or len(value) > 64:
        problems.append(Problem("timestamp", "must be an ISO 8601 date-time or epoch seconds"))
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        problems.append(Problem("timestamp", "must be an ISO 8601 date-time or epoch seconds"))
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _choice(
    data: Mapping[str, Any], key: str, choices: Sequence[str], default: str | None,
    problems: list[Problem],
) -> str:  # fmt: skip
    value = data.get(key, default)
    if isinstance(value, str) and value in choices:
        return value
    problems.append(Problem(key, f"must be one of {', '.join(choices)}"))
    return choices[0]


def _pattern(
    data: Mapping[str, Any], key: str, pattern: re.Pattern[str], problems: list[Problem]
) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not pattern.fullmatch(value):
        problems.append(Problem(key, "is not valid"))
        return None
    return value


def _identity_problems(event: FailureEvent) -> list[Problem]:
    """Each source needs what its identity is made of."""
    if event.source == "test" and not event.test_id:
        return [Problem("test_id", "is required for a test failure")]
    if event.source == "endpoint" and event.endpoint is None:
        return [Problem("endpoint", "is required for an endpoint failure")]
    if not (event.error_type or event.message or event.stack_trace or event.test_id
            or event.endpoint):  # fmt: skip
        return [Problem("error_type", "an event needs an error type, a message or a stack trace")]
    return []


def parse_event(data: Any) -> FailureEvent:
    """One event from a JSON object; raises :class:`EventError` naming every wrong field."""
    if not isinstance(data, Mapping):
        raise EventError([Problem("event", "must be a JSON object")])
    problems: list[Problem] = []
    unknown = sorted(str(k) for k in data if k not in KEYS)
    if unknown:
        problems.append(Problem(unknown[0][:40], "is not a field of a failure event"))
    event = FailureEvent(
        source=_choice(data, "source", SOURCES, None, problems),
        error_type=_text(data, "error_type", MAX_TYPE, problems).strip(),
        message=_text(data, "message", MAX_MESSAGE, problems),
        stack_trace=_text(data, "stack_trace", MAX_STACK, problems),
        affected_files=_files(data, problems),
        agent_id=_ident(data, "agent_id", problems),
        test_id=_test_id(data, problems),
        endpoint=_endpoint(data, problems),
        severity=_choice(data, "severity", SEVERITIES, "medium", problems),
        timestamp=_timestamp(data, problems),
        run_id=_ident(data, "run_id", problems),
        repository=_pattern(data, "repository", REPOSITORY, problems),
        commit=_pattern(data, "commit", COMMIT, problems),
    )  # fmt: skip
    if not problems:
        problems.extend(_identity_problems(event))
    if problems:
        raise EventError(problems)
    return event


def parse_events(data: Any) -> list[FailureEvent]:
    """One event object or a list of them; a problem names the event's index (``[2].source``)."""
    items = data if isinstance(data, list) else [data]
    if not items:
        raise EventError([Problem("events", "the list is empty")])
    if len(items) > MAX_EVENTS:
        raise EventError([Problem("events", f"more than {MAX_EVENTS} events in one call")])
    out: list[FailureEvent] = []
    problems: list[Problem] = []
    for index, item in enumerate(items):
        try:
            out.append(parse_event(item))
        except EventError as exc:
            prefix = f"[{index}]." if isinstance(data, list) else ""
            problems.extend(Problem(prefix + p.field, p.message) for p in exc.problems)
    if problems:
        raise EventError(problems)
    return out


def event_json(event: FailureEvent) -> dict[str, Any]:
    """The event as a JSON object in the shape :func:`parse_event` reads."""
    out: dict[str, Any] = {"source": event.source, "severity": event.severity}
    for key in ("error_type", "message", "stack_trace"):
        if getattr(event, key):
            out[key] = getattr(event, key)
    if event.affected_files:
        out["affected_files"] = list(event.affected_files)
    for key in ("agent_id", "test_id", "run_id", "repository", "commit"):
        if getattr(event, key) is not None:
            out[key] = getattr(event, key)
    if event.endpoint is not None:
        ep = event.endpoint
        out["endpoint"] = {"url": ep.url, "method": ep.method, "status": ep.status}
    if event.timestamp is not None:
        out["timestamp"] = event.timestamp.isoformat()
    return out


_ID_SCHEMA = {"type": ["string", "integer"], "maxLength": MAX_ID}
EVENT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "FailureEvent",
    "type": "object",
    "additionalProperties": False,
    "required": ["source"],
    "properties": {
        "source": {"enum": list(SOURCES)},
        "error_type": {"type": "string", "maxLength": MAX_TYPE},
        "message": {"type": "string", "maxLength": MAX_MESSAGE},
        "stack_trace": {"type": "string", "maxLength": MAX_STACK},
        "affected_files": {
            "type": "array",
            "maxItems": MAX_FILES,
            "items": {"type": "string", "minLength": 1, "maxLength": MAX_PATH},
        },
        "agent_id": _ID_SCHEMA,
        "test_id": {"type": "string", "minLength": 1, "maxLength": MAX_PATH},
        "endpoint": {
            "type": "object",
            "additionalProperties": False,
            "required": ["url"],
            "properties": {
                "url": {"type": "string", "minLength": 1, "maxLength": MAX_URL},
                "method": {"enum": [*METHODS, *(m.lower() for m in METHODS)]},
                "status": {"type": ["integer", "null"], "minimum": 100, "maximum": 599},
            },
        },
        "severity": {"enum": list(SEVERITIES)},
        "timestamp": {"type": ["string", "number"]},
        "run_id": _ID_SCHEMA,
        "repository": {"type": "string", "pattern": "^" + REPOSITORY.pattern + "$"},
        "commit": {"type": "string", "pattern": "^" + COMMIT.pattern + "$"},
    },
}
EVENTS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "FailureEvents",
    "oneOf": [
        {"$ref": "#/$defs/event"},
        {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_EVENTS,
            "items": {"$ref": "#/$defs/event"},
        },
    ],
    "$defs": {"event": {k: v for k, v in EVENT_SCHEMA.items() if k != "$schema"}},
}
