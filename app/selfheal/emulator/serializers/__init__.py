"""The ONE place that renders emulator objects as GitHub-shaped JSON.

REST responses and webhook payloads both call ``Render``, so the two cannot drift. Shapes
follow GitHub's REST API v3 and the @octokit/webhooks example payloads; ``hook=True`` gives
the (stricter) webhook variant of an object where the two differ. ``Render`` is assembled
from one layer per area (base, apps, repos, issues, git, pulls, checks) to keep modules small.
"""

from __future__ import annotations

from .base import JSON, REACTIONS, node_id, parse_node_id
from .checks import ChecksRender, suite_status


class Render(ChecksRender):
    """Renders every emulated object; one instance per emulator (URLs need its base)."""


__all__ = ["JSON", "REACTIONS", "Render", "node_id", "parse_node_id", "suite_status"]
