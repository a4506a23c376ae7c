"""Mutation testing for the pure security core: how much does a green test run prove?

For each module in :data:`MODULES` the script makes small faults in the source one at a time
(a flipped comparison, ``and`` for ``or``, a constant off by one, a deleted statement, a
negated condition, ``break`` for ``continue`` ...), runs the narrow set of tests that guard
that module against each faulty copy, and counts the copies the tests reject ("killed").
A surviving mutant is a change to the code that no test notices.

The source files are never written: each mutant is compiled from a mutated syntax tree and
served to the test run by an import hook, in a forked child process that is killed when it
runs past its time limit. The parent imports pytest and the third-party libraries once, so a
mutant costs the test run and not an interpreter start.

Run by hand (not in CI); the figures for the five modules are quoted in ``docs/testing.md``::

    python scripts/mutation.py                     # every module in MODULES
    python scripts/mutation.py codeowners audit    # some of them
    python scripts/mutation.py --list versions     # the mutants, without running tests
    python scripts/mutation.py --only 17 policy    # one mutant, with the pytest output
    python scripts/mutation.py --target pkg.mod=path/to/mod.py --tests path/to/test_mod.py

Exit status: 0 when every module reaches its target score (mutants judged equivalent by hand,
listed in :data:`EQUIVALENT`, are left out of the score), 1 when one does not, 2 on a usage
error or a baseline test run that fails without any mutant.
"""

from __future__ import annotations

import argparse
import ast
import copy
import importlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import importlib.util
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, ModuleType

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Target:
    """One module under test: its import name, its file and the tests that guard it."""

    module: str
    path: str
    tests: tuple[str, ...]
    goal: float = 0.0  # the score (percent of non-equivalent mutants killed) to reach
    args: tuple[str, ...] = ()  # more pytest arguments (``--deselect`` a slow, unrelated test)


MODULES: dict[str, Target] = {
    "rules": Target(
        "selfheal.reviewer.rules",
        "app/selfheal/reviewer/rules.py",
        ("tests/unit/test_review_rules.py", "tests/unit/test_decision_combinations.py"),
        95.0,
    ),
    "policy": Target(
        "selfheal.model.policy",
        "app/selfheal/model/policy.py",
        (
            "tests/unit/test_policy.py",
            "tests/unit/test_policy_lint_table.py",
            "tests/unit/test_policy_layers.py",
        ),
        95.0,
    ),
    "codeowners": Target(
        "selfheal.model.codeowners",
        "app/selfheal/model/codeowners.py",
        ("tests/unit/test_policy.py", "tests/unit/test_codeowners_properties.py"),
        95.0,
    ),
    "versions": Target(
        "selfheal.scanner.versions",
        "app/selfheal/scanner/versions.py",
        (
            "tests/unit/test_cvss_known_answers.py",
            "tests/unit/test_deps.py",
            "tests/unit/test_versions_properties.py",
        ),
        90.0,
        ("--deselect=tests/unit/test_deps.py::test_safety_run_is_bounded_by_timeout",),
    ),
    "audit": Target(
        "selfheal.ledger.audit",
        "app/selfheal/ledger/audit.py",
        ("tests/unit/test_audit_known_answers.py", "tests/unit/test_audit.py"),
        95.0,
    ),
}


@dataclass(frozen=True)
class Equivalent:
    """A mutant judged by hand to behave exactly like the original, and why."""

    scope: str  # the enclosing class and function ("" at module level)
    line: str  # the source line, stripped
    change: str  # as printed: "`a` -> `b`", or "`stmt` -> delete `stmt`"
    why: str
    nth: int = 1  # the nth mutant with this scope, line and change (a line may repeat)


_STRICTNESS = "STRICTNESS = {Decision.APPROVE: 0, Decision.NEEDS_APPROVAL: 1, Decision.BLOCK: 2}"
_NO_RULE_APPROVES = "no rule gives approve: only block and needs_approval are ever ranked"

_MODES = 'PATH_OR_DIR, DIR_ONLY, EXACT = "path-or-dir", "dir-only", "exact"'
_MODES_WHY = "the three modes stay distinct, and a mode is never shown"
_PREFILTER = "the literal prefilter only saves time: the match itself checks every literal"

