"""Issue bodies as GitHub renders them from the repository's change-request issue form."""

from __future__ import annotations

from typing import Any

import yaml

from tests.support.paths import ROOT

FORM_FILE = ROOT / ".github" / "ISSUE_TEMPLATE" / "change-request.yml"


def form_spec() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(FORM_FILE.read_text(encoding="utf-8"))
    return data


def form_fields() -> list[dict[str, Any]]:
    return [f for f in form_spec()["body"] if f["type"] != "markdown"]


def render_form(answers: dict[str, Any]) -> str:
    """The issue body GitHub renders from the form for ``answers`` (by field id): one
    ``### <label>`` section per field, ``_No response_`` when empty, a text area with
    ``render`` in a fenced block, checkboxes as a task list."""
    sections = []
    for field in form_fields():
        attributes = field["attributes"]
        value = answers.get(field["id"])
        if field["type"] == "checkboxes":
            options = [o["label"] for o in attributes["options"]]
            text = "\n".join(f"- [{'X' if o in (value or ()) else ' '}] {o}" for o in options)
        elif value in (None, ""):
            text = "_No response_"
        elif field["type"] == "textarea" and attributes.get("render"):
            text = f"```{attributes['render']}\n{value}\n```"
        else:
            text = str(value)
        sections.append(f"### {attributes['label']}\n\n{text}")
    return "\n\n".join(sections)
