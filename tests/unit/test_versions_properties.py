"""Version ranges against packaging's own answers, and OSV ranges against the OSV algorithm.

* ``bounds_from_specifier`` must describe exactly the final releases that
  ``SpecifierSet.contains`` admits, and never leave out a version it admits;
* ``poetry_to_pep440`` must admit exactly what Poetry's documented caret and tilde rules admit
  (the expected PEP 440 text is built here from the rules, not parsed back from the code);
* an OSV ``affected`` entry must contain exactly the versions the OSV schema's evaluation
  algorithm says it does, with the "fixed in" advice naming the lowest fix above a version.

The versions checked are a grid of every release with up to three components from 0 to 4,
so bumps (``<2``, ``<0.0.4``) and their neighbours are always in it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from selfheal.scanner.versions import (
    AffectedSet,
    Bounds,
    Interval,
    bounds_from_specifier,
    build_affected_set,
    intervals_from_events,
    parse_specifier,
    parse_version,
    poetry_to_pep440,
)
from tests.support.properties import BOUNDED

DIGITS = range(5)
RELEASES: list[tuple[int, ...]] = [
    r for size in (1, 2, 3) for r in itertools.product(DIGITS, repeat=size)
]
GRID = [Version(".".join(map(str, r))) for r in RELEASES]
POSTS = [Version(t) for t in ("1.2.post1", "0.0.post3", "2.post2")]
PRE = [Version(t) for t in ("1.2rc1", "2.0.dev0", "3.1a2")]
# OSV ranges are checked on a smaller grid: components 0 to 2 (39 versions)
OSV_RELEASES = [r for r in RELEASES if max(r) <= 2]
OSV_GRID = [Version(".".join(map(str, r))) for r in OSV_RELEASES]


def text(release: Sequence[int]) -> str:
    return ".".join(map(str, release))


def admits(b: Bounds, v: Version) -> bool:
    """Whether ``v`` lies between the bounds (the interval the gate reasons about)."""
    if b.lower is not None and (v < b.lower or (v == b.lower and not b.lower_inclusive)):
        return False
    return b.upper is None or v < b.upper or (v == b.upper and b.upper_inclusive)


# -- specifiers ----------------------------------------------------------------------------------

release = st.lists(st.integers(0, 3), min_size=1, max_size=3).map(tuple)


@st.composite
def clause(draw: st.DrawFn, *, exclusions: bool = False) -> str:
    ops = [">=", ">", "<=", "<", "~=", "==*"] + (["!=", "!=*"] if exclusions else [])
    op = draw(st.sampled_from(ops))
    rel = draw(release)
    if op == "~=" and len(rel) < 2:
        rel = (*rel, 0)
    if op.endswith("*"):
        return f"{op[:-1]}{text(rel)}.*"
    return f"{op}{text(rel)}"


def specifiers(*, exclusions: bool = False) -> st.SearchStrategy[str]:
    return st.lists(clause(exclusions=exclusions), min_size=1, max_size=3).map(",".join)


@BOUNDED
@given(specifiers())
@example("~=1.4.2")
@example("~=2.2,<2.3.1")
@example(">1.2,>=1.2")
@example(">=1.2,>1.2")
@example("<=2.0,<2.0")
@example("<2.0,<=2.0")
@example("==1.2.*,>=1.2.3")
@example("==1.*")
@example(">3,<1")
def test_bounds_admit_exactly_the_final_releases_the_specifier_admits(spec_text: str) -> None:
    spec = SpecifierSet(spec_text)
    bounds = bounds_from_specifier(spec)
    assert bounds.pin is None
    assert bounds.specifier == spec
    wrong = [v for v in GRID if spec.contains(v) != admits(bounds, v)]
    assert wrong == [], (spec_text, bounds)


@BOUNDED
@given(specifiers(exclusions=True))
@example("!=1.2,>=1.0")
@example("!=1.*")
def test_bounds_never_leave_out_an_admitted_version(spec_text: str) -> None:
    """Final and post releases only: ``==2.*`` also admits 2.0.dev0, below its lower bound,
    but an installer takes a pre-release only when asked to."""
    spec = SpecifierSet(spec_text)
    bounds = bounds_from_specifier(spec)
    left_out = [v for v in GRID + POSTS if spec.contains(v) and not admits(bounds, v)]
    assert left_out == [], (spec_text, bounds)


@pytest.mark.parametrize(
    ("spec", "lower", "upper"),
    [
        ("~=1.4.2", ("1.4.2", True), ("1.5", False)),
        ("~=2.2", ("2.2", True), ("3", False)),
        ("~=1.4.2,<1.4.5", ("1.4.2", True), ("1.4.5", False)),
        ("~=1.4.2,<=1.9", ("1.4.2", True), ("1.5", False)),
        (">=1.0,>=1.2", ("1.2", True), None),
        (">1.2,>=1.2", ("1.2", False), None),
        (">=1.2,>1.2", ("1.2", False), None),
        ("<3,<=2", None, ("2", True)),
        ("<=2.0,<2.0", None, ("2.0", False)),
        ("==1.2.*", ("1.2", True), ("1.3", False)),
        ("==1.*,>=1.5", ("1.5", True), ("2", False)),
        ("!=1.3", None, None),
    ],
)
def test_bounds_of_combined_specifiers(
    spec: str, lower: tuple[str, bool] | None, upper: tuple[str, bool] | None
) -> None:
    b = bounds_from_specifier(SpecifierSet(spec))
    got_lower = (str(b.lower), b.lower_inclusive) if b.lower is not None else None
    got_upper = (str(b.upper), b.upper_inclusive) if b.upper is not None else None
    assert (got_lower, got_upper) == (lower, upper)


@pytest.mark.parametrize(("spec", "pin"), [("==1.2.3", "1.2.3"), ("===1.0-foo", "1.0-foo")])
def test_an_exact_version_is_a_pin(spec: str, pin: str) -> None:
    assert bounds_from_specifier(SpecifierSet(spec)) == Bounds(
        pin=pin, specifier=SpecifierSet(spec)
    )


# -- Poetry --------------------------------------------------------------------------------------


def caret(rel: tuple[int, ...]) -> str:
    """Poetry: an update may not change the left-most non-zero of the given components
    (``^0.0`` and ``^0`` bump the last component given)."""
    bump = next((i for i, part in enumerate(rel) if part), len(rel) - 1)
    upper = [*rel[:bump], rel[bump] + 1]
    return f">={text(rel)},<{text(upper)}"


def tilde(rel: tuple[int, ...]) -> str:
    """Poetry: with a minor version given only patch updates, with a major only minor ones."""
    keep = 2 if len(rel) >= 2 else 1
    upper = [*rel[: keep - 1], rel[keep - 1] + 1]
    return f">={text(rel)},<{text(upper)}"


@st.composite
def poetry_clause(draw: st.DrawFn) -> tuple[str, str]:
    """(Poetry text, the PEP 440 text it means)."""
    kind = draw(st.sampled_from(["^", "~", "bare", ">=", "<", "!=", "~="]))
    rel = draw(release)
    if kind == "^":
        return f"^{text(rel)}", caret(rel)
    if kind == "~":
        return f"~{text(rel)}", tilde(rel)
    if kind == "bare":
        return text(rel), f"=={text(rel)}"
    if kind == "~=" and len(rel) < 2:
        rel = (*rel, 0)
    return f"{kind}{text(rel)}", f"{kind}{text(rel)}"


@st.composite
def poetry_constraint(draw: st.DrawFn) -> tuple[str, list[str]]:
    branches = draw(st.lists(st.lists(poetry_clause(), min_size=1, max_size=2), min_size=1,
                             max_size=2))  # fmt: skip
    # Poetry also separates clauses with a space; selfheal reads that only before an operator
    bare = any(c[0][0].isdigit() for branch in branches for c in branch[1:])
    joiner = draw(st.sampled_from([",", ", "] if bare else [",", ", ", " "]))
    either = draw(st.sampled_from([" || ", "||", " | "]))
    written = either.join(joiner.join(c[0] for c in branch) for branch in branches)
    return written, [",".join(c[1] for c in branch) for branch in branches]


@BOUNDED
@given(poetry_constraint())
@example(("^0.0.3", [">=0.0.3,<0.0.4"]))
@example(("^0.0", [">=0.0,<0.1"]))
@example(("^0", [">=0,<1"]))
@example(("~1", [">=1,<2"]))
@example(("~1.2.3", [">=1.2.3,<1.3"]))
@example(("^1.2 || ~0.3", [">=1.2,<2", ">=0.3,<0.4"]))
def test_poetry_constraints_admit_what_poetry_documents(case: tuple[str, list[str]]) -> None:
    written, meant = case
    branches = poetry_to_pep440(written)
    assert len(branches) == len(meant)
    for got, expected in zip(branches, meant, strict=True):
        ours, theirs = SpecifierSet(got), SpecifierSet(expected)
        assert [v for v in GRID if ours.contains(v) != theirs.contains(v)] == [], (written, got)
        bounds = bounds_from_specifier(ours)
        if bounds.pin is not None:  # an exact version is matched as a pin
            assert f"=={bounds.pin}" in expected.split(",")
        elif "!=" not in expected:
            assert [v for v in GRID if admits(bounds, v) != theirs.contains(v)] == [], got


def test_poetry_wildcards_and_spaces() -> None:
    assert poetry_to_pep440("*") == [""]
    assert poetry_to_pep440(" ^ 1.2 ") == [">=1.2,<2"]
    assert poetry_to_pep440(">= 1.0, < 2.0") == [">=1.0,<2.0"]
    # Poetry has no `^1.2.*`: it is translated without raising, and PEP 440 then rejects it
    assert [parse_specifier(b) for b in poetry_to_pep440("^1.2.*")] == [None]


# -- OSV ranges ----------------------------------------------------------------------------------

ZERO = "0"


def osv_affected(events: Sequence[tuple[str, str]], v: Version) -> bool:
    """The evaluation algorithm of the OSV schema, for one range."""
    ordered = sorted(events, key=lambda e: (e[1] != ZERO, Version(e[1]) if e[1] != ZERO else v))
    affected = False
    for kind, at in ordered:
        if kind == "introduced" and (at == ZERO or v >= Version(at)):
            affected = True
        elif kind == "fixed" and v >= Version(at):
            affected = False
        elif kind == "last_affected" and v > Version(at):
            affected = False
    return affected


def just_above(v: Version) -> Version:
    """A version above ``v`` and below every other grid version above it."""
    rel = (*v.release, 0, 0)[:3]
    return Version(text((*rel, 1)))


def just_below(v: Version) -> Version:
    """A version below ``v`` and above every other grid version below it (``v`` > 0)."""
    rel = list((*v.release, 0, 0)[:3])
    last = max(i for i, part in enumerate(rel) if part)
    return Version(text([*rel[:last], rel[last] - 1, 999]))


@st.composite
def osv_range(draw: st.DrawFn) -> list[tuple[str, str]]:
    """Events at distinct versions (``introduced: 0`` possibly first), in any order."""
    above_zero = [r for r in OSV_RELEASES if any(r)]
    points = draw(st.lists(st.sampled_from(above_zero), min_size=1, max_size=5,
                           unique_by=lambda r: Version(text(r))))  # fmt: skip
    kinds = st.sampled_from(["introduced", "introduced", "fixed", "last_affected"])
    events = [(draw(kinds), text(p)) for p in points]
    if draw(st.booleans()):
        events.insert(0, ("introduced", ZERO))
    return draw(st.permutations(events))


@BOUNDED
@given(
    st.lists(osv_range(), min_size=1, max_size=2), st.lists(st.sampled_from(OSV_GRID), max_size=2)
)
@example([[("introduced", "0"), ("fixed", "1.2")]], [])
@example([[("introduced", "1.0"), ("last_affected", "1.2")]], [Version("3")])
@example([[("fixed", "1.0"), ("introduced", "1.5"), ("fixed", "2.0")]], [])
def test_affected_sets_follow_the_osv_algorithm(
    ranges: list[list[tuple[str, str]]], explicit: list[Version]
) -> None:
    aset = build_affected_set(ranges, [str(v) for v in explicit])
    for v in PRE + POSTS:
        in_ranges = any(osv_affected(events, v) for events in ranges)
        assert aset.contains(v) == (in_ranges or v in explicit), (ranges, v)
    for v in OSV_GRID:
        in_ranges = any(osv_affected(events, v) for events in ranges)
        assert aset.contains(v) == (in_ranges or v in explicit), (ranges, v)
        assert aset.contains_text(str(v)) == aset.contains(v)
        assert aset.contains_just_above(v) == any(
            osv_affected(events, just_above(v)) for events in ranges
        ), (ranges, v)
        if v > Version("0"):
            assert aset.contains_just_below(v) == any(
                osv_affected(events, just_below(v)) for events in ranges
            ), (ranges, v)
    fixes = sorted({Version(at) for events in ranges for kind, at in events if kind == "fixed"})
    assert [Version(f) for f in aset.fixed] == fixes
    after: Version | None
    for after in [None, *OSV_GRID]:
        above = [f for f in fixes if after is None or f > after]
        advice = aset.first_fixed_after(after)
        assert (Version(advice) if advice is not None else None) == (above[0] if above else None)


def test_fixed_in_advice_names_the_first_fix_above_the_version() -> None:
    aset = build_affected_set(
        [
            [("introduced", "0"), ("fixed", "1.4.2")],
            [("introduced", "2.0"), ("fixed", "2.3")],
            [("introduced", "2.5"), ("fixed", "2.3.1")],  # out of order, still sorted
        ],
        [],
    )
    assert aset.fixed == ("1.4.2", "2.3", "2.3.1")
    assert aset.first_fixed_after(Version("1.0")) == "1.4.2"
    assert aset.first_fixed_after(Version("1.4.2")) == "2.3"
    assert aset.first_fixed_after(Version("2.1")) == "2.3"
    assert aset.first_fixed_after(Version("2.3")) == "2.3.1"
    assert aset.first_fixed_after(Version("9")) is None
    assert aset.first_fixed_after(None) == "1.4.2"
    assert build_affected_set([[("introduced", "0")]], []).first_fixed_after(None) is None


def test_a_fix_listed_twice_is_advised_once() -> None:
    aset = build_affected_set(
        [[("introduced", "0"), ("fixed", "2.0")], [("introduced", "1.0"), ("fixed", "2.0")]], []
    )
    assert aset.fixed == ("2.0",)


def test_a_range_with_a_version_that_is_not_pep440_is_dropped() -> None:
    assert intervals_from_events([("introduced", "1.0"), ("fixed", "not a version")]) == ([], [])
    aset = build_affected_set([[("introduced", "1.0"), ("fixed", "nope!")]], ["1.5", "r2-d2"])
    assert aset.intervals == ()
    assert aset.contains(Version("1.5"))
    assert not aset.contains(Version("1.6"))
    assert aset.contains_text("r2-d2")
    assert not aset.contains_text("r2-d3")
    assert aset.fixed == ()


def test_intervals_from_events() -> None:
    intervals, fixed = intervals_from_events(
        [("introduced", "0"), ("fixed", "1.0"), ("introduced", "2.0"), ("last_affected", "2.5")]
    )
    assert intervals == [
        Interval(None, Version("1.0")),
        Interval(Version("2.0"), Version("2.5"), high_inclusive=True),
    ]
    assert fixed == ["1.0"]
    assert intervals_from_events([("introduced", "3.0")]) == ([Interval(Version("3.0"), None)], [])


def test_events_at_the_same_version_keep_their_order() -> None:
    """Introduced and fixed at one version is an empty range, not everything above it."""
    aset = build_affected_set([[("introduced", "1.0"), ("fixed", "1.0")]], [])
    assert [aset.contains(Version(v)) for v in ("0.9", "1.0", "2.0")] == [False, False, False]
    intervals, _ = intervals_from_events(
        [("introduced", "0"), ("fixed", "2.0"), ("introduced", "2.0"), ("fixed", "3.0")]
    )
    assert intervals == [Interval(None, Version("2.0")), Interval(Version("2.0"), Version("3.0"))]


def test_introduced_zero_comes_first_even_before_pre_releases_of_zero() -> None:
    aset = build_affected_set([[("fixed", "0rc1"), ("introduced", "0")]], [])
    assert aset.contains(Version("0.dev0"))
    assert not aset.contains(Version("0"))
    assert not aset.contains(Version("1"))


def test_events_are_ordered_as_versions_not_as_text() -> None:
    aset = build_affected_set([[("introduced", "9.0"), ("fixed", "10.0")]], [])
    assert [aset.contains(Version(v)) for v in ("8", "9.5", "10.0", "11")] == [
        False,
        True,
        False,
        False,
    ]


def test_interval_edges() -> None:
    closed = Interval(Version("1.0"), Version("2.0"), high_inclusive=True)
    half_open = Interval(Version("1.0"), Version("2.0"))
    assert closed.contains(Version("2.0")) and not half_open.contains(Version("2.0"))
    assert closed.contains(Version("1.0")) and not closed.contains(Version("0.9"))
    assert half_open.contains_just_above(Version("1.0"))
    assert not half_open.contains_just_above(Version("2.0"))
    assert half_open.contains_just_below(Version("2.0"))
    assert not half_open.contains_just_below(Version("1.0"))
    unbounded = Interval(None, None)
    assert unbounded.contains(Version("0")) and unbounded.contains_just_below(Version("0.1"))


def test_parsers_return_none_for_garbage() -> None:
    assert parse_version("1.0") == Version("1.0")
    assert parse_version("not a version") is None
    assert parse_specifier(">=1,<2") == SpecifierSet(">=1,<2")
    assert parse_specifier(">>1") is None


def test_an_affected_set_without_parsed_fixes_gives_no_advice() -> None:
    aset = AffectedSet((), frozenset(), frozenset(), ("1.0",), (None,))
    assert aset.first_fixed_after(Version("0.5")) is None
    assert aset.first_fixed_after(None) == "1.0"
