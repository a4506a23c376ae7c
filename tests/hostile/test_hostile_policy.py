"""Path tricks against the policy, and hostile policy files through the real CLI.

A protected default must not become open through spelling: ``./``, ``..``, ``//``,
backslashes, and the names a case-insensitive checkout (Windows, macOS by default) treats as
the same file (``.ENV``, ``KEY.PEM``, ``.env.``, ``.env `` with a trailing space).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.model.policy import Level, load_effective_policy
from tests.support.hostile import init_repo, run_selfheal

OPEN_EVERYTHING = "*  open\n**  open\n"


@pytest.mark.parametrize(
    "path",
    [
        "./.env",
        "a/../.env",
        "../../.env",
        "/.env",
        ".github//workflows/ci.yml",
        "./.github/workflows/../workflows/ci.yml",
        ".github\\workflows\\ci.yml",
        "src\\config\\.env",
        # case-insensitive and trailing-dot/space aliases (were open)
        ".ENV",
        "config/.Env",
        ".ENV.production",
        "deploy/KEY.PEM",
        "certs/Server.Key",
        "ID_RSA",
        "home/.SSH/Id_Ed25519",
        ".env.",
        ".env ",
        "Secrets.JSON",
        ".GitHub/Workflows/release.yml",
        ".Github/selfheal.policy",
    ],
)
@pytest.mark.parametrize("repo_text", [None, OPEN_EVERYTHING], ids=["defaults", "repo-opens-all"])
def test_spellings_of_protected_paths_stay_protected(path: str, repo_text: str | None) -> None:
    policy = load_effective_policy(repo_text)
    assert policy.level_of(path) is Level.PROTECTED, path


@pytest.mark.parametrize(
    ("path", "level"),
    [
        ("config/prod.yml", Level.PROTECTED),
        ("Config/PROD.yml", Level.PROTECTED),
        ("config/prod.yml.", Level.PROTECTED),
        ("DEPLOY/run.sh", Level.REVIEW),
        ("Docs/Guide.md", Level.OPEN),
    ],
)
def test_a_repository_policy_folds_case_like_the_defaults(path: str, level: Level) -> None:
    policy = load_effective_policy("config/prod.yml protected\ndeploy/ review\n")
    assert policy.level_of(path) is level, path


def test_folding_only_ever_tightens() -> None:
    policy = load_effective_policy(OPEN_EVERYTHING)
    # Templates stay `review`, not `protected`, in any case.
    assert policy.level_of(".Env.Example") is Level.REVIEW
    assert policy.level_of(".env.example") is Level.REVIEW
    # Ordinary files stay open. A repository rule folds too, but only to raise a level.
    assert policy.level_of("src/Readme.md") is Level.OPEN
    strict = load_effective_policy("/Secret/  protected\n/Public/ open\n")
    assert strict.level_of("Secret/a.txt") is Level.PROTECTED
    assert strict.level_of("secret/a.txt") is Level.PROTECTED
    assert strict.level_of("public/a.txt") is Level.OPEN


def test_explain_says_why_an_alias_is_protected(tmp_path: Path) -> None:
    done = run_selfheal("policy", "explain", ".ENV", "KEY.PEM", "README.md", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert ".ENV: protected by policies/default.policy" in done.stdout
    assert "is .env on a case-insensitive checkout" in done.stdout
    assert "KEY.PEM: protected" in done.stdout
    assert "README.md: no rule matched: open" in done.stdout


def test_review_blocks_a_bot_adding_an_upper_case_env_file(tmp_path: Path) -> None:
    repo_dir = init_repo(tmp_path / "repo")
    diff = tmp_path / "change.diff"
    diff.write_text(
        "diff --git a/.ENV b/.ENV\nnew file mode 100644\n--- /dev/null\n+++ b/.ENV\n"
        "@@ -0,0 +1 @@\n+DEBUG=1\n"
    )
    done = run_selfheal("review", "--repo", str(repo_dir), "--diff", str(diff), "--no-scan")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Decision: block" in done.stdout and "protected-path" in done.stdout


@pytest.mark.parametrize(
    ("content", "code", "message"),
    [
        (b"src/\xff\xfe  protected\n", 1, "1: error: invalid UTF-8"),
        (b"ok  open\nbad\xc3  protected\n", 1, "2: error: invalid UTF-8"),
        (b"a" * 2_000_000 + b"  protected\n", 1, "larger than 1048576 bytes"),
        (b"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b  protected\n", 0, "ok (1 rules)"),
        (b"[ab]  protected\n", 1, "character ranges"),
        (b"!.env  open\n", 1, "negation"),
        (b"a//b  open\n", 1, "empty path segment"),
        (b"x  protected  not-an-owner\n", 1, "bad owner"),
    ],
    ids=[
        "invalid-utf8",
        "invalid-utf8-line-2",
        "oversized",
        "redos-shape",
        "range",
        "negation",
        "empty-segment",
        "bad-owner",
    ],
)
def test_policy_check_reports_hostile_files(
    tmp_path: Path, content: bytes, code: int, message: str
) -> None:
    path = tmp_path / "selfheal.policy"
    path.write_bytes(content)
    done = run_selfheal("policy", "check", str(path))
    assert done.returncode == code, done.stdout + done.stderr
    assert message in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_policy_commands_on_unreadable_paths_exit_2(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "p.policy"
    if kind == "directory":
        path.mkdir()
    for args in (("policy", "check", str(path)), ("policy", "explain", "x", "--policy", str(path))):
        done = run_selfheal(*args)
        assert done.returncode == 2, done.stderr
        assert "cannot read policy file" in done.stderr and "Traceback" not in done.stderr
