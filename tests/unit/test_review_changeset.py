"""Change sets from real pygit2 repositories, and from target paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfheal.reviewer.changeset import (
    ChangeSetError,
    ChangeStatus,
    changeset_from_paths,
)
from selfheal.reviewer.gitchanges import changeset_from_git, read_blob_text
from tests.support.review_repo import GitRepo

MODULE = "".join(f"def f{i}():\n    return {i}\n\n\n" for i in range(40))


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo(tmp_path / "repo")


def test_range_lists_added_modified_deleted_renamed_and_binary(repo: GitRepo) -> None:
    base = repo.commit(
        {
            "app.py": "import os\n\nprint(1)\n",
            "big.py": MODULE,
            "gone.txt": "bye\n",
            "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00binary",
        },
        "base",
    )
    head = repo.commit(
        {
            "app.py": "import os\nimport sys\n\nprint(1)\nprint(sys.argv)\n",
            "big.py": None,
            "moved/big.py": MODULE.replace("return 7\n", "return 70\n"),
            "gone.txt": None,
            "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00binary-2",
            "new.txt": "hello\nworld\n",
        },
        "head",
    )
    changes = changeset_from_git(repo.path, base[:7], head)
    by_path = {f.path: f for f in changes.files}
    assert set(by_path) == {"app.py", "moved/big.py", "gone.txt", "logo.png", "new.txt"}
    assert changes.kind == "git"
    assert (changes.base, changes.head) == (base, head)

    app = by_path["app.py"]
    assert app.status is ChangeStatus.MODIFIED
    assert app.added_lines == frozenset({2, 5})
    assert app.content == b"import os\nimport sys\n\nprint(1)\nprint(sys.argv)\n"

    moved = by_path["moved/big.py"]
    assert (moved.status, moved.old_path) == (ChangeStatus.RENAMED, "big.py")
    assert moved.paths == ("big.py", "moved/big.py")
    changed_line = MODULE.splitlines().index("    return 7") + 1
    assert moved.added_lines == frozenset({changed_line})

    gone = by_path["gone.txt"]
    assert (gone.status, gone.content, gone.added_lines) == (
        ChangeStatus.DELETED,
        None,
        frozenset(),
    )

    logo = by_path["logo.png"]
    assert logo.binary and logo.content is None

    new = by_path["new.txt"]
    assert (new.status, new.added_lines) == (ChangeStatus.ADDED, frozenset({1, 2}))
    assert changes.read is not None
    assert changes.read("new.txt") == "hello\nworld\n"
    assert changes.read("gone.txt") is None


def test_range_uses_the_merge_base_like_a_pull_request(repo: GitRepo) -> None:
    root = repo.commit({"a.txt": "a\n"}, "root")
    feature = repo.commit({"feature.txt": "f\n"}, "feature", parent=root, ref=None)
    repo.branch("feature", feature)
    main_tip = repo.commit({"main-only.txt": "m\n"}, "main moves on")
    changes = changeset_from_git(repo.path, "main", "feature")
    assert changes.paths == ["feature.txt"]
    assert (changes.base, changes.head) == (root, feature)  # from the merge base
    plain = changeset_from_git(repo.path, "main", "feature", merge_base=False)
    assert sorted(plain.paths) == ["feature.txt", "main-only.txt"]
    assert plain.base == main_tip


def test_bad_refs_and_non_repositories_are_errors(repo: GitRepo, tmp_path: Path) -> None:
    repo.commit({"a.txt": "a\n"})
    with pytest.raises(ChangeSetError, match="unknown git ref 'nope'"):
        changeset_from_git(repo.path, "nope", "HEAD")
    with pytest.raises(ChangeSetError, match="invalid git ref"):
        changeset_from_git(repo.path, "--output=x", "HEAD")
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(ChangeSetError, match="not inside a git repository"):
        changeset_from_git(plain, "HEAD~1", "HEAD")


def test_read_blob_text_reads_a_file_at_a_ref(repo: GitRepo) -> None:
    first = repo.commit({".github/selfheal.policy": "/src/ review\n"})
    repo.commit({".github/selfheal.policy": "* open\n"})
    assert read_blob_text(repo.path, first, ".github/selfheal.policy") == b"/src/ review\n"
    assert read_blob_text(repo.path, "main", ".github/selfheal.policy") == b"* open\n"
    assert read_blob_text(repo.path, "main", "missing") is None


def test_changeset_from_paths_normalises_and_deduplicates() -> None:
    changes = changeset_from_paths(["./src/a.py", "/src/a.py", ".env"])
    assert changes.kind == "paths"
    assert changes.paths == ["src/a.py", ".env"]
    assert all(f.content is None and not f.added_lines for f in changes.files)
    with pytest.raises(ChangeSetError):
        changeset_from_paths(["  "])


def test_submodule_bump_is_flagged_as_unscannable(repo: GitRepo) -> None:
    import pygit2

    base = repo.commit({"README.md": "hi\n"})
    index = pygit2.Index()
    index.read_tree(repo.repo[base].peel(pygit2.Commit).tree)
    gitlink = pygit2.Oid(hex="1" * 40)  # a commit of another repository
    index.add(pygit2.IndexEntry("vendor/lib", gitlink, pygit2.enums.FileMode.COMMIT))
    tree = index.write_tree(repo.repo)
    sig = pygit2.Signature("t", "t@example.com", 1_700_000_100, 0)
    head = repo.repo.create_commit(
        "refs/heads/main", sig, sig, "bump", tree, [pygit2.Oid(hex=base)]
    )
    (sub,) = changeset_from_git(repo.path, base, str(head)).files
    assert (sub.path, sub.status, sub.binary, sub.content) == (
        "vendor/lib",
        ChangeStatus.ADDED,
        True,
        None,
    )
