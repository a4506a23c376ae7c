"""changed_lines_since: staged, unstaged, untracked and deleted changes against a ref, with the
exact line numbers that were added or changed."""

from __future__ import annotations

from pathlib import Path

import pygit2

from selfheal.scanner.gitdiff import changed_lines_since


def _commit_all(repo: pygit2.Repository, message: str) -> None:
    repo.index.add_all()
    repo.index.write()
    tree = repo.index.write_tree()
    sig = pygit2.Signature("t", "t@example.com")
    parents = [] if repo.head_is_unborn else [repo.head.target]
    repo.create_commit("HEAD", sig, sig, message, tree, parents)


def test_every_kind_of_change_is_found_with_its_lines(tmp_path: Path) -> None:
    repo = pygit2.init_repository(str(tmp_path))
    (tmp_path / "kept.py").write_text("a = 1\nb = 2\nc = 3\n")
    (tmp_path / "edited.py").write_text("x = 1\ny = 2\n")
    (tmp_path / "staged.py").write_text("s = 1\n")
    (tmp_path / "gone.py").write_text("g = 1\n")
    (tmp_path / "reverted.py").write_text("r = 1\n")
    _commit_all(repo, "base")

    (tmp_path / "edited.py").write_text("x = 1\ny = 20\nz = 3\n")  # unstaged edit
    (tmp_path / "staged.py").write_text("s = 1\nt = 2\n")
    (tmp_path / "reverted.py").write_text("r = 2\n")
    repo.index.add("staged.py")
    repo.index.add("reverted.py")
    repo.index.write()
    (tmp_path / "reverted.py").write_text("r = 1\n")  # staged, then changed back
    (tmp_path / "gone.py").unlink()
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "untracked.py").write_text("n = 1\nm = 2\n")

    assert changed_lines_since(tmp_path, "HEAD") == {
        "edited.py": frozenset({2, 3}),
        "staged.py": frozenset({2}),
        "new/untracked.py": frozenset({1, 2}),
    }


def test_a_subdirectory_root_reports_paths_relative_to_it(tmp_path: Path) -> None:
    repo = pygit2.init_repository(str(tmp_path))
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text("v = 1\n")
    (tmp_path / "top.py").write_text("t = 1\n")
    _commit_all(repo, "base")
    (tmp_path / "pkg" / "m.py").write_text("v = 1\nw = 2\n")
    (tmp_path / "top.py").write_text("t = 2\n")
    assert changed_lines_since(tmp_path / "pkg", "HEAD") == {"m.py": frozenset({2})}