_SORT_EVENTS = 'parsed.sort(key=lambda e: (e[0] is not None, e[0] or Version("0"), e[1]))'
_CVSS_PARTS = 'metrics = dict(p.split(":", 1) for p in vector.split("/")[1:] if ":" in p)'
_TILDE = "upper = _bump(v, 2 if len(rel) >= 2 else 1)"
_CARET = "nz = next((i for i, p in enumerate(rel) if p != 0), len(rel) - 1)"
_RETURNS_NONE = "the function's end returns None anyway"
_BUMP_PAST = "_bump keeps at most the components there are: a larger count bumps the last one"
_WILD_BASE = "only `===` with a wildcard gives no base, and no branch below uses it for `===`"

EQUIVALENT: dict[str, list[Equivalent]] = {
    "versions": [
        Equivalent(
            "parse_version", "return None", "`return None` -> delete `return None`", _RETURNS_NONE
        ),
        Equivalent(
            "AffectedSet.first_fixed_after",
            "for text, parsed in zip(self.fixed, self.fixed_parsed, strict=True):",
            "`True` -> `False`",
            "build_affected_set makes both tuples from one list",
        ),
        Equivalent(
            "AffectedSet.first_fixed_after",
            "return None",
            "`return None` -> delete `return None`",
            _RETURNS_NONE,
        ),
        Equivalent(
            "intervals_from_events",
            _SORT_EVENTS,
            "`1` -> `0`",
            "the sort is stable, so events at one version keep their order either way",
        ),
        Equivalent(
            "intervals_from_events",
            "start: Version | None = None",
            "`start: Version | None = None` -> delete `start: Version | None = None`",
            "start is only read after an introduced event has set it",
        ),
        Equivalent(
            "build_affected_set",
            'fixed.sort(key=lambda t: parse_version(t) or Version("0"))',
            "`'0'` -> `''`",
            "a range with a version that does not parse is dropped, so every fix parses",
        ),
        Equivalent(
            "Bounds",
            "lower_inclusive: bool = True",
            "`True` -> `False`",
            "the flag is only read with a lower bound, which is always set with its flag",
        ),
        Equivalent(
            "Bounds",
            "upper_inclusive: bool = False",
            "`False` -> `True`",
            "the flag is only read with an upper bound, which is always set with its flag",
        ),
        Equivalent(
            "_bump",
            "parts = list(v.release[:keep]) or [0]",
            "`0` -> `1`",
            "every caller keeps at least one component",
        ),
        Equivalent(
            "_bump",
            "parts = list(v.release[:keep]) or [0]",
            "`0` -> `-1`",
            "every caller keeps at least one component",
        ),
        Equivalent(
            "bounds_from_specifier",
            'base = parse_version(text.rstrip(".*").rstrip("."))',
            "`'.'` -> `''`",
            'rstrip(".*") leaves no trailing dot to strip',
        ),
        Equivalent(
            "bounds_from_specifier",
            "if base is None:",
            "`if base is None:` -> delete `if base is None:`",
            _WILD_BASE,
        ),
        Equivalent(
            "bounds_from_specifier",
            "continue",
            "`continue` -> delete `continue`",
            _WILD_BASE,
        ),
        Equivalent(
            "bounds_from_specifier",
            'n = len(text.rstrip(".*").split("."))',
            "`'.*'` -> `''`",
            "the extra `*` component is beyond the base's release: " + _BUMP_PAST,
        ),
        Equivalent(
            "bounds_from_specifier",
            "lo, hi = (base, True), (_bump(base, max(len(base.release) - 1, 1)), False)",
            "`1` -> `0`",
            "`~=` needs two components, so len - 1 is at least 1",
            nth=2,
        ),
        Equivalent("poetry_to_pep440", _CARET, "`len(rel) - 1` -> `len(rel) + 1`", _BUMP_PAST),
        Equivalent("poetry_to_pep440", _CARET, "`1` -> `0`", _BUMP_PAST),
        Equivalent("poetry_to_pep440", _TILDE, "`2` -> `1`", "with one component, " + _BUMP_PAST),
        Equivalent("poetry_to_pep440", _TILDE, "`1` -> `2`", "with one component, " + _BUMP_PAST),
        Equivalent(
            "parse_specifier", "return None", "`return None` -> delete `return None`", _RETURNS_NONE
        ),
        Equivalent(
            "cvss3_base_score",
            _CVSS_PARTS,
            "`1` -> `2`",
            "a metric value never contains a colon",
        ),
        Equivalent(
            "cvss3_base_score",
            _CVSS_PARTS,
            "`1` -> `0`",
            "the prefix becomes an extra `CVSS` key that nothing reads",
            nth=2,
        ),
        Equivalent(
            "cvss3_base_score",
            "if impact <= 0:",
            "`0` -> `1`",
            "the smallest impact above zero is 1.41 (one Low, either scope): all 2,592 vectors "
            "score the same",
        ),
        Equivalent(
            "cvss3_base_score",
            "total = min(1.08 * raw, 10.0) if scope_changed else min(raw, 10.0)",
            "`10.0` -> `10.5`",
            "with scope unchanged the total never passes 9.76: all 2,592 vectors score the same",
            nth=2,
        ),
        Equivalent(
            "cvss3_base_score",
            "return math.ceil(total * 10 - 1e-9) / 10",
            "`1e-09` -> `1.05e-09`",
            "all 2,592 vectors score the same",
        ),
    ],
    "codeowners": [
        Equivalent(
            "",
            'ANY = "\\x00?"  # the `?` token (a NUL can never occur in a path component)',
            "`'\\x00?'` -> `''`",
            "any string of another length than one is as good a sentinel: tokens are one character",
        ),
        Equivalent(
            "fold_pattern.fold",
            "if isinstance(seg, str):",
            "`if isinstance(seg, str):` -> delete `if isinstance(seg, str):`",
            "a literal folded into lower-case glob tokens matches the same components",
        ),
        Equivalent(
            "fold_pattern.fold",
            "return seg.lower()",
            "`return seg.lower()` -> delete `return seg.lower()`",
            "a literal folded into lower-case glob tokens matches the same components",
        ),
        Equivalent("", _MODES, "`'path-or-dir'` -> `''`", _MODES_WHY),
        Equivalent("", _MODES, "`'dir-only'` -> `''`", _MODES_WHY),
        Equivalent("", _MODES, "`'exact'` -> `''`", _MODES_WHY),
        Equivalent(
            "split_line",
            "while i < n:",
            "`i < n` -> `i <= n`",
            "at i == n the inner loops do nothing and the `i >= n` test returns",
        ),
        Equivalent(
            "_segment",
            "if all(t is not None and t != ANY for t in tokens):",
            "`if all((t is not None and t != ANY for t in tokens)):` -> "
            "delete `if all((t is not None and t != ANY for t in tokens)):`",
            "a literal segment as glob tokens matches the same components",
        ),
        Equivalent(
            "_segment",
            'return "".join(t for t in tokens if t is not None)',
            "`return ''.join((t for t in tokens if t is not None))` -> "
            "delete `return ''.join((t for t in tokens if t is not None))`",
            "a literal segment as glob tokens matches the same components",
        ),
        Equivalent(
            "_glob", "star, mark = -1, 0", "`1` -> `2`", "any negative start means no star yet"
        ),
        Equivalent("_glob", "star, mark = -1, 0", "`0` -> `1`", "mark is set with the first star"),
        Equivalent("_glob", "star, mark = -1, 0", "`0` -> `-1`", "mark is set with the first star"),
        Equivalent(
            "_glob",
            "t, i = star + 1, mark",
            "`1` -> `0`",
            "going back to the star itself re-records it and moves on: one more step, same result",
        ),
        Equivalent(
            "PathPattern",
            'required: str = ""  # a literal every matching path contains: a cheap first test',
            "`''` -> `'X'`",
            "every PathPattern is built with its literal (compile_pattern, fold_pattern)",
        ),
        Equivalent(
            "PathPattern.match_parts",
            "if self.required not in path:",
            "`if self.required not in path:` -> delete `if self.required not in path:`",
            _PREFILTER,
        ),
        Equivalent(
            "PathPattern.match_parts",
            "return False",
            "`return False` -> delete `return False`",
            _PREFILTER,
        ),
        Equivalent(
            "PathPattern.match_parts",
            "reach = set(range(min(reach), n + 1))",
            "`1` -> `2`",
            "a position past the end is dropped by the next segment (`j < n`) and never "
            "decides the mode checks",
        ),
        Equivalent(
            "PathPattern.match_parts",
            "reach = set(range(min(reach), n + 1))",
            "`1` -> `0`",
            "a trailing `**` is popped at compile time, so `**` is always followed by a "
            "segment that needs j < n, or is the last of `x/**/**`, whose check is min < n",
        ),
        Equivalent(
            "compile_pattern",
            "segments.pop()",
            "`segments.pop()` -> delete `segments.pop()`",
            "a trailing `**` left in place gives the same reach for the dir-only check",
        ),
        Equivalent(
            "compile_pattern",
            "return PathPattern(tuple(segments), anchored, mode, "
            'max(literals, key=len, default=""))',
            "`max` -> `min`",
            "a shorter literal is a weaker prefilter, not a wrong one",
        ),
        Equivalent(
            "_literal_runs",
            "for token in tokens:",
            "`for token in tokens:` -> delete `for token in tokens:`",
            "no runs give an empty literal: a weaker prefilter, not a wrong one",
        ),
        Equivalent(
            "_literal_runs",
            "if token is None or token == ANY:",
            "`if token is None or token == ANY:` -> delete `if token is None or token == ANY:`",
            "no runs give an empty literal: a weaker prefilter, not a wrong one",
        ),
        Equivalent(
            "_literal_runs",
            "runs[-1].append(token)",
            "`runs[-1].append(token)` -> delete `runs[-1].append(token)`",
            "no runs give an empty literal: a weaker prefilter, not a wrong one",
        ),
    ],
    "rules": [
        Equivalent("", _STRICTNESS, "`0` -> `1`", _NO_RULE_APPROVES),
        Equivalent("", _STRICTNESS, "`0` -> `-1`", _NO_RULE_APPROVES),
        Equivalent("", _STRICTNESS, "`1` -> `0`", "still below block; " + _NO_RULE_APPROVES),
        Equivalent("", _STRICTNESS, "`2` -> `3`", "block stays the strictest"),
    ],
    "policy": [
        Equivalent("Level", "OPEN = 0", "`0` -> `-1`", "the order is kept; no value is shown"),
        Equivalent("Level", "PROTECTED = 2", "`2` -> `3`", "the order is kept; no value is shown"),
        Equivalent(
            "PolicyMatch",
            'note: str = ""',
            "`''` -> `'X'`",
            "every PolicyMatch is built with an explicit note (Rule.to_match, replace)",
        ),
        Equivalent(
            "Policy._own_match",
            "return None",
            "`return None` -> delete `return None`",
            "the function's end returns None anyway",
        ),
        Equivalent(
            "Policy._alias_match",
            "return None",
            "`return None` -> delete `return None`",
            "the function's end returns None anyway",
        ),
        Equivalent(
            "Policy._alias_match",
            "for rule, matcher in zip(reversed(self.rules), reversed(self.aliases), strict=True):",
            "`True` -> `False`",
            "with_aliases makes one alias per rule, so the lengths always agree",
        ),
        Equivalent(
            "_probe",
            'probe = pattern.lstrip("/").replace("\\\\", "")'
            '.replace("**/", "").replace("/**", "/x")',
            "`'/'` -> `''`",
            "Policy.match normalises the probe path, which drops a leading slash",
        ),
    ],
}

