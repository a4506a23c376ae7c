"""The repository stands on its own: no tracked file points at the folder beside the clone.

Data for development once lived in a ``shared`` folder next to the checkout, which a fresh
clone does not have. Any tracked text file that names it again fails here. The needle is
assembled at run time so that this file does not name it itself.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path

from tests.support.paths import ROOT

NEEDLES = tuple(f"..{sep}shared".encode() for sep in ("/", "\\"))


def tracked_files() -> list[str]:
    done = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"git ls-files failed in {ROOT}: {done.stderr.decode()}"
    return [name for name in done.stdout.decode().split("\0") if name]


def referring_files(root: Path, names: Iterable[str]) -> list[str]:
    """The text files among ``names`` that mention a sibling ``shared`` folder.

    Binary files (a NUL byte in the first 8 KiB, git's own test) are skipped. A symlink is
    judged by where it points, not by the file it reaches.
    """
    found = []
    for name in names:
        path = root / name
        if path.is_symlink():
            data = str(path.readlink()).encode()
        elif path.is_file():
            data = path.read_bytes()
        else:  # tracked but deleted in the working tree
            continue
        if b"\0" in data[:8192]:
            continue
        if any(needle in data for needle in NEEDLES):
            found.append(name)
    return found


def test_no_tracked_file_refers_to_a_folder_beside_the_clone() -> None:
    names = tracked_files()
    assert "tests/unit/test_repo_hygiene.py" in names  # the listing is this repository's
    assert referring_files(ROOT, names) == []


def test_the_check_finds_text_files_and_skips_binary_ones(tmp_path: Path) -> None:
    needle = "/".join(["..", "shared", "data"])
    (tmp_path / "clean.md").write_text("data lives in scripts/data/\n")
    (tmp_path / "script.py").write_text(f'SOURCE = "{needle}/export.jsonl.gz"\n')
    (tmp_path / "windows.txt").write_text(needle.replace("/", "\\") + "\n")
    (tmp_path / "blob.gz").write_bytes(b"\x1f\x8b\0\0" + needle.encode())
    (tmp_path / "link").symlink_to(needle)
    names = ["clean.md", "script.py", "windows.txt", "blob.gz", "link", "deleted.txt"]
    assert referring_files(tmp_path, names) == ["script.py", "windows.txt", "link"]
