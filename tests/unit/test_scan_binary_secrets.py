"""A NUL byte makes a file binary, which skips the code scanners, but never hides a secret."""

from __future__ import annotations

import random
from pathlib import Path

from selfheal.model.findings import Category
from selfheal.scanner.engine import ScanOptions, ScanTarget, scan_path, scan_targets

SECRETS_ONLY = ScanOptions(scanners=frozenset({"secrets"}))


def _token() -> str:
    rng = random.Random(7)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "ghp_" + "".join(rng.choice(alphabet) for _ in range(36))


def _hidden(token: str) -> bytes:
    return b"# padding\x00\n" + f'TOKEN = "{token}"\n'.encode()


def test_a_secret_behind_a_nul_byte_is_found_in_a_tree(tmp_path: Path) -> None:
    token = _token()
    (tmp_path / "settings.py").write_bytes(_hidden(token))
    report = scan_path(tmp_path, SECRETS_ONLY)
    secrets = [f for f in report.findings if f.category is Category.SECRET]
    assert [(f.path, f.line) for f in secrets] == [("settings.py", 2)]
    assert ("settings.py", "binary file") in report.skipped
    assert token not in repr([f.to_dict() for f in secrets])


def test_a_secret_behind_a_nul_byte_is_found_in_a_change() -> None:
    token = _token()
    target = ScanTarget("conf/app.cfg", _hidden(token), frozenset({2}))
    report = scan_targets([target], SECRETS_ONLY)
    assert [(f.path, f.line) for f in report.findings] == [("conf/app.cfg", 2)]


def test_random_binary_content_is_not_a_secret(tmp_path: Path) -> None:
    rng = random.Random(11)
    (tmp_path / "blob.bin").write_bytes(bytes(rng.randrange(256) for _ in range(256_000)))
    assert scan_path(tmp_path, SECRETS_ONLY).findings == []
