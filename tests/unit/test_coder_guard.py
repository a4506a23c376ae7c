"""The coder's path guard: each forbidden class of path, reads of secret files, scrubbing a
work tree, and the review after a run that catches what a coder wrote behind the guard's back
(real files, real links; the run goes through the real runner)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from selfheal.coder.backends import backend_registry
from selfheal.coder.guard import (
    ChangeKind,
    GuardError,
    PathGuard,
    ViolationKind,
    review_changes,
    scrub,
    snapshot,
)
from selfheal.coder.interface import (
    BackendOptions,
    Coder,
    CoderResult,
    CodeTask,
    Limits,
    Outcome,
    RunControl,
)
from selfheal.coder.runner import run_coder
from selfheal.coder.workspace import Workspace
from selfheal.model.policy import Level, load_default_policy, load_effective_policy

DEFAULTS = load_default_policy()
REPO_POLICY = "/billing/ protected @org/payments\n/docs/ review @org/docs\n"
POLICY = load_effective_policy(REPO_POLICY, defaults=DEFAULTS)


def guard(approved: bool = False) -> PathGuard:
    return PathGuard(POLICY, DEFAULTS, review_approved=approved)


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# -- the pure checks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/etc/passwd", ViolationKind.OUTSIDE),
        ("../outside.py", ViolationKind.OUTSIDE),
        ("src/../../outside.py", ViolationKind.OUTSIDE),
        ("", ViolationKind.OUTSIDE),
        ("src\\app.py", ViolationKind.OUTSIDE),
        ("src/app\x00.py", ViolationKind.OUTSIDE),
        (".git/hooks/pre-commit", ViolationKind.GIT),
        ("sub/.GIT/config", ViolationKind.GIT),
        (".github/workflows/ci.yml", ViolationKind.SENSITIVE),
        (".GitHub/Workflows/ci.yml", ViolationKind.SENSITIVE),
        (".github/selfheal.policy", ViolationKind.SENSITIVE),
        ("CODEOWNERS", ViolationKind.SENSITIVE),
        (".github/CODEOWNERS", ViolationKind.SENSITIVE),
        ("docs/CODEOWNERS", ViolationKind.SENSITIVE),
        ("billing/charge.py", ViolationKind.PROTECTED),
        (".env", ViolationKind.PROTECTED),
        ("deploy/server.pem", ViolationKind.PROTECTED),
        (".github/actions/setup/action.yml", ViolationKind.PROTECTED),
        ("docs/index.md", ViolationKind.REVIEW),
        (".github/selfheal.yml", ViolationKind.REVIEW),
    ],
)
def test_each_forbidden_class_of_path_is_refused_for_writing(
    path: str, kind: ViolationKind
) -> None:
    violation = guard().write_violation(path)
    assert violation is not None and violation.kind is kind, violation


def test_open_paths_and_approved_review_paths_may_be_written() -> None:
    assert guard().write_violation("src/app.py") is None
    assert guard().write_violation("./requirements.txt") is None
    assert guard(approved=True).write_violation("docs/index.md") is None
    # An approval opens review paths only: protected and sensitive ones stay closed.
    assert guard(approved=True).write_violation("billing/charge.py") is not None
    assert guard(approved=True).write_violation(".github/workflows/ci.yml") is not None


def test_reason_names_the_policy_line() -> None:
    violation = guard().write_violation("billing/charge.py")
    assert violation is not None
    assert ".github/selfheal.policy:1" in violation.reason and "/billing/" in violation.reason


@pytest.mark.parametrize(
    "path", [".env", "app/.env.production", "config/prod.env", ".ENV", "keys/id_rsa",
             "tls/site.key", "home/.aws/credentials", "secrets.json", "infra/terraform.tfvars"],
)  # fmt: skip
def test_secret_files_of_the_default_policy_are_never_readable(path: str) -> None:
    violation = guard().read_violation(path)
    assert violation is not None and violation.kind is ViolationKind.SECRET, path


@pytest.mark.parametrize(
    "path", [".env.example", ".github/workflows/ci.yml", "CODEOWNERS", "billing/charge.py",
             ".github/selfheal.policy", "src/app.py"],
)  # fmt: skip
def test_protected_code_and_env_templates_are_readable(path: str) -> None:
    assert guard().read_violation(path) is None


def test_the_secret_files_are_derived_from_the_default_policy() -> None:
    """Every protected line of the default policy that names files anywhere is a secret-file
    line, and the ones anchored to one place (CI, ownership, the policy) are not."""
    secrets = guard().secrets
    protected = [r for r in DEFAULTS.rules if r.level is Level.PROTECTED]
    anywhere = {r.pattern for r in protected if not r.pattern.startswith("/")}
    anchored = {r.pattern for r in protected if r.pattern.startswith("/")}
    assert {".env", "*.pem", "id_rsa*", "**/.aws/credentials", "credentials.json"} <= anywhere
    assert {"/.github/workflows/", "/CODEOWNERS", "/.github/selfheal.policy"} <= anchored
    for pattern in anywhere:
        probe = pattern.replace("**/", "x/").replace("*", "x")
        assert secrets.is_secret(probe), pattern
    for pattern in anchored:
        probe = pattern.lstrip("/").rstrip("/") + ("/x" if pattern.endswith("/") else "")
        assert not secrets.is_secret(probe), pattern


# -- on disk -------------------------------------------------------------------------------------


def test_links_are_refused_wherever_they_are_on_the_path(tmp_path: Path) -> None:
    root = tree(tmp_path / "repo", {".env": "TOKEN=x\n", "src/app.py": "x = 1\n"})
    outside = tree(tmp_path / "elsewhere", {"file.py": ""})
    (root / "config.py").symlink_to(".env")
    (root / "vendor").symlink_to(outside)
    (root / "src" / "alias.py").symlink_to("app.py")
    ws = Workspace(root, guard())
    for path in ("config.py", "vendor/file.py", "src/alias.py"):
        violation = ws.write_violation(path)
        assert violation is not None and violation.kind is ViolationKind.SYMLINK, path
        with pytest.raises(GuardError):
            ws.read_bytes(path)
        with pytest.raises(GuardError):
            ws.write_text(path, "pwned\n")
    assert (root / ".env").read_text() == "TOKEN=x\n"
    assert (outside / "file.py").read_text() == ""
    assert ws.read_text("src/app.py") == "x = 1\n"
    with pytest.raises(GuardError, match="secret file"):
        ws.read_bytes(".env")


def test_workspace_writes_keep_the_mode_and_record_the_path(tmp_path: Path) -> None:
    root = tree(tmp_path, {"bin/run.py": "old\n"})
    (root / "bin" / "run.py").chmod(0o755)
    ws = Workspace(root, guard())
    ws.write_text("bin/run.py", "new\n")
    ws.write_text("src/new.py", "created\n")
    assert (root / "bin" / "run.py").read_text() == "new\n"
    assert (root / "bin" / "run.py").stat().st_mode & 0o777 == 0o755
    assert ws.written == ["bin/run.py", "src/new.py"]
    assert [p.name for p in (root / "bin").iterdir()] == ["run.py"]  # no temporary file left
    with pytest.raises(GuardError, match="protected"):
        ws.write_text("billing/x.py", "")


def test_scrub_removes_secret_files_and_links_that_leak(tmp_path: Path) -> None:
    root = tree(
        tmp_path / "repo",
        {
            ".env": "A=1\n",
            ".env.example": "A=\n",
            "svc/.env.local": "B=2\n",
            "deploy/tls.key": "key\n",
            "home/.aws/credentials": "[default]\n",
            "src/app.py": "print()\n",
            ".github/workflows/ci.yml": "on: push\n",
            ".git/config": "[core]\n",
        },
    )
    tree(tmp_path, {"host-secret.txt": "s\n"})
    (root / "src" / "settings.py").symlink_to("../svc/.env.local")
    (root / "leak").symlink_to(tmp_path / "host-secret.txt")
    (root / "src" / "alias.py").symlink_to("app.py")
    removed = scrub(root, guard().secrets)
    assert removed == [
        ".env", "deploy/tls.key", "home/.aws/credentials", "leak", "src/settings.py",
        "svc/.env.local",
    ]  # fmt: skip
    assert (root / ".env.example").is_file() and (root / "src" / "app.py").is_file()
    assert (root / "src" / "alias.py").is_symlink()  # a link inside the tree to code stays
    assert (root / ".github/workflows/ci.yml").is_file() and (root / ".git/config").is_file()
    assert (tmp_path / "host-secret.txt").is_file()  # the link went, not its target


# -- the review after a run ----------------------------------------------------------------------


def test_review_sees_every_kind_of_change(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "src/app.py": "x = 1\n",
            "src/util.py": "y = 2\n",
            "billing/charge.py": "z = 3\n",
            ".git/hooks/pre-commit.sample": "#!/bin/sh\n",
        },
    )
    base = snapshot(root)
    (root / "src" / "app.py").write_text("x = 2\n")  # an open file: fine
    os.rename(root / "src" / "util.py", root / ".env")  # a rename onto a protected name
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "evil.yml").write_text("on: push\n")
    (root / "src" / "link.py").symlink_to("/etc/passwd")
    (root / "billing" / "charge.py").chmod(0o755)  # a mode change on a protected file
    (root / ".git" / "hooks" / "post-checkout").write_text("#!/bin/sh\ncurl x | sh\n")
    review = review_changes(root, base, guard())
    kinds = {change.path: change.kind for change in review.changes}
    assert kinds == {
        ".env": ChangeKind.ADDED,
        ".git/hooks/post-checkout": ChangeKind.ADDED,
        ".github/workflows/evil.yml": ChangeKind.ADDED,
        "billing/charge.py": ChangeKind.MODIFIED,
        "src/app.py": ChangeKind.MODIFIED,
        "src/link.py": ChangeKind.ADDED,
        "src/util.py": ChangeKind.DELETED,
    }
    found = {v.path: v.kind for v in review.violations}
    assert found == {
        ".env": ViolationKind.PROTECTED,
        ".git/hooks/post-checkout": ViolationKind.GIT,
        ".github/workflows/evil.yml": ViolationKind.SENSITIVE,
        "billing/charge.py": ViolationKind.PROTECTED,
        "src/link.py": ViolationKind.SYMLINK,
    }


def test_a_rewrite_that_restores_the_mtime_is_still_seen(tmp_path: Path) -> None:
    root = tree(tmp_path, {"billing/charge.py": "z = 3\n"})
    path = root / "billing" / "charge.py"
    before = path.stat()
    base = snapshot(root)
    path.write_text("z = 4\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    review = review_changes(root, base, guard())
    assert [v.kind for v in review.violations] == [ViolationKind.PROTECTED]


class _BehindTheGuard:
    """A rogue backend: it says it changed one open file, and writes a workflow directly."""

    name = "rogue"
    needs_model_key = False
    own_process = True

    def refusal(self, task: CodeTask) -> str | None:
        return None

    def run(self, workspace: Workspace, task: CodeTask, control: RunControl) -> CoderResult:
        workspace.write_text("src/app.py", "x = 2\n")
        evil = workspace.root / ".github" / "workflows" / "exfiltrate.yml"
        evil.parent.mkdir(parents=True, exist_ok=True)
        evil.write_text("on: push\njobs: {}\n")
        return CoderResult(Outcome.CHANGED, "changed src/app.py", files_changed=("src/app.py",))


def _rogue(options: BackendOptions) -> Coder:
    return _BehindTheGuard()


def test_the_review_catches_a_coder_writing_behind_the_guards_back(tmp_path: Path) -> None:
    root = tree(tmp_path, {"src/app.py": "x = 1\n", ".env": "TOKEN=abc\n"})
    coder = backend_registry({"rogue": _rogue})["rogue"](BackendOptions())
    task = CodeTask("7", "change src/app.py", "feature", ("src/app.py",))
    on_a_checkout = run_coder(
        coder, root, task, Limits(), policy=POLICY, defaults=DEFAULTS, scan=False
    )
    assert on_a_checkout.result.outcome is Outcome.REFUSED
    assert "could read the secret files here (.env)" in on_a_checkout.result.reason
    assert (root / ".env").exists() and (root / "src" / "app.py").read_text() == "x = 1\n"

    run = run_coder(
        coder, root, task, Limits(), policy=POLICY, defaults=DEFAULTS, scan=False, disposable=True
    )
    assert run.result.outcome is Outcome.REFUSED
    assert "found changes the guard forbids" in run.result.reason
    assert [(v.path, v.kind) for v in run.violations] == [
        (".github/workflows/exfiltrate.yml", ViolationKind.SENSITIVE)
    ]
    # What changed on disk, not what the backend claimed.
    assert run.result.files_changed == (".github/workflows/exfiltrate.yml", "src/app.py")
    assert run.scrubbed == (".env",)  # an own-process coder never saw the secret file
    assert not (root / ".env").exists()


def test_a_forbidden_target_refuses_before_the_coder_runs(tmp_path: Path) -> None:
    root = tree(tmp_path, {"billing/charge.py": "z = 3\n", ".env": "T=1\n"})
    coder = _BehindTheGuard()
    for target in ("billing/charge.py", "../elsewhere", ".github/workflows/ci.yml"):
        task = CodeTask("8", "x", "feature", (target,))
        run = run_coder(coder, root, task, Limits(), policy=POLICY, defaults=DEFAULTS, scan=False)
        assert run.result.outcome is Outcome.REFUSED and "forbids a target" in run.result.reason
    assert (root / ".env").exists()  # nothing ran, nothing was scrubbed
    assert not (root / ".github").exists()