PRAGMA = "pragma: no mutate"
# Plugins imported before the run cannot have their asserts rewritten: pytest says so once.
PYTEST_ARGS = (
    "-x",
    "-q",
    "-p",
    "no:cacheprovider",
    "-W",
    "ignore::pytest.PytestAssertRewriteWarning",
)

# -- making mutants ----------------------------------------------------------------------------

COMPARE_SWAP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
BINOP_SWAP: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
}
NAME_SWAP = {"min": "max", "max": "min", "any": "all", "all": "any"}
SKIP_FIELDS = frozenset({"annotation", "returns", "decorator_list", "type_comment"})
NO_DELETE = (
    ast.Pass,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Import,
    ast.ImportFrom,
    ast.Global,
    ast.Nonlocal,
)


@dataclass(frozen=True)
class Mutant:
    """One fault: where it is, and the code before and after (as printed)."""

    index: int
    line: int
    original: str
    mutated: str
    scope: str = ""  # the enclosing class and function, e.g. `Policy.match`

    def describe(self, path: str) -> str:
        return f"{path}:{self.line}: {self.original} -> {self.mutated}"


@dataclass
class _Site:
    parent: ast.AST
    field: str
    index: int | None  # position in a list field, None for a single child
    line: int
    make: Callable[[ast.AST], ast.AST]
    note: str = ""  # "delete" for a deleted statement
    scope: str = ""


