"""``python -m selfheal.emulator`` starts a usable emulator and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.support.paths import ROOT


def test_command_serves_and_stops(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "selfheal.emulator",
            "--root",
            str(tmp_path),
            "--repo",
            "acme/widgets",
            "--person",
            "alice:read",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("clone:"):
                break
        url = lines[0].split()[-1]
        token_file = tmp_path / "person-alice.token"
        token = token_file.read_text()
        assert token not in "".join(lines)  # secrets go to 0600 files, never to stdout
        assert token_file.stat().st_mode & 0o777 == 0o600
        request = urllib.request.Request(
            f"{url}/repos/acme/widgets", headers={"Authorization": f"token {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert json.load(resp)["full_name"] == "acme/widgets"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
