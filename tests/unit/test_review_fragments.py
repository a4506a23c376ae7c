"""Diff fragments: Python scaffolding, work-tree completion, and one real semgrep run."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from selfheal.model.findings import Category, Decision
from selfheal.model.policy import load_effective_policy
from selfheal.resources import rules_dir
from selfheal.reviewer.diffparse import changeset_from_diff, parse_diff
from selfheal.reviewer.reviewer import ReviewOptions, review
from selfheal.reviewer.scaffold import scaffold_python
from selfheal.reviewer.worktree import complete_from_worktree
from selfheal.scanner.engine import ScanOptions

FILLER = [f"# filler {i}" for i in range(3, 38)]
DB_LINES = [
    "import sqlite3",
    "",
    *FILLER,
    "",
    "class Repo:",
    "    def find(self, cur, username):",  # line 40
    "        if not username:",
    "            return None",
    "        cur.execute(f\"SELECT * FROM users WHERE name = '{username}'\")",  # line 43
    "        rows = cur.fetchall()",
    "        return rows",
]
HUNK = (
    "@@ -40,5 +40,6 @@ class Repo:\n"
    "     def find(self, cur, username):\n"
    "         if not username:\n"
    "             return None\n"
    "+        cur.execute(f\"SELECT * FROM users WHERE name = '{username}'\")\n"
    "         rows = cur.fetchall()\n"
    "         return rows\n"
)


def _diff(path: str, hunk: str = HUNK) -> str:
    return f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n{hunk}"


def test_scaffold_makes_an_indented_hunk_parse_without_moving_lines() -> None:
    (change,) = parse_diff(_diff("src/db.py"))
    assert change.content is not None and not change.complete
    with pytest.raises(SyntaxError):
        ast.parse(change.content)
    fixed = scaffold_python(change.content, change.shown_lines)
    ast.parse(fixed)
    before, after = change.content.split(b"\n"), fixed.split(b"\n")
    assert len(before) == len(after)
    assert all(before[n - 1] == after[n - 1] for n in change.shown_lines)
    assert after[38] == b"if 1:"  # line 39, just above the hunk


@pytest.mark.parametrize(
    ("hunk_lines", "openers"),
    [
        (["        else:", "            x = 2"], [b"if 1:", b"        if 1:", b"            pass"]),
        (["    except ValueError:", "        pass"], [b"if 1:", b"    try:", b"        pass"]),
        (["            a = 1", "    b = 2", "c = 3"], [b"if 1:", b"    if 1:"]),
    ],
)
def test_scaffold_handles_else_except_and_dedents(
    hunk_lines: list[str], openers: list[bytes]
) -> None:
    content = b"\n" * 10 + "\n".join(hunk_lines).encode() + b"\n"
    shown = frozenset(range(11, 11 + len(hunk_lines)))
    fixed = scaffold_python(content, shown)
    ast.parse(fixed)
    lines = fixed.split(b"\n")
    assert lines[10 - len(openers) : 10] == openers


def test_scaffold_leaves_hunks_without_room_alone() -> None:
    content = b"\n    x = 1\n"
    assert scaffold_python(content, frozenset({2})) == b"if 1:\n    x = 1\n"
    tight = b"    x = 1\n"
    assert scaffold_python(tight, frozenset({1})) == tight


def test_worktree_completes_only_provably_matching_files(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "db.py").write_text("\n".join(DB_LINES) + "\n")
    (tmp_path / "src" / "other.py").write_text("\n".join(DB_LINES).replace("rows", "r") + "\n")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.py"
    outside.write_text("\n".join(DB_LINES) + "\n")
    (tmp_path / "src" / "link.py").symlink_to(outside)
    changes = changeset_from_diff(
        _diff("src/db.py") + _diff("src/other.py") + _diff("src/link.py") + _diff("src/gone.py")
    )
    done = {f.path: f for f in complete_from_worktree(changes, tmp_path).files}
    assert done["src/db.py"].complete
    assert done["src/db.py"].content == ("\n".join(DB_LINES) + "\n").encode()
    assert not done["src/other.py"].complete  # a shown line differs on disk
    assert not done["src/link.py"].complete  # a symlink out of the tree is never read
    assert not done["src/gone.py"].complete  # not on disk


def test_fragments_are_scanned_by_semgrep_both_ways(tmp_path: Path) -> None:
    """One semgrep run: a fragment completed from the work tree and a scaffolded one."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "db.py").write_text("\n".join(DB_LINES) + "\n")
    changes = complete_from_worktree(
        changeset_from_diff(_diff("src/db.py") + _diff("lib/fragment.py")), tmp_path
    )
    policy = load_effective_policy(None)
    sql_rules = rules_dir() / "python" / "sql-injection.yaml"  # one rule file: a faster run
    scan = ScanOptions(rules=sql_rules, scanners=frozenset({"semgrep"}))
    verdict = review(changes, policy, options=ReviewOptions(scan=scan))
    injections = {(f.path, f.line) for f in verdict.findings if f.category is Category.INJECTION}
    assert injections == {("src/db.py", 43), ("lib/fragment.py", 43)}
    assert verdict.decision is Decision.BLOCK