def _short(node: ast.AST, limit: int = 70) -> str:
    text = ast.unparse(node).splitlines()[0]
    return "`" + (text if len(text) <= limit else text[: limit - 3] + "...") + "`"


def _is_docstring(node: ast.AST, parent: ast.AST, field_name: str, index: int | None) -> bool:
    return (
        index == 0
        and field_name == "body"
        and isinstance(parent, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _float_shift(value: float) -> float:
    return round(value * 1.05, 12) if value else 0.05


def _candidates(node: ast.AST) -> Iterator[tuple[Callable[[ast.AST], ast.AST], str]]:
    """Replacements for ``node``: callables that build the mutated node from a copy."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            swap = COMPARE_SWAP.get(type(op))
            if swap is not None:

                def compare(n: ast.AST, i: int = i, swap: type[ast.cmpop] = swap) -> ast.AST:
                    assert isinstance(n, ast.Compare)
                    n.ops[i] = swap()
                    return n

                yield compare, ""
    elif isinstance(node, ast.BoolOp):
        other: type[ast.boolop] = ast.Or if isinstance(node.op, ast.And) else ast.And

        def boolop(n: ast.AST, other: type[ast.boolop] = other) -> ast.AST:
            assert isinstance(n, ast.BoolOp)
            n.op = other()
            return n

        yield boolop, ""
    elif isinstance(node, ast.BinOp | ast.AugAssign):
        binop = BINOP_SWAP.get(type(node.op))
        if binop is not None:

            def arith(n: ast.AST, binop: type[ast.operator] = binop) -> ast.AST:
                assert isinstance(n, ast.BinOp | ast.AugAssign)
                n.op = binop()
                return n

            yield arith, ""
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.USub):
        yield (lambda n: n.operand if isinstance(n, ast.UnaryOp) else n), ""
    elif isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool):
            yield (lambda n: ast.Constant(not value)), ""
        elif isinstance(value, int):
            yield (lambda n: ast.Constant(value + 1)), ""
            yield (lambda n: ast.Constant(value - 1)), ""
        elif isinstance(value, float):
            yield (lambda n: ast.Constant(_float_shift(value))), ""
        elif isinstance(value, str):
            yield (lambda n: ast.Constant("" if value else "X")), ""
    elif isinstance(node, ast.Name) and node.id in NAME_SWAP:
        yield (lambda n: ast.Name(NAME_SWAP[node.id], ast.Load())), ""
    elif isinstance(node, ast.Continue):
        yield (lambda n: ast.Break()), ""
    elif isinstance(node, ast.Break):
        yield (lambda n: ast.Continue()), ""


def _negate(n: ast.AST) -> ast.AST:
    assert isinstance(n, ast.expr)
    return ast.UnaryOp(ast.Not(), n)


def _negated_anyway(test: ast.AST) -> bool:
    """True when another mutant of ``test`` already is its negation (``not x`` -> ``x``,
    ``==`` -> ``!=``, ``in`` -> ``not in`` ...), so negating it would only repeat that one."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return True
    if isinstance(test, ast.Constant):  # `while True`: the constant's own mutant flips it
        return True
    negations = (ast.Eq, ast.NotEq, ast.In, ast.NotIn, ast.Is, ast.IsNot)
    return (
        isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], negations)
    )


