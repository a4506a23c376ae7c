"""The unified diff parser: real git and diff(1) output, and malformed input."""

from __future__ import annotations

import pytest

from selfheal.reviewer.changeset import ChangedFile, ChangeStatus
from selfheal.reviewer.diffparse import DiffError, changeset_from_diff, parse_diff
from tests.support import paths

FIXTURES = paths.FIXTURES / "review"


def _files(name: str) -> dict[str, ChangedFile]:
    return {f.path: f for f in parse_diff((FIXTURES / name).read_bytes())}


@pytest.mark.parametrize("name", ["git_full.diff", "git_binary_patch.diff"])
def test_git_diff_statuses_lines_and_content(name: str) -> None:
    files = _files(name)
    assert set(files) == {
        ".github/workflows/ci.yml",
        "app.py",
        "gone.txt",
        "latin.txt",
        "logo.bin",
        "nonl.txt",
        "renamed_module.py",
        "with space.txt",
    }
    app = files["app.py"]
    assert app.status is ChangeStatus.MODIFIED
    assert app.added_lines == frozenset({2, 7})
    assert app.content is not None
    lines = app.content.split(b"\n")
    assert lines[1] == b"import subprocess"  # line 2
    assert lines[6] == b'    subprocess.call("ls", shell=True)'  # line 7

    renamed = files["renamed_module.py"]
    assert (renamed.status, renamed.old_path) == (ChangeStatus.RENAMED, "big_module.py")
    assert renamed.added_lines == frozenset({15})
    assert renamed.content is not None
    assert renamed.content.split(b"\n")[14] == b"def f15(): return 150"
    assert renamed.content.split(b"\n")[:11] == [b""] * 11  # lines the diff does not show

    assert files["gone.txt"].status is ChangeStatus.DELETED
    assert files["gone.txt"].content is None
    assert files["logo.bin"].binary and files["logo.bin"].content is None
    assert files["nonl.txt"].content == b"abcd"  # "\ No newline at end of file"
    assert files["latin.txt"].content == b"caf\xe9 latin1\n"  # invalid UTF-8 kept as bytes
    assert files["with space.txt"].status is ChangeStatus.ADDED
    # Only an added file's content is complete; elsewhere the diff shows fragments.
    complete = {path for path, f in files.items() if f.complete and f.content is not None}
    assert complete == {".github/workflows/ci.yml", "latin.txt", "with space.txt"}
    assert files[".github/workflows/ci.yml"].added_lines == frozenset({1, 2})


def test_crlf_diff_parses_like_lf() -> None:
    lf, crlf = _files("git_full.diff"), _files("git_full_crlf.diff")
    assert {p: (f.status, f.added_lines, f.binary) for p, f in crlf.items()} == {
        p: (f.status, f.added_lines, f.binary) for p, f in lf.items()
    }
    assert crlf["nonl.txt"].content == b"abcd"
    assert crlf["app.py"].content is not None
    assert crlf["app.py"].content.startswith(b"import os\r\nimport subprocess\r\n")


def test_quoted_paths_and_plain_diff_u() -> None:
    assert list(_files("git_quoted.diff")) == ["café.py"]
    plain = _files("plain_ruN.diff")
    assert plain["src/m.py"].added_lines == frozenset({2, 4})
    assert plain["src/m.py"].content == b"a\nB\nc\nd\n"
    assert plain["src/n.py"].status is ChangeStatus.ADDED


def test_changeset_reader_serves_new_contents() -> None:
    changes = changeset_from_diff((FIXTURES / "git_full.diff").read_bytes())
    assert changes.kind == "diff"
    assert changes.read is not None
    assert changes.read("with space.txt") == "new file\nsecond line\n"
    assert changes.read("not-in-diff.txt") is None


def test_preamble_signature_and_empty_context_lines_are_tolerated() -> None:
    text = (
        "From 123 Mon Sep 17 00:00:00 2001\n"
        "Subject: [PATCH] tweak\n"
        "\n"
        "---\n"
        " a.py | 2 +-\n"
        "\n"
        "diff --git a/a.py b/a.py\n"
        "--- a/a.py\n"
        "+++ b/a.py\n"
        "@@ -1,3 +1,3 @@\n"
        " x = 1\n"
        "\n"  # a context line whose leading space an editor stripped
        "-y = 2\n"
        "+y = 3\n"
        "-- \n"
        "2.39.5\n"
    )
    (only,) = parse_diff(text)
    assert only.path == "a.py"
    assert only.added_lines == frozenset({3})
    assert only.content == b"x = 1\n\ny = 3\n"


def test_a_patch_series_overlays_later_hunks_and_keeps_a_link() -> None:
    first = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n-a\n+A\n b\n"
    second = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -2 +2 @@\n-b\n+B\n"
    (both,) = parse_diff(first + second)
    assert (both.content, both.added_lines, both.shown_lines) == (
        b"A\nB\n",
        frozenset({1, 2}),
        frozenset({1, 2}),
    )
    assert both.link_target is None
    one_line = "diff --git a/y b/y\n--- a/y\n+++ b/y\n@@ -1 +1 @@\n-a\n+b\n"
    relink = (
        "diff --git a/y b/y\nold mode 100644\nnew mode 120000\n--- a/y\n+++ b/y\n"
        "@@ -1 +1 @@\n-b\n+.env\n\\ No newline at end of file\n"
    )
    (link,) = parse_diff(one_line + relink)
    assert (link.content, link.link_target, link.paths) == (b".env", ".env", ("y", ".env"))


