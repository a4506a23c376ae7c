"""Sample inputs built at run time (never stored as literals that scanners would flag)."""

from __future__ import annotations

import base64
import hashlib


def tokens(count: int) -> str:
    """``count`` distinct GitHub-token-shaped strings, built at run time."""
    lines = []
    for n in range(count):
        material = base64.b64encode(hashlib.sha512(f"gate-{n}".encode()).digest()).decode()
        body = "".join(c for c in material if c.isalnum())[:36]
        lines.append(f"token_{n} = ghp_{body}")
    return "\n".join(lines) + "\n"