def _sites(tree: ast.Module, skip_lines: frozenset[int]) -> list[_Site]:
    """Every place a mutation can be made, in a fixed order (a pre-order walk)."""
    found: list[_Site] = []

    def add(parent: ast.AST, name: str, index: int | None, child: ast.AST, scope: str) -> None:
        line = getattr(child, "lineno", getattr(parent, "lineno", 0))
        if line in skip_lines:
            return
        # Deleting a module-level definition or a class attribute (a dataclass field) only
        # gives a NameError or a TypeError at once: not a useful fault.
        if (
            isinstance(child, ast.stmt)
            and not isinstance(child, NO_DELETE)
            and not isinstance(parent, ast.Module | ast.ClassDef)
            and not (isinstance(child, ast.Expr) and isinstance(child.value, ast.Constant))
            and not (isinstance(child, ast.AnnAssign) and child.value is None)  # no-op
        ):
            found.append(_Site(parent, name, index, line, lambda n: ast.Pass(), "delete", scope))
        condition = (isinstance(parent, ast.If | ast.While | ast.IfExp) and name == "test") or (
            isinstance(parent, ast.comprehension) and name == "ifs"
        )
        if condition and not _negated_anyway(child):
            found.append(_Site(parent, name, index, line, _negate, "", scope))
        for make, note in _candidates(child):
            found.append(_Site(parent, name, index, line, make, note, scope))

    def walk(node: ast.AST, scope: str) -> None:
        for name, value in ast.iter_fields(node):
            if name in SKIP_FIELDS:
                continue
            if isinstance(node, ast.JoinedStr):  # f-string text: messages, not logic
                value = [v for v in value if not isinstance(v, ast.Constant)]
            children = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
            for index, child in children:
                if not isinstance(child, ast.AST):
                    continue
                if isinstance(child, ast.Import | ast.ImportFrom):
                    continue
                if not _is_docstring(child, node, name, index):
                    add(node, name, index, child, scope)
                    inner = scope
                    if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                        inner = f"{scope}.{child.name}" if scope else child.name
                    walk(child, inner)

    walk(tree, "")
    return found


