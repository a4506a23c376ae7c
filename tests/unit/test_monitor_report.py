"""``selfheal report junit``: failing tests posted with the run's identity, the token in the
header only, and clear exit codes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from selfheal import cli
from selfheal.monitor import parse_events

JUNIT = """<testsuites><testsuite name="t">
<testcase classname="tests.test_a" name="test_one" file="tests/test_a.py">
<failure message="assert 1 == 2" type="AssertionError">Traceback</failure></testcase>
<testcase classname="tests.test_a" name="test_two"/></testsuite></testsuites>"""
TOKEN = "shr_test_token_value_0123456789"


class Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str | None, Any]]] = []
    status = 202

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((self.path, self.headers.get("Authorization"), json.loads(body)))
        self.send_response(Receiver.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"recorded": 1}')

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def api() -> Iterator[str]:
    Receiver.received, Receiver.status = [], 202
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(5)


def test_failures_are_posted_with_the_runs_identity(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "junit.xml"
    report.write_text(JUNIT)
    env = {"SELFHEAL_TOKEN": TOKEN, "GITHUB_RUN_ID": "4242", "GITHUB_RUN_ATTEMPT": "2",
           "GITHUB_SHA": "abc1234def", "GITHUB_REPOSITORY": "acme/widgets"}  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["report", "junit", "--url", api, str(report)]) == 0
    ((path, auth, body),) = Receiver.received
    assert path == "/api/monitor/events" and auth == f"Bearer {TOKEN}"
    (event,) = parse_events(body)
    assert event.test_id == "tests/test_a.py::test_one" and event.run_id == "4242.2"
    assert event.commit == "abc1234def" and event.repository == "acme/widgets"
    assert TOKEN not in capsys.readouterr().out

    Receiver.status = 401
    assert cli.main(["report", "junit", "--url", api, str(report)]) == 1
    assert TOKEN not in capsys.readouterr().err


def test_bad_input_is_exit_2_and_sends_nothing(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SELFHEAL_TOKEN", TOKEN)
    bomb = tmp_path / "bomb.xml"
    bomb.write_text('<!DOCTYPE l [<!ENTITY a "aaaa">]><testsuite>&a;</testsuite>')
    assert cli.main(["report", "junit", "--url", api, str(bomb)]) == 2
    assert cli.main(["report", "junit", "--url", api, str(tmp_path / "missing.xml")]) == 2
    good = tmp_path / "junit.xml"
    good.write_text(JUNIT)
    assert cli.main(["report", "junit", "--url", "file:///etc/passwd", str(good)]) == 2
    monkeypatch.delenv("SELFHEAL_TOKEN")
    assert cli.main(["report", "junit", "--url", api, str(good)]) == 2
    assert Receiver.received == []