SERIES_HEAD = "diff --git a/x b/x\n--- a/x\n+++ b/x\n"
SERIES_FIRST = SERIES_HEAD + "@@ -1,3 +1,4 @@\n a\n b\n c\n+S\n"  # S added on line 4


@pytest.mark.parametrize(
    ("later", "content", "added"),
    [
        (SERIES_HEAD + "@@ -0,0 +1,2 @@\n+h\n+i\n", b"h\ni\na\nb\nc\nS\n", {1, 2, 6}),
        (SERIES_HEAD + "@@ -1,4 +1,5 @@\n a\n+h\n b\n c\n S\n", b"a\nh\nb\nc\nS\n", {2, 5}),
        (SERIES_HEAD + "@@ -2 +1,0 @@\n-b\n", b"a\nc\nS\n", {3}),
        (SERIES_HEAD + "@@ -4,0 +5 @@\n+T\n", b"a\nb\nc\nS\nT\n", {4, 5}),
        (SERIES_HEAD + "@@ -4 +4 @@\n-S\n+R\n", b"a\nb\nc\nR\n", {4}),
        ("diff --git a/x b/x\nold mode 100644\nnew mode 100755\n", b"a\nb\nc\nS\n", {4}),
    ],
    ids=["insert-above", "insert-with-context", "delete-a-line", "append", "replace", "mode"],
)
def test_a_patch_series_renumbers_the_earlier_lines(
    later: str, content: bytes, added: set[int]
) -> None:
    """A later patch that moves lines (were overlaid at their old numbers, so it could hide
    an added line under one of its own, or drop the file's content)."""
    (merged,) = parse_diff(SERIES_FIRST + later)
    assert (merged.content, merged.added_lines) == (content, frozenset(added))
    assert merged.shown_lines == frozenset(range(1, content.count(b"\n") + 1))


def test_mode_change_and_pure_rename_have_no_content() -> None:
    text = (
        "diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\n"
        "diff --git a/old name.py b/new name.py\nsimilarity index 100%\n"
        "rename from old name.py\nrename to new name.py\n"
    )
    files = {f.path: f for f in parse_diff(text)}
    assert files["run.sh"].status is ChangeStatus.MODIFIED
    assert files["run.sh"].content is None
    assert files["new name.py"].status is ChangeStatus.RENAMED
    assert files["new name.py"].old_path == "old name.py"


def test_empty_diff_is_no_change() -> None:
    assert parse_diff(b"") == []


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n", 4, "diff ends inside a hunk"),
        ("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n+c\n", 6, "line outside any hunk"),
        ("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n*b\n", 5, "malformed hunk"),
        ("--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\ndiff --git a/y b/y\n", 5, "malformed hunk"),
        ("--- a/x\n+++ b/x\n@@ -one +1 @@\n", 3, "malformed hunk header"),
        ("@@ -1 +1 @@\n-a\n+b\n", 1, "hunk header before any file header"),
        ("diff --cc x\n--- a/x\n+++ b/x\n@@@ -1 -1 +1 @@@\n", 4, "combined diffs"),
        ("--- a/x\n+++ b/x\n@@ -1 +4999999,9 @@\n", 3, "line numbers over"),
        ('diff --git "a/x b/x\n', 1, "unterminated quoted path"),
        ("just some text\nnot a diff\n", 1, "not a unified diff"),
        ("--- a/x\n+++ b/../.env\n@@ -1 +1 @@\n-a\n+b\n", 2, "unsafe path"),
        ("diff --git a/x b/x\nrename from x\nrename to /etc/passwd\n", 3, "unsafe path"),
    ],
)
def test_malformed_diffs_name_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(DiffError) as info:
        parse_diff(text)
    assert info.value.line == line
    assert fragment in info.value.message
    assert str(info.value).startswith(f"line {line}: ")


def test_oversize_input_is_rejected() -> None:
    with pytest.raises(DiffError, match="over the 1000-byte limit"):
        parse_diff(b"x" * 1001, max_bytes=1000)


def test_mutated_diffs_only_ever_raise_diff_error() -> None:
    """Seeded, bounded fuzzing: truncations, dropped, duplicated and corrupted lines."""
    import random

    rng = random.Random(20261125)
    sources = [(FIXTURES / n).read_bytes() for n in ("git_full.diff", "git_binary_patch.diff")]
    parsed = failed = 0
    for _ in range(400):
        lines = rng.choice(sources).split(b"\n")
        for _ in range(rng.randint(1, 3)):
            if not lines:
                break
            i = rng.randrange(len(lines))
            action = rng.randrange(4)
            if action == 0:
                del lines[i]
            elif action == 1:
                lines.insert(i, lines[rng.randrange(len(lines))])
            elif action == 2:
                lines[i] = bytes(rng.randrange(256) for _ in range(rng.randint(0, 12)))
            else:
                lines = lines[:i]
        try:
            parse_diff(b"\n".join(lines))
            parsed += 1
        except DiffError:
            failed += 1
    assert parsed > 0 and failed > 0


def test_hostile_header_lines_are_handled_in_linear_time() -> None:
    """A huge "Binary files ... and ..." line once meant quadratic regex backtracking."""
    line = "Binary files " + "x and " * 200_000 + "y"
    (only,) = parse_diff(f"diff --git a/x b/x\n{line}\n")
    assert only.path == "x" and not only.binary
    (flagged,) = parse_diff("diff --git a/x b/x\nBinary files a/x and b/x differ\n")
    assert flagged.binary