def _get(site: _Site) -> ast.AST:
    value = getattr(site.parent, site.field)
    node = value[site.index] if site.index is not None else value
    assert isinstance(node, ast.AST)
    return node


def _put(site: _Site, node: ast.AST) -> None:
    if site.index is None:
        setattr(site.parent, site.field, node)
    else:
        getattr(site.parent, site.field)[site.index] = node


def _skip_lines(source: str) -> frozenset[int]:
    return frozenset(
        number for number, text in enumerate(source.splitlines(), start=1) if PRAGMA in text
    )


def mutants(source: str) -> list[Mutant]:
    """Every mutant of ``source``, numbered from 0 in a fixed order."""
    tree = ast.parse(source)
    out: list[Mutant] = []
    for index, site in enumerate(_sites(tree, _skip_lines(source))):
        before = _get(site)
        after = site.make(copy.deepcopy(before))
        mutated = "delete " + _short(before) if site.note == "delete" else _short(after)
        out.append(Mutant(index, site.line, _short(before), mutated, site.scope))
    return out


def mutated_tree(source: str, index: int) -> ast.Module:
    """``source`` parsed, with mutant ``index`` applied (a fresh tree each call)."""
    tree = ast.parse(source)
    site = _sites(tree, _skip_lines(source))[index]
    _put(site, site.make(copy.deepcopy(_get(site))))
    return ast.fix_missing_locations(tree)


def mutated_code(source: str, index: int, filename: str) -> CodeType:
    return compile(mutated_tree(source, index), filename, "exec", dont_inherit=True)


# -- serving a mutant to the tests ---------------------------------------------------------------


class MutantFinder(importlib.abc.MetaPathFinder):
    """Serves ``code`` as module ``name`` (from ``path``); every other import is left alone."""

    def __init__(self, name: str, path: str, code: CodeType) -> None:
        self.name, self.path, self.code = name, path, code

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        loader = _MutantLoader(fullname, self.path, self.code)
        return importlib.machinery.ModuleSpec(fullname, loader, origin=self.path)


class _MutantLoader(importlib.machinery.SourceFileLoader):
    def __init__(self, fullname: str, path: str, code: CodeType) -> None:
        super().__init__(fullname, path)
        self._code = code

    def get_code(self, fullname: str) -> CodeType:
        return self._code


def _is_project(name: str, module: ModuleType, tops: set[str]) -> bool:
    if name.split(".")[0] in tops:
        return True
    path = getattr(module, "__file__", None)
    if not path:
        return False
    resolved = Path(path).resolve()
    return resolved.is_relative_to(ROOT) and not any(
        resolved.is_relative_to(ROOT / skip) for skip in (".venv", "node_modules")
    )


def _imports_of(module: ModuleType) -> set[str]:
    """The modules ``module``'s source names in its import statements (anywhere in it)."""
    path = getattr(module, "__file__", None)
    if not path or not path.endswith(".py"):
        return set()
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = importlib.util.resolve_name("." * node.level + base, module.__package__)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _is_test_module(name: str) -> bool:
    """A test file or conftest: pytest imports these itself (rewriting their asserts)."""
    last = name.rpartition(".")[2]
    return last == "conftest" or last.startswith("test_")


def forget_dependents(module_name: str) -> list[str]:
    """Drop ``module_name``, every project module that imports it (directly or through
    others) and every test module and conftest from ``sys.modules``, so that the next import
    of each runs its code again and picks up a mutant. Project modules that cannot see the
    mutant stay loaded. Returns the names dropped."""
    tops = {"tests", "conftest", module_name.split(".")[0]}
    project = {n: m for n, m in list(sys.modules.items()) if _is_project(n, m, tops)}
    imports = {name: _imports_of(mod) & project.keys() for name, mod in project.items()}
    stale = {module_name} | {n for n in project if _is_test_module(n)}
    grown = True
    while grown:
        grown = False
        for name, uses in imports.items():
            if name not in stale and uses & stale:
                stale.add(name)
                grown = True
    for name in stale:
        sys.modules.pop(name, None)
        parent, _, child = name.rpartition(".")
        if parent in sys.modules and parent not in stale:
            # `from pkg import mod` reads the attribute before sys.modules: drop it too.
            vars(sys.modules[parent]).pop(child, None)
    importlib.invalidate_caches()
    return sorted(stale)


