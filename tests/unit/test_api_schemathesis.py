"""schemathesis against the running API: no server error, answers that match the document.

The server is the real one (``create_app`` with the registry's features) with the emulator
behind it and one installed repository, so requests are really filed; the worker is off
(``SELFHEAL_WORKERS=0``), so the filed issues are not worked on. schemathesis runs as its own
process with a fixed seed and a bounded number of examples per operation.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

from selfheal.api import OPERATIONS
from selfheal.emulator import Emulator
from selfheal.ledger import installations
from tests.support.api_e2e import api_url, make_token
from tests.support.e2e import BASE_FILES, REPO, Server

CHECKS = ",".join([
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
])  # fmt: skip
MAX_EXAMPLES = 12
RUN_SECONDS = 240


def _command() -> list[str]:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert found is not None, "schemathesis is in the test extra: pip install -e '.[test]'"
    return [found]


async def test_schemathesis_finds_no_server_error_or_schema_violation(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo = emu.create_repo(REPO, BASE_FILES)
    server = await Server.start(
        emu, tmp_path / "ledger.db", SELFHEAL_WORKERS="0", SELFHEAL_API_RATE="10000",
        SELFHEAL_API_BURST="10000", SELFHEAL_API_CONCURRENCY="64",
    )  # fmt: skip
    try:
        inst = emu.install([repo])
        # the worker is off, so the ledger learns of the installation here, not by webhook
        server.ledger.write(lambda c: installations.upsert_installation(c, inst.id, "acme"))
        server.ledger.write(lambda c: installations.upsert_repository(c, repo.id, REPO, inst.id))
        token = make_token(server, "fuzz", [REPO])
        base = api_url(server)
        env = {**os.environ, "SCHEMATHESIS_TELEMETRY": "false", "NO_COLOR": "1"}
        process = await asyncio.create_subprocess_exec(
            *_command(), "run", f"{base}/api/openapi.json", "--url", base,
            "--checks", CHECKS, "--max-examples", str(MAX_EXAMPLES), "--seed", "1",
            "--workers", "1", "--header", f"Authorization: Bearer {token}",
            "--phases", "examples,coverage,fuzzing", "--no-color",
            # a loaded machine must not turn hypothesis' speed checks into skipped operations
            "--suppress-health-check", "all",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env,
            cwd=tmp_path,
        )  # fmt: skip
        try:
            output, _ = await asyncio.wait_for(process.communicate(), RUN_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        text = output.decode(errors="replace")
        assert process.returncode == 0, text[-6000:]
        # every operation in the document was reached, not skipped
        assert f"Tested: {len(OPERATIONS)}" in text, text[-3000:]
    finally:
        await server.stop()
