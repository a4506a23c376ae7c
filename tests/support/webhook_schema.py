"""Validate webhook payloads against @octokit/webhooks-schemas (a JSON Schema, draft 07).

The schema file holds one definition per event and action (``issues$labeled``), or per
event for events without actions (``push$event``). Validation uses jsonschema with the
whole document as the resolution root, so every ``#/definitions/...`` reference resolves.
String formats (``date-time``) are checked on request only: the emulator's payloads must
pass them, but a few of GitHub's older published examples do not (``2018-04-25 20:42:10``).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft7Validator, FormatChecker
from jsonschema.exceptions import ValidationError, best_match

from tests.support.paths import ROOT

SCHEMA = ROOT / "node_modules/@octokit/webhooks-schemas/schema.json"


@cache
def _document() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return data


def definition_for(event: str, action: str | None) -> str:
    """The schema definition that describes ``event`` with ``action``."""
    definitions = _document()["definitions"]
    keys = (f"{event}${action}",) if action is not None else (f"{event}$event", f"{event}_event")
    for key in keys:
        if key in definitions:
            return key
    raise KeyError(f"no webhook schema for {event} {action}")


@cache
def validator_for(event: str, action: str | None, formats: bool = False) -> Draft7Validator:
    document = _document()
    root = {
        "$schema": document["$schema"],
        "definitions": document["definitions"],
        "$ref": f"#/definitions/{definition_for(event, action)}",
    }
    return Draft7Validator(root, format_checker=FormatChecker() if formats else None)


def problems(event: str, payload: Any, *, formats: bool = False) -> list[str]:
    """Every schema violation in ``payload`` for ``event`` (empty when it conforms); with
    ``formats``, string formats too."""
    action = payload.get("action") if isinstance(payload, dict) else None
    validator = validator_for(event, action, formats)
    errors = sorted(validator.iter_errors(payload), key=lambda e: e.path)
    return [_explain(e) for e in errors]


def _explain(error: ValidationError) -> str:
    """Where and why, descending into anyOf/oneOf branches to the most relevant failure."""
    if error.context:
        error = best_match(error.context)
    where = "/".join(str(p) for p in error.absolute_path) or "<root>"
    return f"{where}: {error.message[:300]}"