def warm_up(target: Target) -> None:
    """Import pytest with its plugins, the tests and the module once in this process, so a
    forked child finds the libraries loaded; then forget what a mutant would change."""
    import pytest  # noqa: F401  (imported for the children)

    # Let the children reuse compiled (and pytest's assertion-rewritten) modules, even under
    # PYTHONDONTWRITEBYTECODE: the caches live in __pycache__ folders, which git ignores.
    sys.dont_write_bytecode = False
    for entry in (str(ROOT), str(ROOT / "app")):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    names = ["hypothesis", "tests.conftest", target.module]
    for test in target.tests:
        test_path = Path(test.split("::")[0])
        if not test_path.is_absolute() and test_path.parts[:1] == ("tests",):
            names.append(".".join(test_path.with_suffix("").parts))
    while names:
        try:
            module = importlib.import_module(names.pop(0))
        except Exception:  # noqa: S112 - warming is only a speed-up
            continue
        names.extend(getattr(module, "pytest_plugins", []))  # a conftest's plugins
    for plugin in importlib.metadata.entry_points(group="pytest11"):
        try:
            plugin.load()
        except Exception:  # noqa: S112
            continue
    forget_dependents(target.module)


def _child(target: Target, code: CodeType | None, quiet: bool) -> int:
    os.setpgid(0, 0)
    if quiet:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    if code is not None:
        sys.meta_path.insert(0, MutantFinder(target.module, str(ROOT / target.path), code))
    import pytest

    return int(pytest.main([*PYTEST_ARGS, *target.args, *target.tests]))


def run_once(target: Target, code: CodeType | None, timeout: float, quiet: bool = True) -> str:
    """Run the target's tests in a forked child: ``passed``, ``failed (N)`` or ``timeout``."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child
        status = 98
        try:
            status = _child(target, code, quiet)
        except BaseException:  # a child must never return into the parent's code
            status = 99
        finally:
            os._exit(status)
    deadline = time.monotonic() + timeout
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                exit_code = os.waitstatus_to_exitcode(status)
                return "passed" if exit_code == 0 else f"failed ({exit_code})"
            if time.monotonic() > deadline:
                _kill(pid)
                return "timeout"
            time.sleep(0.01)
    except KeyboardInterrupt:
        _kill(pid)
        raise


def _kill(pid: int) -> None:
    """End the child and whatever it started (its own process group), and reap it."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)


# -- running a module ---------------------------------------------------------------------------


@dataclass
class Report:
    name: str
    target: Target
    total: int = 0
    killed: int = 0
    survivors: list[Mutant] = field(default_factory=list)
    equivalent: list[tuple[Mutant, str]] = field(default_factory=list)  # and why
    stale_equivalent: list[Mutant] = field(default_factory=list)  # judged equivalent, yet killed
    unknown_equivalent: list[Equivalent] = field(default_factory=list)  # no such mutant now
    seconds: float = 0.0

    @property
    def score(self) -> float:
        counted = self.total - len(self.equivalent)
        return 100.0 * self.killed / counted if counted else 100.0

    @property
    def raw_score(self) -> float:
        return 100.0 * self.killed / self.total if self.total else 100.0


