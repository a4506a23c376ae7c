"""Secrets never reach output: reports in every format, logs of the live server, the ledger.

Tokens are built at run time from random characters (a literal token in the repository would
itself be a leak, and would trip GitHub's push protection).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import random
import string
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from gidgethub.sansio import Event

from selfheal.ledger import Ledger, jobs
from selfheal.runtime.context import JobContext, Wiring
from selfheal.runtime.logs import MASK, mask, setup_logging
from selfheal.runtime.server import create_app
from tests.support.appcore import SECRET, make_settings, pull_request_payload, sign
from tests.support.hostile import init_repo, run_selfheal

RNG = random.Random(20261125)
ALNUM = string.ascii_letters + string.digits


def _rand(n: int, chars: str = ALNUM) -> str:
    return "".join(RNG.choice(chars) for _ in range(n))


TOKENS = {
    "github": "ghp_" + _rand(36),
    "installation": "ghs_" + _rand(36),
    "aws-id": "AKIA" + _rand(16, string.ascii_uppercase + string.digits),
    "slack": f"xoxb-{_rand(12, string.digits)}-{_rand(12, string.digits)}-{_rand(24)}",
    "anthropic": "sk-ant-api03-" + _rand(93) + "AA",
    "stripe": "sk_live_" + _rand(24),
}
DB_PASSWORD = _rand(20)


def _leaks(text: str) -> list[str]:
    """Names of the tokens of which 12 or more consecutive characters appear in ``text``."""
    found = []
    for name, token in [*TOKENS.items(), ("db-password", DB_PASSWORD)]:
        if any(token[i : i + 12] in text for i in range(len(token) - 11)):
            found.append(name)
    return found


def _source() -> str:
    lines = [f'{name.upper().replace("-", "_")} = "{tok}"' for name, tok in TOKENS.items()]
    lines.append(f'DB = "postgres://admin:{DB_PASSWORD}@db.example.com/app"')
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def leaky_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = init_repo(tmp_path_factory.mktemp("leaky"))
    (root / "settings.py").write_text(_source())
    return root


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "markdown"])
def test_review_reports_name_every_secret_and_show_none(leaky_repo: Path, fmt: str) -> None:
    diff = leaky_repo.parent / f"leak-{fmt}.diff"
    body = "".join(f"+{line}\n" for line in _source().splitlines())
    count = len(_source().splitlines())
    diff.write_text(
        "diff --git a/settings.py b/settings.py\nnew file mode 100644\n--- /dev/null\n"
        f"+++ b/settings.py\n@@ -0,0 +1,{count} @@\n{body}"
    )
    out = leaky_repo.parent / f"report.{fmt}"
    done = run_selfheal(
        "review", "--repo", str(leaky_repo), "--diff", str(diff), "--scanners", "secrets",
        "--format", fmt, "--output", str(out), cwd=leaky_repo,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    report = out.read_text()
    assert "secret-github-token" in report and "secret-connection-string" in report
    assert _leaks(report + done.stdout + done.stderr) == []


def test_scan_outputs_in_every_format_show_no_secret(leaky_repo: Path) -> None:
    """One scan writes JSON, SARIF, the step summary and workflow annotations at once."""
    work = leaky_repo.parent
    done = run_selfheal(
        "scan", str(leaky_repo), "--no-progress", "--format", "json",
        "--output", str(work / "scan.json"), "--sarif-file", str(work / "scan.sarif"),
        "--summary-file", str(work / "summary.md"), "--annotations",
        cwd=work, env={"GITHUB_ACTIONS": "true"},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    findings = json.loads((work / "scan.json").read_text())["findings"]
    rules = {f["rule_id"] for f in findings}
    assert {"secret-github-token", "secret-slack-token", "secret-stripe-live-key"} <= rules
    everything = done.stdout + done.stderr
    for name in ("scan.json", "scan.sarif", "summary.md"):
        everything += (work / name).read_text()
    assert "::error" in done.stdout  # the annotations were printed
    assert _leaks(everything) == []


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = setup_logging("DEBUG", secrets=[SECRET], stream=out, json_lines=True)
    yield out
    logging.getLogger().removeHandler(handler)


def test_credentials_in_free_text_are_masked_in_logs(log_stream: io.StringIO) -> None:
    log = logging.getLogger("app.hostile")
    basic = "dXNlcjp" + _rand(24)
    log.info("calling with Authorization: Basic %s", basic)
    log.info("cloning https://oauth2:%s@git.example.com/o/r.git", DB_PASSWORD)
    log.info("minted: %s", json.dumps({"token": "v1." + _rand(40), "expires_at": "x"}))
    out = log_stream.getvalue()
    assert basic not in out and DB_PASSWORD not in out and "v1." not in out
    assert out.count(MASK) == 3
    # Ordinary text is left alone.
    assert mask("see https://github.com/o/r and git@github.com:o/r.git") == (
        "see https://github.com/o/r and git@github.com:o/r.git"
    )


@pytest.fixture
async def failing_server(tmp_path: Path) -> AsyncIterator[tuple[TestServer, Ledger]]:
    ledger = Ledger.open(tmp_path / "leak.db")
    settings = make_settings(tmp_path / "leak.db", SELFHEAL_WORKERS="1")

    async def explode(event: Event, ctx: JobContext) -> None:
        body = event.data["pull_request"]["body"]
        raise RuntimeError(f"GitHub said 422 for {body}")

    async def factory(installation_id: int | None) -> Any:
        return None

    app = create_app(
        settings, ledger=ledger, github_factory=factory, wiring=Wiring(dispatchers=(explode,))
    )
    srv = TestServer(app, host="127.0.0.1", port=0)
    await srv.start_server()
    yield srv, ledger
    await srv.close()
    ledger.close()


async def test_server_logs_and_ledger_errors_hold_no_token(
    failing_server: tuple[TestServer, Ledger], log_stream: io.StringIO
) -> None:
    srv, ledger = failing_server
    payload = pull_request_payload()
    payload["pull_request"]["body"] = (
        f"use {TOKENS['installation']} or https://x-access-token:{TOKENS['github']}@github.com"
    )
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": "leak-1",
        "X-Hub-Signature-256": sign(body),
        "Authorization": f"Bearer {TOKENS['anthropic']}",
    }
    url = srv.make_url("/webhook").with_query(access_token=TOKENS["stripe"])
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=body, headers=headers) as resp:
            assert resp.status == 202
        bad = dict(headers, **{"X-Hub-Signature-256": "sha256=" + "0" * 64})
        async with session.post(url, data=body, headers=bad) as resp:
            assert resp.status == 401
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while "job failed" not in log_stream.getvalue():
        assert loop.time() < deadline, "the job never failed"
        await asyncio.sleep(0.02)
    stored = ledger.read(lambda c: jobs.find(c, status=None, kind=None, limit=5))
    errors = " ".join(j.last_error or "" for j in stored)
    assert "GitHub said 422" in errors + log_stream.getvalue()
    assert _leaks(log_stream.getvalue()) == []
    assert _leaks(errors) == []
    assert SECRET not in log_stream.getvalue()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "text",
    [
        "eyJ-" * 100_000,  # a JWT-looking start at every word: quadratic before the bound
        "a1." * 100_000,  # a URL-scheme-looking start at every word
        '"' + "token" * 40_000,  # a sensitive JSON key that never closes
        ("a://" + "u" * 300 + ":") * 1_000,
    ],
    ids=["jwt-starts", "scheme-starts", "open-json-key", "userinfo-without-at"],
)
def test_masking_hostile_text_finishes(text: str) -> None:
    """Exception messages can carry issue text of any size; masking them must stay linear
    (bounded by the test timeout, not timed: the old patterns took minutes here)."""
    assert len(mask(text)) > 0


def test_a_token_used_as_a_mapping_key_in_log_fields_is_masked(log_stream: io.StringIO) -> None:
    """Fields are masked by key name and by value; a secret can also sit in a key (a cache
    keyed by token, a header dict dumped whole), which only a pass over the line catches."""
    token = TOKENS["installation"]
    logging.getLogger("app.hostile").info(
        "token cache", extra={"cache": {token: "installation 7"}, "items": [{token: 1}]}
    )
    assert token not in log_stream.getvalue()
    assert "installation 7" in log_stream.getvalue()
