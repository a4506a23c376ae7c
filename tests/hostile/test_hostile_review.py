"""Hostile changes against `selfheal review`: every spelling of a change to a protected path is
blocked, and a symbolic link to a protected path counts as touching it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pygit2
import pytest

from selfheal.model.policy import load_default_policy
from selfheal.reviewer.diffparse import changeset_from_diff
from selfheal.reviewer.gitchanges import changeset_from_git
from selfheal.reviewer.reviewer import ReviewOptions, review
from selfheal.reviewer.worktree import complete_from_worktree
from selfheal.scanner.engine import ScanOptions
from tests.support.hostile import init_repo, run_selfheal

NEW_LINK = (
    "diff --git a/{path} b/{path}\nnew file mode 120000\n--- /dev/null\n+++ b/{path}\n"
    "@@ -0,0 +1 @@\n+{target}\n\\ No newline at end of file\n"
)
DIFFS = {
    # symbolic links (were approved: only the link's own path was checked)
    "link-to-env": NEW_LINK.format(path="link", target=".env"),
    "link-up-and-over": NEW_LINK.format(path="sub/dir/cfg", target="../../.env"),
    "link-retargeted": (
        "diff --git a/link b/link\nindex 1234567..89abcde 120000\n--- a/link\n+++ b/link\n"
        "@@ -1 +1 @@\n-README.md\n\\ No newline at end of file\n+.github/workflows/ci.yml\n"
        "\\ No newline at end of file\n"
    ),
    "file-becomes-link": (
        "diff --git a/notes b/notes\nold mode 100644\nnew mode 120000\n--- a/notes\n"
        "+++ b/notes\n@@ -1 +1 @@\n-hello\n+id_rsa\n\\ No newline at end of file\n"
    ),
    # a patch series: the second patch of the same file makes it a link (was approved)
    "link-in-a-series": (
        "diff --git a/notes b/notes\n--- a/notes\n+++ b/notes\n@@ -1 +1 @@\n-hello\n+hi\n"
        "diff --git a/notes b/notes\nold mode 100644\nnew mode 120000\n--- a/notes\n"
        "+++ b/notes\n@@ -1 +1 @@\n-hi\n+id_rsa\n\\ No newline at end of file\n"
    ),
    # other spellings of a protected path
    "octal-quoted": (
        'diff --git "a/\\056env" "b/\\056env"\nnew file mode 100644\n--- /dev/null\n'
        '+++ "b/\\056env"\n@@ -0,0 +1 @@\n+X=1\n'
    ),
    "rename-into": "diff --git a/a.txt b/.env\nsimilarity index 100%\nrename from a.txt\n"
    "rename to .env\n",
    "binary-patch": "diff --git a/.env b/.env\nnew file mode 100644\nGIT binary patch\n"
    "literal 3\nKcmZ>Y%>e)a0R#X7\n\nliteral 0\nHcmV?d00001\n\n",
    "mode-only": "diff --git a/.env b/.env\nold mode 100644\nnew mode 100755\n",
    "crlf": "diff --git a/.env b/.env\r\nnew file mode 100644\r\n--- /dev/null\r\n"
    "+++ b/.env\r\n@@ -0,0 +1 @@\r\n+X=1\r\n",
    "header-mismatch": "diff --git a/x b/x\nnew file mode 100644\n--- /dev/null\n"
    "+++ b/.github/workflows/ci.yml\n@@ -0,0 +1 @@\n+on: push\n",
    "upper-case": "diff --git a/.ENV b/.ENV\nnew file mode 100644\n--- /dev/null\n+++ b/.ENV\n"
    "@@ -0,0 +1 @@\n+X=1\n",
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return init_repo(tmp_path_factory.mktemp("hostile-review"))


@pytest.mark.parametrize("name", sorted(DIFFS))
def test_every_spelling_of_a_protected_change_is_blocked(repo: Path, name: str) -> None:
    diff = repo.parent / f"{name}.diff"
    diff.write_bytes(DIFFS[name].encode())
    done = run_selfheal("review", "--repo", str(repo), "--diff", str(diff), "--no-scan")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Decision: block" in done.stdout and "protected-path" in done.stdout


def test_a_later_patch_of_a_series_cannot_hide_an_earlier_secret() -> None:
    """The second patch adds a line above the secret; its context then showed another line
    at the secret's old number, and the secret was no longer scanned."""
    token = "ghp_" + hashlib.sha256(b"series").hexdigest()[:36]
    head = "diff --git a/cfg.py b/cfg.py\n--- a/cfg.py\n+++ b/cfg.py\n"
    first = head + f'@@ -1,3 +1,4 @@\n A = 1\n B = 2\n C = 3\n+TOKEN = "{token}"\n'
    second = head + "@@ -1,3 +1,4 @@\n A = 1\n+X = 0\n B = 2\n C = 3\n"
    options = ReviewOptions(scan=ScanOptions(scanners=frozenset({"secrets"})))
    verdict = review(changeset_from_diff(first + second), load_default_policy(), options=options)
    assert verdict.decision.value == "block"
    secrets = [(f.path, f.line) for f in verdict.findings if f.category.value == "secret"]
    assert secrets == [("cfg.py", 5)]