def _line_text(source: str, line: int) -> str:
    lines = source.splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def run_module(name: str, target: Target, only: int | None = None) -> Report | None:
    source = (ROOT / target.path).read_text(encoding="utf-8")
    filename = str(ROOT / target.path)
    found = mutants(source)
    judged = {(e.scope, e.line, e.change, e.nth): e for e in EQUIVALENT.get(name, [])}
    warm_up(target)
    started = time.monotonic()
    baseline = run_once(target, None, timeout=600.0)
    base_seconds = time.monotonic() - started
    if baseline != "passed":
        print(f"{name}: the tests fail without any mutant ({baseline}); fix them first")
        return None
    timeout = 2 * base_seconds + 5  # a mutant that hangs (an endless loop) counts as killed
    if only is not None:
        mutant = found[only]
        print(mutant.describe(target.path))
        print(run_once(target, mutated_code(source, only, filename), timeout, quiet=False))
        return None
    print(
        f"== {name}: {target.path}, {len(found)} mutants; tests {' '.join(target.tests)}; "
        f"baseline {base_seconds:.1f} s, limit {timeout:.0f} s per mutant",
        flush=True,
    )
    report = Report(name, target, total=len(found))
    seen: dict[tuple[str, str, str, int], Mutant] = {}
    repeats: dict[tuple[str, str, str], int] = {}
    for mutant in found:
        outcome = run_once(target, mutated_code(source, mutant.index, filename), timeout)
        where = (
            mutant.scope,
            _line_text(source, mutant.line),
            f"{mutant.original} -> {mutant.mutated}",
        )
        repeats[where] = repeats.get(where, 0) + 1
        key = (*where, repeats[where])
        seen[key] = mutant
        if outcome == "passed":
            if key in judged:
                report.equivalent.append((mutant, judged[key].why))
            else:
                report.survivors.append(mutant)
        else:
            report.killed += 1
            if key in judged:
                report.stale_equivalent.append(mutant)
        if sys.stderr.isatty():
            print(f"\r  {mutant.index + 1}/{len(found)}", end="", file=sys.stderr, flush=True)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    report.seconds = time.monotonic() - started
    report.unknown_equivalent = [e for key, e in judged.items() if key not in seen]
    _print_report(report)
    return report


def _print_report(report: Report) -> None:
    print(
        f"{report.name}: {report.killed}/{report.total} killed ({report.raw_score:.1f}%), "
        f"{len(report.equivalent)} judged equivalent, score {report.score:.1f}% "
        f"(goal {report.target.goal:.0f}%), {report.seconds:.0f} s",
        flush=True,
    )
    for mutant in report.survivors:
        print(f"  survived: #{mutant.index} {mutant.describe(report.target.path)}")
    for mutant, why in report.equivalent:
        print(f"  equivalent: #{mutant.index} {mutant.describe(report.target.path)} ({why})")
    for mutant in report.stale_equivalent:
        print(f"  killed, but listed as equivalent: {mutant.describe(report.target.path)}")
    for entry in report.unknown_equivalent:
        print(f"  listed as equivalent, but no such mutant: {entry.line}: {entry.change}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"among {', '.join(MODULES)} (default: all)")
    parser.add_argument("--list", action="store_true", help="print the mutants and stop")
    parser.add_argument("--only", type=int, help="run one mutant (by number), showing output")
    parser.add_argument("--target", help="another module: IMPORT.NAME=path/to/file.py")
    parser.add_argument("--tests", nargs="+", default=[], help="the tests for --target")
    parser.add_argument("--goal", type=float, default=0.0, help="the target score for --target")
    args = parser.parse_args(argv)

    if args.target:
        module, _, path = args.target.partition("=")
        if not path or not args.tests:
            parser.error("--target needs IMPORT.NAME=PATH and --tests")
        chosen = {module: Target(module, str(Path(path).resolve()), tuple(args.tests), args.goal)}
    else:
        unknown = [m for m in args.modules if m not in MODULES]
        if unknown:
            parser.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(MODULES)}")
        chosen = {m: MODULES[m] for m in (args.modules or MODULES)}
    if args.only is not None and len(chosen) != 1:
        parser.error("--only needs exactly one module")

    if args.list:
        for name, target in chosen.items():
            found = mutants((ROOT / target.path).read_text(encoding="utf-8"))
            print(f"== {name}: {len(found)} mutants")
            for mutant in found:
                print(f"  #{mutant.index} {mutant.describe(target.path)}")
        return 0

    os.chdir(ROOT)
    started = time.monotonic()
    reports: list[Report] = []
    for name, target in chosen.items():
        report = run_module(name, target, args.only)
        if report is None:
            return 0 if args.only is not None else 2
        reports.append(report)
    print(f"\n{'module':<12} {'mutants':>8} {'killed':>7} {'equiv.':>7} {'score':>7} {'goal':>5}")
    for r in reports:
        print(
            f"{r.name:<12} {r.total:>8} {r.killed:>7} {len(r.equivalent):>7} "
            f"{r.score:>6.1f}% {r.target.goal:>4.0f}%"
        )
    print(f"total time {time.monotonic() - started:.0f} s")
    return 0 if all(r.score >= r.target.goal for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
