"""The tree walker and the --base diff: every robustness case on real files and real git repos.

Tests run as root, so ``chmod 000`` cannot make a file unreadable; the "unreadable" cases
used here are a FIFO (a special file that would block a naive reader), a dangling symlink, a
directory that vanishes between listing and reading, and ``read_text`` on a missing path.
"""

from __future__ import annotations

import os
from pathlib import Path

import pygit2
import pytest

from selfheal.scanner import ScanInputError, files
from selfheal.scanner.files import (
    REASON_BINARY,
    REASON_EXCLUDED,
    REASON_IGNORED,
    REASON_SPECIAL,
    REASON_SYMLINK_BROKEN,
    REASON_SYMLINK_IN,
    REASON_SYMLINK_OUT,
    REASON_VENDORED,
    FileText,
    is_binary,
    matches_any,
    read_text,
    walk_tree,
)
from selfheal.scanner.gitdiff import changed_lines_since

SIGNATURE = pygit2.Signature("Test", "test@example.com", 1_700_000_000, 0)


def commit_all(repo: pygit2.Repository, message: str) -> pygit2.Oid:
    repo.index.add_all()
    repo.index.write()
    tree = repo.index.write_tree()
    parents = [] if repo.head_is_unborn else [repo.head.target]
    return repo.create_commit("HEAD", SIGNATURE, SIGNATURE, message, tree, parents)


def write(root: Path, rel: str, data: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding="utf-8")
    return path


