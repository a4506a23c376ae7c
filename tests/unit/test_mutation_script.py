"""scripts/mutation.py, the hand-run mutation tester: it makes the mutants it promises, each
compiles, and a run reports survivors without ever touching the source file."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.paths import ROOT

SCRIPT = ROOT / "scripts" / "mutation.py"

SAMPLE = '''\
"""A docstring is never mutated."""

LIMIT = 3


def scan(items, strict=False):
    total = 0
    for item in items:
        if item is None or item < 0:
            continue
        if strict and item > LIMIT:
            break
        total += item * 2
    return min(total, 100) if not strict else total - 1
'''


@pytest.fixture(scope="module")
def mutation() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def test_every_kind_of_mutant_is_made(mutation: ModuleType) -> None:
    made = {(m.original, m.mutated) for m in mutation.mutants(SAMPLE)}
    for expected in [
        ("`item < 0`", "`item <= 0`"),  # comparison
        ("`item is None`", "`item is not None`"),
        ("`item is None or item < 0`", "`item is None and item < 0`"),  # and/or
        ("`item is None or item < 0`", "`not (item is None or item < 0)`"),  # negated condition
        ("`total += item * 2`", "`total -= item * 2`"),  # arithmetic
        ("`item * 2`", "`item / 2`"),
        ("`total - 1`", "`total + 1`"),
        ("`3`", "`4`"),  # constants shifted by one, both ways
        ("`3`", "`2`"),
        ("`False`", "`True`"),
        ("`continue`", "`break`"),
        ("`break`", "`continue`"),
        ("`continue`", "delete `continue`"),  # a statement deleted (replaced by pass)
        ("`total += item * 2`", "delete `total += item * 2`"),
        ("`min`", "`max`"),  # min and max, any and all
        ("`not strict`", "`strict`"),
    ]:
        assert expected in made, expected
    texts = " ".join(m.original for m in mutation.mutants(SAMPLE))
    assert "docstring" not in texts
    assert "delete `LIMIT = 3`" not in {m.mutated for m in mutation.mutants(SAMPLE)}


def test_every_mutant_compiles_and_differs(mutation: ModuleType) -> None:
    original = ast.dump(ast.parse(SAMPLE))
    found = mutation.mutants(SAMPLE)
    assert len(found) > 30
    assert [m.index for m in found] == list(range(len(found)))
    for mutant in found:
        tree = mutation.mutated_tree(SAMPLE, mutant.index)
        assert ast.dump(tree) != original, mutant
        compile(tree, "sample.py", "exec")
    assert ast.dump(ast.parse(SAMPLE)) == original


def test_a_pragma_keeps_a_line_out(mutation: ModuleType) -> None:
    kept = SAMPLE.replace(
        "        total += item * 2\n", "        total += item * 2  # pragma: no mutate\n"
    )
    assert not any(m.line == 13 for m in mutation.mutants(kept))
    assert any(m.line == 13 for m in mutation.mutants(SAMPLE))


MINI = """\
def count_words(text):
    n = 0
    for word in text.split(" "):
        if not word:
            continue
        n += 1
    return n
"""

# Weak on purpose: no two spaces in a row, so `continue` -> `break` goes unnoticed.
MINI_TESTS = """\
from mini import count_words


def test_count_words():
    assert count_words("a b") == 2
    assert count_words("") == 0
"""


def test_a_run_reports_survivors_and_leaves_the_source_alone(tmp_path: Path) -> None:
    source = tmp_path / "mini.py"
    source.write_text(MINI)
    tests = tmp_path / "test_mini.py"
    tests.write_text(MINI_TESTS)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--target", f"mini={source}", "--tests", str(tests),
         "--goal", "100"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )  # fmt: skip
    assert source.read_text() == MINI
    assert done.returncode == 1, done.stdout + done.stderr  # a survivor misses the goal
    lines = done.stdout.splitlines()
    assert [line for line in lines if "survived" in line] == [
        f"  survived: #8 {source}:5: `continue` -> `break`"
    ]
    assert next(line for line in lines if line.startswith("mini: ")).startswith(
        "mini: 13/14 killed (92.9%), 0 judged equivalent, score 92.9% (goal 100%)"
    )