def test_link_targets_are_resolved_from_the_link_directory() -> None:
    changes = changeset_from_diff(DIFFS["link-up-and-over"].encode())
    (link,) = changes.files
    assert link.link_target == "../../.env"
    assert link.paths == ("sub/dir/cfg", ".env")
    escaping = changeset_from_diff(NEW_LINK.format(path="a", target="../../../etc/passwd").encode())
    assert escaping.files[0].paths == ("a", "etc/passwd")  # `..` stops at the root
    plain = changeset_from_diff(DIFFS["octal-quoted"].encode())
    assert plain.files[0].link_target is None and plain.files[0].paths == (".env",)


def test_a_committed_symlink_to_a_protected_path_blocks_a_git_range(tmp_path: Path) -> None:
    root = init_repo(tmp_path / "repo")
    repo = pygit2.Repository(str(root))
    (root / "config").mkdir()
    os.symlink("../.github/selfheal.policy", root / "config" / "policy")
    repo.index.add("config/policy")
    repo.index.write()
    sig = pygit2.Signature("bot", "bot@example.com")
    repo.create_commit("HEAD", sig, sig, "add a link", repo.index.write_tree(), [repo.head.target])
    (link,) = changeset_from_git(root, "HEAD~1", "HEAD").files
    assert link.link_target == "../.github/selfheal.policy"
    assert link.paths == ("config/policy", ".github/selfheal.policy")
    done = run_selfheal("review", "--repo", str(root), "--base", "HEAD~1", "--no-scan")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "adds a link (config/policy) to .github/selfheal.policy" in done.stdout


def test_a_path_escaping_the_repository_is_a_usage_error(repo: Path) -> None:
    diff = repo.parent / "escape.diff"
    diff.write_text(
        "diff --git a/../../.env b/../../.env\nnew file mode 100644\n--- /dev/null\n"
        "+++ b/../../.env\n@@ -0,0 +1 @@\n+X=1\n"
    )
    done = run_selfheal("review", "--repo", str(repo), "--diff", str(diff), "--no-scan")
    assert done.returncode == 2 and "unsafe path" in done.stderr
    assert "Traceback" not in done.stderr


def _commit_links(root: Path, files: dict[str, str], links: dict[str, str]) -> None:
    """Commit ``files`` in a first commit, then the symbolic ``links`` in a second."""
    repo = pygit2.Repository(str(root))
    sig = pygit2.Signature("bot", "bot@example.com")
    for batch, message in ((files, "files"), (links, "links")):
        for path, value in batch.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            if batch is links:
                os.symlink(value, root / path)
            else:
                (root / path).write_text(value)
            repo.index.add(path)
        repo.index.write()
        tree = repo.index.write_tree()
        repo.create_commit("HEAD", sig, sig, message, tree, [repo.head.target])


FILES = {
    ".github/workflows/ci.yml": "on: push\n",
    "docs/guide.md": "hi\n",
    "src/app.py": "print(1)\n",
    ".env": "X=1\n",
}


@pytest.mark.parametrize(
    ("link", "target", "decision", "says"),
    [
        ("docs/wf", "../.github/workflows", "block", "adds a link (docs/wf) to .github/workflows/"),
        ("ci", ".github", "block", "adds a link (ci) to .github/workflows/ci.yml"),
        ("all", ".", "block", "adds a link (all) to .env"),
        ("up/root", "..", "block", "adds a link (up/root) to .env"),
        ("etc", "../../etc", "needs_approval", "points outside the repository"),
        ("abs", "/etc/passwd", "needs_approval", "points outside the repository"),
        # /docs/CODEOWNERS is protected: a link to docs/ can come to expose it
        ("manual", "docs", "block", "files there are protected by policies/default.policy:"),
        ("code", "src", "approve", ""),
    ],
)
def test_a_link_to_a_directory_touches_the_files_behind_it(
    tmp_path: Path, link: str, target: str, decision: str, says: str
) -> None:
    root = init_repo(tmp_path / "repo")
    _commit_links(root, FILES, {link: target})
    (change,) = changeset_from_git(root, "HEAD~1", "HEAD").files
    assert change.link_target == target
    done = run_selfheal("review", "--repo", str(root), "--base", "HEAD~1", "--no-scan")
    assert f"Decision: {decision}" in done.stdout, done.stdout + done.stderr
    assert says in done.stdout
    assert done.returncode == (0 if decision == "approve" else 1)


