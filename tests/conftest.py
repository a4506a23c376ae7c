"""Shared pytest configuration.

semgrep must never reach for the network: the environment is set here, before any test runs.
Area-specific fixtures live in their own modules and are registered in ``pytest_plugins``.
"""

from __future__ import annotations

import os

os.environ.setdefault("SEMGREP_ENABLE_VERSION_CHECK", "0")
os.environ.setdefault("SEMGREP_SEND_METRICS", "off")

pytest_plugins: list[str] = ["tests.github_emulator.plugin"]
