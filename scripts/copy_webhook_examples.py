"""Copy GitHub's published webhook examples for the events selfheal handles into fixtures.

Source: node_modules/@octokit/webhooks-examples (pinned in package.json). For each
(event, action): the first published example that conforms to @octokit/webhooks-schemas
(a few older examples predate fields the schema now requires). Written to
tests/fixtures/webhooks/<event>.<action>.json (``push.json`` for events without an action).
The handlers' tests replay these; the webhook contract suite validates them and checks that
they are up to date.

Usage: python scripts/copy_webhook_examples.py
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INDEX = ROOT / "node_modules/@octokit/webhooks-examples/api.github.com/index.json"
OUTPUT = ROOT / "tests/fixtures/webhooks"
WANTED: Mapping[str, Sequence[str | None]] = {
    "issues": ("opened", "labeled", "unlabeled"),
    "issue_comment": ("created",),
    "pull_request": ("opened", "synchronize", "reopened", "ready_for_review"),
    "check_suite": ("requested", "rerequested"),
    "check_run": ("rerequested", "requested_action"),
    "installation": ("created",),
    "installation_repositories": ("added",),
    "push": (None,),
    "workflow_run": ("completed",),
    "workflow_job": ("completed",),
}


def fixture_name(event: str, action: str | None) -> str:
    return f"{event}.json" if action is None else f"{event}.{action}.json"


def select(
    index: Sequence[Mapping[str, Any]], conforms: Callable[[str, Any], bool]
) -> dict[str, Any]:
    """For each wanted (event, action), by fixture file name: the first published example
    for which ``conforms(event, payload)`` holds."""
    by_event = {entry["name"]: entry["examples"] for entry in index}
    chosen: dict[str, Any] = {}
    for event, actions in WANTED.items():
        for action in actions:
            matches = [
                p
                for p in by_event.get(event, [])
                if p.get("action") == action and conforms(event, p)
            ]
            if not matches:
                raise KeyError(f"no conforming published example for {event} {action}")
            chosen[fixture_name(event, action)] = matches[0]
    return chosen


def render(payload: Any) -> str:
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from tests.support.webhook_schema import problems

    index = json.loads(INDEX.read_text(encoding="utf-8"))
    chosen = select(index, lambda event, payload: not problems(event, payload))
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for name, payload in chosen.items():
        (OUTPUT / name).write_text(render(payload), encoding="utf-8")
    print(f"wrote {len(chosen)} webhook examples to {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