def test_a_link_to_a_huge_directory_needs_a_person(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("selfheal.reviewer.changeset.LINK_EXPOSE_LIMIT", 3)
    root = init_repo(tmp_path / "repo")
    _commit_links(root, {f"data/{n}.txt": "x\n" for n in range(5)}, {"more": "data"})
    (change,) = changeset_from_git(root, "HEAD~1", "HEAD").files
    assert len(change.link_exposes) == 3 and change.link_exposes_more
    diff = changeset_from_diff(NEW_LINK.format(path="again", target="data"))
    (listed,) = complete_from_worktree(diff, root).files  # a diff: listed from the work tree
    assert listed.link_exposes == ("data/0.txt", "data/1.txt", "data/2.txt")
    assert listed.link_exposes_more

    verdict = review(
        changeset_from_git(root, "HEAD~1", "HEAD"),
        load_default_policy(),
        options=ReviewOptions(run_scanners=False),
    )
    assert verdict.decision.value == "needs_approval"
    assert any("more than 3 files, not all checked" in f.message for f in verdict.findings)


@pytest.mark.parametrize(
    ("target", "decision", "says"),
    [
        (".github", "block", "adds a link (ci) to .github/workflows/ci.yml"),
        (".", "block", "adds a link (ci) to .env"),
        ("docs", "block", "adds a link (ci) to docs, which can hold CODEOWNERS"),
        ("src", "approve", ""),
        ("missing", "approve", ""),
    ],
)
def test_a_diff_link_to_a_directory_is_listed_from_the_work_tree(
    tmp_path: Path, target: str, decision: str, says: str
) -> None:
    root = init_repo(tmp_path / "repo")
    for path, text in FILES.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    diff = tmp_path / "link.diff"
    diff.write_text(NEW_LINK.format(path="ci", target=target))
    done = run_selfheal("review", "--repo", str(root), "--diff", str(diff), "--no-scan")
    assert f"Decision: {decision}" in done.stdout, done.stdout + done.stderr
    assert says in done.stdout


@pytest.mark.parametrize(
    ("link", "target", "decision", "says"),
    [
        # were approved (risk low): nothing exists there yet, so nothing was listed
        ("build", ".github/workflows", "block", "adds a link (build) to .github/workflows;"),
        ("ci", ".github", "block", "adds a link (ci) to .github;"),
        ("sub/wf", "../.github/workflows/", "block", "adds a link (sub/wf) to .github/workflows;"),
        ("kube", "home/.kube", "block", "adds a link (kube) to home/.kube;"),
        ("all", ".", "block", "adds a link (all) to the repository root;"),
        ("dep", ".github", "block", "`/.github/workflows/`"),
        # a link to a missing protected file already counted; it still does
        ("gl", ".gitlab-ci.yml", "block", "adds a link (gl) to .gitlab-ci.yml, which is protected"),
        # names at any depth (`*.pem`, `.env`) do not make every directory protected
        ("keys", "certs", "approve", ""),
        ("out", "build/output", "approve", ""),
    ],
)
def test_a_link_is_judged_by_the_paths_it_names_even_before_they_exist(
    tmp_path: Path, link: str, target: str, decision: str, says: str
) -> None:
    root = init_repo(tmp_path / "repo")
    _commit_links(root, {"src/app.py": "print(1)\n"}, {link: target})
    done = run_selfheal("review", "--repo", str(root), "--base", "HEAD~1", "--no-scan")
    assert f"Decision: {decision}" in done.stdout, done.stdout + done.stderr
    assert says in done.stdout
    assert done.returncode == (0 if decision == "approve" else 1)


def test_a_link_to_a_missing_workflow_folder_needs_a_person_through_the_api(
    tmp_path: Path,
) -> None:
    root = init_repo(tmp_path / "repo")
    _commit_links(root, {"src/app.py": "print(1)\n"}, {"build": ".github/workflows"})
    changes = changeset_from_git(root, "HEAD~1", "HEAD")
    assert changes.files[0].link_exposes == ()  # nothing there to list
    options = ReviewOptions(run_scanners=False, actor_kind="human")
    verdict = review(changes, load_default_policy(), options=options)
    assert verdict.decision.value == "needs_approval" and verdict.risk.value == "high"
    kinds = {(f.category.value, f.path, f.properties.get("pattern")) for f in verdict.findings}
    assert kinds == {
        ("protected-path", ".github/workflows", "/.github/workflows/"),
        ("sensitive-change", ".github/workflows", None),
    }
    diff = changeset_from_diff(NEW_LINK.format(path="build", target=".github/workflows"))
    listed = complete_from_worktree(diff, root)  # a diff: the work tree has no .github either
    assert review(listed, load_default_policy(), options=options).decision.value == (
        "needs_approval"
    )
