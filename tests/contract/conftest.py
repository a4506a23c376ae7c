"""Session fixtures for the contract suites: GitHub's official description and a Prism mock.

Prism serves the pruned description (tests/contract/github-pruned.json) with request
validation on and ``--errors``; it is started once per session, waited for with a bounded
loop and stopped at teardown.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.contract import PRUNED, PrismServer
from tests.support.e2e import free_port
from tests.support.paths import ROOT

OFFICIAL = ROOT / "node_modules/@octokit/openapi/generated/api.github.com.json"
PRISM = ROOT / "node_modules/.bin/prism"
PRISM_START_TIMEOUT = 120.0


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/rate_limit", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except OSError:
        return False


@pytest.fixture(scope="session")
def official_spec() -> dict[str, Any]:
    """GitHub's REST description from @octokit/openapi (pinned in package.json)."""
    data: dict[str, Any] = json.loads(OFFICIAL.read_text(encoding="utf-8"))
    return data


def _start_prism(log: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    """Start Prism on a free port and wait (bounded) until it answers; None if it exited
    early (another process may have taken the port between probe and bind)."""
    port = free_port()
    argv = [str(PRISM), "mock", str(PRUNED), "--errors", "--port", str(port), "-h", "127.0.0.1"]
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            argv, stdout=sink, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + PRISM_START_TIMEOUT
    while not _ready(url):
        if proc.poll() is not None:
            return None
        if time.monotonic() > deadline:
            _stop(proc)
            pytest.fail("prism did not start within the bound")
        time.sleep(0.25)
    return proc, url


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrismServer]:
    log = tmp_path_factory.mktemp("prism") / "prism.log"
    for _ in range(3):
        started = _start_prism(log)
        if started is not None:
            break
    else:
        pytest.fail(f"prism exited early three times:\n{log.read_text(errors='replace')[-3000:]}")
    proc, url = started
    try:
        yield PrismServer(url, log)
    finally:
        _stop(proc)
