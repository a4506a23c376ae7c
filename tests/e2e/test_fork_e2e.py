"""End to end: the gate on a pull request from a fork, opened by an outsider.

The outsider has no permission on the repository. The gate fetches the head through the base
repository's ``refs/pull/N/head`` (so the installation token never goes to the fork), uses the
policy and configuration of the base, and keeps working on a re-run after the fork is gone:
GitHub lists no pull requests on a fork's check runs, so the re-run finds its PR in the ledger.
"""

from __future__ import annotations

from pathlib import Path

from selfheal.emulator import Emulator, events
from tests.support.e2e import (
    BASE_FILES,
    REPO,
    Server,
    completed_gate,
    gate_runs,
    leaked_token,
    until,
)


async def test_a_fork_pull_request_is_gated_from_the_base_repository(
    github_emulator: Emulator, tmp_path: Path
) -> None:
    emu = github_emulator
    repo = emu.create_repo(REPO, BASE_FILES, private=False)
    mallory = emu.person("mallory", "none", repos=[])
    # The cache folder comes from the settings (as from .env), not the process environment.
    cache = tmp_path / "cache"
    server = await Server.start(emu, tmp_path / "ledger.db", SELFHEAL_DATA_DIR=str(cache))
    try:
        emu.install([repo])
        fork = await mallory.fork(repo)
        # The fork's policy file would open everything: the gate must use the base's.
        leak = "DEBUG = False\nTOKEN = '" + leaked_token() + "'\n"
        sha = await mallory.push(fork, "patch", {
            "app/settings.py": leak, ".github/selfheal.policy": "*  open\n**  open\n",
        })  # fmt: skip
        pr = await mallory.open_pr(repo, "mallory:patch", "Tune settings")
        number = int(pr["number"])
        assert pr["head"]["repo"]["full_name"] == fork.full_name
        assert not (tmp_path / "selfheal-data").exists()

        leaked = await until(lambda: completed_gate(repo, sha), what="fork gate")
        assert (cache / "repos" / f"{REPO}.git").is_dir()
        assert not (tmp_path / "selfheal-data").exists()
        assert leaked.conclusion == "failure", leaked.output
        on_file = [a for a in leaked.annotations if a["path"] == "app/settings.py"]
        assert [(a["start_line"], a["annotation_level"]) for a in on_file] == [(2, "failure")]
        assert any(a["path"] == ".github/selfheal.policy" for a in leaked.annotations)

        # A fix pushed to the fork: synchronize on the base, a new check for the new head.
        policy = BASE_FILES[".github/selfheal.policy"]
        fixed = await mallory.push(fork, "patch", {"app/settings.py": "DEBUG = False\n",
                                                   ".github/selfheal.policy": policy})  # fmt: skip
        passed = await until(lambda: completed_gate(repo, fixed), what="fixed fork gate")
        assert passed.conclusion == "success", passed.output

        # The fork is deleted; a re-run of the check still finds the PR and its head.
        await mallory.delete_repo(fork)
        maintainer = emu.person("maintainer", "admin")
        events.check_run_event(emu, repo, passed, "rerequested", maintainer.user)
        await until(lambda: len(gate_runs(repo, fixed)) == 2
                    and all(r.status == "completed" for r in gate_runs(repo, fixed)),
                    what="re-run after the fork was deleted")  # fmt: skip
        rerun = gate_runs(repo, fixed)[-1]
        assert rerun.conclusion == "success", rerun.output
        # The audit entry follows the check's completion on GitHub: wait for the third one.
        await until(lambda: len(server.audit("gate.completed")) == 3, what="audit entries")
        completions = [e.details for e in server.audit("gate.completed")]
        assert sorted((d["pr"], d["sha"]) for d in completions) == sorted(
            [(number, sha), (number, fixed), (number, fixed)]
        )
    finally:
        await server.stop()
