"""CODEOWNERS matching against a slow, obviously correct reference.

The reference turns a pattern into a regular expression straight from the rules the module
documents (GitHub's CODEOWNERS and gitignore rules): a leading ``/`` anchors, a slash in the
middle anchors too, a trailing ``/`` means "everything under a directory", ``*`` and ``?``
stay within one path component, ``**`` as a whole segment spans any number of components, a
trailing ``/*`` means direct children only, any other pattern also matches everything under a
directory of that name, and ``\\`` escapes the next character. Hypothesis then compares the
two over generated patterns (literals around ``*``, ``?``, ``**`` and escapes) and paths,
including paths built from the pattern so that matches are common, and case-folded aliases.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from selfheal.model.codeowners import (
    compile_pattern,
    fold_path,
    fold_pattern,
    normalize_path,
    split_line,
)
from selfheal.model.policy import Level, load_effective_policy
from tests.support.properties import BOUNDED

# -- the reference ------------------------------------------------------------------------------

Char = tuple[str, bool]  # (character, escaped)
SLASH: Char = ("/", False)
GLOBSTAR = [("*", False), ("*", False)]
COMPONENTS = "(?:/[^/]+)*"  # zero or more whole path components (the path gets a leading /)


def _chars(raw: str) -> list[Char]:
    out: list[Char] = []
    rest = raw
    while rest:
        if rest[0] == "\\":
            if len(rest) == 1:
                raise ValueError("lone backslash")
            out.append((rest[1], True))
            rest = rest[2:]
        else:
            out.append((rest[0], False))
            rest = rest[1:]
    return out


def _segment_regex(segment: list[Char]) -> str:
    out = ""
    for ch, escaped in segment:
        if escaped:
            out += re.escape(ch)
        elif ch == "*":
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "[":
            raise ValueError("character range")
        else:
            out += re.escape(ch)
    return out


def reference(raw: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """The pattern as a regex over ``"/" + path`` (ValueError where the module errs)."""
    if len(raw) > 1024:
        raise ValueError("too long")
    chars = _chars(raw)
    if chars[:1] == [("!", False)]:
        raise ValueError("negation")
    anchored = chars[:1] == [SLASH]
    chars = chars[1:] if anchored else chars
    directory = chars[-1:] == [SLASH]
    chars = chars[:-1] if directory else chars
    if not chars:
        raise ValueError("empty")
    segments: list[list[Char]] = [[]]
    for char in chars:
        if char == SLASH:
            segments.append([])
        else:
            segments[-1].append(char)
    if any(not segment for segment in segments):
        raise ValueError("empty segment")
    anchored = anchored or len(segments) > 1
    if segments[-1] == GLOBSTAR:  # `x/**`: everything below x
        segments.pop()
        directory = True
    # `dir/*` (also `dir/***`: more stars are one star) matches direct children only
    last = segments[-1] if segments else []
    exact = (
        not directory
        and anchored
        and bool(last)
        and last != GLOBSTAR
        and all(c == ("*", False) for c in last)
    )
    body = "".join(COMPONENTS if s == GLOBSTAR else "/" + _segment_regex(s) for s in segments)
    if directory:
        tail = "(?:/[^/]+)+"
    elif exact:
        tail = ""
    else:
        tail = COMPONENTS
    head = "" if anchored else COMPONENTS
    return re.compile(f"{head}{body}{tail}", re.IGNORECASE if ignore_case else 0)


def reference_match(raw: str, path: str, *, ignore_case: bool = False) -> bool:
    return reference(raw, ignore_case=ignore_case).fullmatch("/" + path) is not None


def reference_fold(path: str) -> str:
    """What a case-insensitive file system that drops trailing dots and spaces calls it."""
    return "/".join(re.sub(r"[ .]+$", "", part).lower() or part for part in path.split("/"))


def outcome(check: object) -> object:
    """The result of calling ``check``, or the fact that it raised ValueError."""
    assert callable(check)
    try:
        return check()
    except ValueError:
        return "error"


# -- generating patterns and paths --------------------------------------------------------------

ATOMS = [
    "a", "b", "A", "B", ".", "-", "!", "#",  # literals
    "*", "?",  # wildcards
    "\\*", "\\?", "\\a", "\\B", "\\ ", "\\#", "\\[", "\\!", "\\.",  # escapes
]  # fmt: skip
PATH_CHARS = "abAB.-!#*?[ "


@st.composite
def segments(draw: st.DrawFn) -> list[str]:
    """A pattern as its raw segments (escapes kept): ``**`` or one to four atoms each."""
    count = draw(st.integers(1, 4))
    out = []
    for _ in range(count):
        if draw(st.integers(0, 4)) == 0:
            out.append("**")
        else:
            out.append("".join(draw(st.lists(st.sampled_from(ATOMS), min_size=1, max_size=4))))
    return out


component = st.text(PATH_CHARS, min_size=1, max_size=3).filter(lambda c: c not in (".", ".."))
random_paths = st.lists(component, min_size=1, max_size=5).map("/".join)


@st.composite
def pattern_and_path(draw: st.DrawFn) -> tuple[str, str]:
    """A pattern, and a path that is either random or built to (nearly) match it."""
    segs = draw(segments())
    lead = draw(st.sampled_from(["", "", "/"]))
    trail = draw(st.sampled_from(["", "", "/"]))
    pattern = lead + "/".join(segs) + trail
    if draw(st.booleans()):
        return pattern, draw(random_paths)
    parts: list[str] = draw(st.lists(component, max_size=2))  # leading directories
    for seg in segs:
        if seg == "**":
            parts.extend(draw(st.lists(component, max_size=2)))
            continue
        text = ""
        for ch, escaped in _chars(seg):
            if not escaped and ch == "*":
                text += draw(st.text(PATH_CHARS, max_size=2))
            elif not escaped and ch == "?":
                text += draw(st.sampled_from(PATH_CHARS))
            else:
                text += ch.swapcase() if draw(st.integers(0, 5)) == 0 else ch
        parts.append(text)
    parts.extend(draw(st.lists(component, max_size=2)))  # below it
    return pattern, "/".join(p for p in parts if p) or "a"


# -- the cases the audit named ---------------------------------------------------------------------

NAMED = [
    # the literal prefilter must use a literal the path really contains
    ("secret*.pem", "keys/secret-prod.pem", True),
    ("secret*.pem", "keys/secret-prod.key", False),
    ("*secret*prod*", "secret-prod", True),
    ("a?c*d", "x/abcd", True),
    # a trailing escaped character is a literal
    ("notes\\#", "notes#", True),
    ("notes\\#", "notes", False),
    ("a\\*", "a*", True),
    ("a\\*", "ab", False),
    ("a\\?", "ab", False),
    ("dir\\ ", "dir ", True),
    ("\\!important", "!important", True),
    # a trailing slash: below a directory of that name, at any depth
    ("docs/", "docs/docs", True),
    ("docs/", "docs", False),
    ("docs/", "x/docs/docs", True),
    ("/docs/", "x/docs/a", False),
    # `**` in the middle spans zero or more directories, `**` first any leading ones
    ("**/a/**/b", "a/b/a", True),
    ("**/a/**/b", "b/a", False),
    ("**/a/**/b", "x/a/y/z/b/c", True),
    ("a/**", "a", False),
    ("a/**/**", "a/b", True),
    ("**", "anything/at/all", True),
    # direct children only, also with more stars
    ("docs/***", "docs/a", True),
    ("docs/***", "docs/a/b", False),
    ("**/*", "a/b/c", True),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), NAMED)
def test_named_cases(pattern: str, path: str, expected: bool) -> None:
    assert compile_pattern(pattern).match(path) is expected
    assert reference_match(pattern, path) is expected


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        ("Reports/*.CSV", "reports/Q1.csv"),
        ("*.LOG", "var/app.log. "),
        ("/Config/Prod.yml", "CONFIG/prod.YML"),
        ("**/.Cache/index", "home/.cache/INDEX"),
    ],
)
def test_uppercase_patterns_have_case_folded_aliases(pattern: str, path: str) -> None:
    assert not compile_pattern(pattern).match(path)  # matching itself is case-sensitive
    assert fold_pattern(compile_pattern(pattern)).match(fold_path(path))
    policy = load_effective_policy(f"{pattern} protected @org/sec\n")
    found = policy.match(path)
    assert found is not None
    assert (found.level, found.pattern, found.owners) == (Level.PROTECTED, pattern, ("@org/sec",))
    assert f"{path} is {fold_path(path)} on a case-insensitive checkout" == found.note


def test_a_path_already_folded_gets_no_alias_note() -> None:
    found = load_effective_policy("/Config/Prod.yml protected\n").match("config/prod.yml")
    assert found is not None
    assert (found.level, found.note) == (Level.PROTECTED, "")


@pytest.mark.parametrize(
    ("path", "normal"),
    [
        ("", ""),
        ("a/b", "a/b"),
        ("/a//b/", "a/b"),
        ("a/./b/../c", "a/c"),
        ("../../x", "x"),
        ("a\\b\\..\\c", "a/c"),
    ],
)
def test_paths_are_normalised(path: str, normal: str) -> None:
    assert normalize_path(path) == normal


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("x" * 1025, "longer than 1024"),
        ("!a", "negation"),
        ("a[b]", "character ranges"),
        ("a//b", "empty path segment"),
        ("/", "empty pattern"),
        ("a\\", "lone backslash"),
    ],
)
def test_malformed_patterns(pattern: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        compile_pattern(pattern)


@pytest.mark.parametrize(
    ("line", "tokens"),
    [
        ("docs/my\\ notes.md review # a comment", ["docs/my\\ notes.md", "review"]),
        ("notes\\# protected", ["notes\\#", "protected"]),
        ("a\\\\ b", ["a\\\\", "b"]),  # an escaped backslash escapes nothing after it
        ("\\#x open", ["\\#x", "open"]),
        ("\tx\ty  ", ["x", "y"]),
        ("x#y open", ["x#y", "open"]),  # `#` inside a token is no comment
        ("   # only a comment", []),
        ("", []),
        ("tail\\", ["tail\\"]),
    ],
)
def test_policy_lines_split_into_tokens_with_escapes_kept(line: str, tokens: list[str]) -> None:
    assert list(split_line(line)) == tokens


def test_a_pattern_of_exactly_1024_characters_is_accepted() -> None:
    assert compile_pattern("x" * 1024).match("x" * 1024)


# -- the properties -------------------------------------------------------------------------------


@BOUNDED
@given(pattern_and_path())
@example(("secret*.pem", "keys/secret-prod.pem"))
@example(("docs/", "docs/docs"))
@example(("**/a/**/b", "a/b/a"))
@example(("a\\*", "a*"))
@example(("/*", "a/b"))
def test_matching_agrees_with_the_reference(case: tuple[str, str]) -> None:
    pattern, path = case
    got = outcome(lambda: compile_pattern(pattern).match(path))
    assert got == outcome(lambda: reference_match(pattern, path)), (pattern, path)


@BOUNDED
@given(pattern_and_path())
@example(("Secrets/*.PEM", "secrets/KEY.pem"))
@example(("README", "readme. "))
def test_folded_aliases_agree_with_a_case_insensitive_reference(case: tuple[str, str]) -> None:
    pattern, path = case
    folded = fold_path(path)
    assert folded == reference_fold(path)
    got = outcome(lambda: fold_pattern(compile_pattern(pattern)).match(folded))
    expected = outcome(lambda: reference_match(pattern, folded, ignore_case=True))
    assert got == expected, (pattern, path)