def test_walk_skips_and_reports_every_hazard(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    outside = tmp_path / "outside.txt"
    outside.write_text("secret outside\n")
    write(root, "app/main.py", "print('hi')\n")
    write(root, "node_modules/pkg/index.js", "x = 1\n")
    write(root, "vendor/lib.py", "x = 1\n")
    write(root, ".venv/lib/site.py", "x = 1\n")
    write(root, "docs/generated/a.py", "x = 1\n")
    os.symlink(outside, root / "escape.txt")
    os.symlink(root / "app", root / "app_link")
    os.symlink(root / "loop_a", root / "loop_b")
    os.symlink(root / "loop_b", root / "loop_a")
    os.symlink(root / "app" / "main.py", root / "main_link.py")
    os.mkfifo(root / "pipe")

    result = walk_tree(root, exclude=("docs/generated/**",))

    assert result.files == ["app/main.py"]
    skipped = dict(result.skipped)
    assert skipped["node_modules/"] == REASON_VENDORED
    assert skipped["vendor/"] == REASON_VENDORED
    assert skipped[".venv/"] == REASON_VENDORED
    assert skipped["docs/generated/"] == REASON_EXCLUDED
    assert skipped["escape.txt"] == REASON_SYMLINK_OUT
    assert skipped["app_link"] == REASON_SYMLINK_IN
    assert skipped["main_link.py"] == REASON_SYMLINK_IN
    assert skipped["loop_a"] == REASON_SYMLINK_BROKEN
    assert skipped["loop_b"] == REASON_SYMLINK_BROKEN
    assert skipped["pipe"] == REASON_SPECIAL


def test_include_vendored_scans_vendored_but_never_vcs_or_caches(tmp_path: Path) -> None:
    write(tmp_path, "node_modules/pkg/index.js", "x = 1\n")
    write(tmp_path, ".git/config", "[core]\n")
    write(tmp_path, "pkg/__pycache__/m.cpython-311.pyc", b"\x00pyc")
    result = walk_tree(tmp_path, include_vendored=True)
    assert result.files == ["node_modules/pkg/index.js"]
    assert result.skipped == []  # version-control internals and caches: pruned silently


def test_gitignored_paths_skipped_but_tracked_files_kept(tmp_path: Path) -> None:
    repo = pygit2.init_repository(str(tmp_path))
    write(tmp_path, ".gitignore", "build/\n*.log\nforced.py\n")
    write(tmp_path, "src/app.py", "x = 1\n")
    write(tmp_path, "build/out.py", "x = 1\n")
    write(tmp_path, "debug.log", "x\n")
    write(tmp_path, "forced.py", "x = 1\n")
    repo.index.add("forced.py")  # tracked despite the ignore rule: still scanned
    repo.index.write()

    result = walk_tree(tmp_path)

    assert result.files == [".gitignore", "forced.py", "src/app.py"]
    assert dict(result.skipped) == {
        "build/": REASON_IGNORED,
        "debug.log": REASON_IGNORED,
    }
    # A subdirectory as root uses the repository's rules with the right prefix.
    write(tmp_path, "src/build/x.py", "x = 1\n")
    assert walk_tree(tmp_path / "src").files == ["app.py"]
    assert walk_tree(tmp_path, use_gitignore=False).files[:2] == [".gitignore", "build/out.py"]


def test_read_text_binary_invalid_utf8_oversize_and_unreadable(tmp_path: Path) -> None:
    binary = write(tmp_path, "image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    latin = write(tmp_path, "latin.py", b"name = 'caf\xe9'\npassword = 'x'\n")
    big = write(tmp_path, "big.txt", "a" * 2000)
    bom = write(tmp_path, "bom.py", "\ufeffx = 1\n")
    os.mkfifo(tmp_path / "fifo")

    assert read_text(binary) == REASON_BINARY
    decoded = read_text(latin)
    assert isinstance(decoded, FileText) and decoded.lossy
    assert decoded.text == "name = 'caf\ufffd'\npassword = 'x'\n"
    assert read_text(big, max_size=1000) == "too large (2000 bytes > 1000)"
    assert read_text(bom) == FileText("x = 1\n", lossy=False)
    assert read_text(tmp_path / "fifo") == REASON_SPECIAL
    assert str(read_text(tmp_path / "missing.py")).startswith("unreadable: ")
    os.symlink(latin, tmp_path / "link.py")
    assert str(read_text(tmp_path / "link.py")).startswith("unreadable: ")  # O_NOFOLLOW


def test_binary_heuristic() -> None:
    assert is_binary(b"abc\x00def")
    assert is_binary(bytes(range(1, 32)) * 4)
    assert not is_binary(b"plain text\twith tabs\r\n")
    assert not is_binary("ünïcödé".encode())
    assert not is_binary(b"")


def test_exclude_patterns() -> None:
    assert matches_any("a/b/c.min.js", ["*.min.js"])
    assert matches_any("docs/x/y.md", ["docs/**"])
    assert matches_any("docs", ["docs/**"])
    assert matches_any("tests/fixtures", ["./tests/fixtures/"])
    assert not matches_any("src/docs.py", ["docs/**"])
    assert matches_any("rules/a.py", ["rules/**/*.py"]) and matches_any(
        "rules/x/y/a.py", ["rules/**/*.py"]
    )
    assert not matches_any("rules/a.yaml", ["rules/**/*.py"])
    assert not matches_any("a.py", [""])


def test_empty_tree_and_empty_repository(tmp_path: Path) -> None:
    assert walk_tree(tmp_path).files == []
    pygit2.init_repository(str(tmp_path))
    result = walk_tree(tmp_path)
    assert result.files == [] and result.skipped == []


def test_changed_lines_since_ref(tmp_path: Path) -> None:
    repo = pygit2.init_repository(str(tmp_path))
    write(tmp_path, "keep.py", "a = 1\nb = 2\nc = 3\n")
    write(tmp_path, "gone.py", "x = 1\n")
    write(tmp_path, "sub/mod.py", "y = 1\n")
    base = commit_all(repo, "base")
    write(tmp_path, "keep.py", "a = 1\nb = 20\nc = 3\nd = 4\n")
    (tmp_path / "gone.py").unlink()
    write(tmp_path, "sub/new.py", "n = 1\nm = 2\n")  # untracked: counts as added
    write(tmp_path, ".gitignore", "*.tmp\n")
    write(tmp_path, "junk.tmp", "ignored\n")

    changed = changed_lines_since(tmp_path, str(base))
    assert changed == {
        "keep.py": frozenset({2, 4}),
        "sub/new.py": frozenset({1, 2}),
        ".gitignore": frozenset({1}),
    }
    # From a subdirectory, paths are relative to it and other folders are left out.
    assert changed_lines_since(tmp_path / "sub", str(base)) == {"new.py": frozenset({1, 2})}
    commit_all(repo, "second")
    assert changed_lines_since(tmp_path, "HEAD") == {}
    assert set(changed_lines_since(tmp_path, "HEAD~1")) == {"keep.py", "sub/new.py", ".gitignore"}


def test_changed_lines_errors(tmp_path: Path) -> None:
    with pytest.raises(ScanInputError, match="not inside"):
        changed_lines_since(tmp_path, "HEAD")
    pygit2.init_repository(str(tmp_path))
    with pytest.raises(ScanInputError, match="unknown git ref"):
        changed_lines_since(tmp_path, "HEAD")  # empty repository: no commits yet
    with pytest.raises(ScanInputError, match="invalid git ref"):
        changed_lines_since(tmp_path, "--output=/etc/passwd")


def test_walk_only_checks_each_changed_path(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "x\n")
    write(tmp_path, "node_modules/m.js", "x\n")
    write(tmp_path, "docs/x.py", "x\n")
    os.symlink(tmp_path.parent, tmp_path / "up")
    result = walk_tree(
        tmp_path,
        exclude=("docs/*",),
        only=["a.py", "node_modules/m.js", "docs/x.py", "deleted.py", "up/z"],
    )
    assert result.files == ["a.py"]
    assert dict(result.skipped) == {
        "node_modules/m.js": REASON_VENDORED,
        "docs/x.py": REASON_EXCLUDED,
        "up/z": REASON_SYMLINK_OUT,
    }


def test_walk_order_and_unreadable_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Depth first in name order; a directory that cannot be listed and an entry that cannot
    be examined (removed between listing and stat) are skipped with a reason. Root reads
    everything, so both failures are injected."""
    for rel in ("b/z.py", "b/locked/x.py", "a/y.py", "c.py", "b/vendor/v.py"):
        write(tmp_path, rel, "x = 1\n")
    os.mkfifo(tmp_path / "a" / "pipe")

    class Vanished:
        name = "gone.py"

        def is_symlink(self) -> bool:
            raise FileNotFoundError(2, "No such file or directory")

    real_scandir, real_entries = os.scandir, files._entries

    def scandir(path: Path) -> object:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    def entries(directory: Path) -> object:
        found = real_entries(directory)
        return found if Path(directory) != tmp_path / "b" else iter([Vanished(), *found])

    monkeypatch.setattr(os, "scandir", scandir)  # the os module the walk uses
    monkeypatch.setattr(files, "_entries", entries)
    result = walk_tree(tmp_path)
    assert result.files == ["a/y.py", "b/z.py", "c.py"]
    assert result.skipped == [
        ("a/pipe", REASON_SPECIAL),
        ("b/gone.py", "unreadable: No such file or directory"),
        ("b/vendor/", REASON_VENDORED),
        ("b/locked/", "unreadable: Permission denied"),
    ]
