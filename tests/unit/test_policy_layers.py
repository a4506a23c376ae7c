"""How a policy decides a path: the floor, case-folded aliases, size limits and the floor
warning's probe paths."""

from __future__ import annotations

import pytest

from selfheal.model.policy import (
    FORMAT_HINT,
    Level,
    PolicyError,
    decode_policy,
    lint_policy,
    load_effective_policy,
    parse_policy,
    with_aliases,
)

ONE_MIB = 1_048_576


def test_a_plain_match_has_no_note() -> None:
    found = parse_policy("/src/ review @org/devs\n", "p").match("src/a.py")
    assert found is not None
    assert (found.note, found.location) == ("", "p:1")


def test_the_floor_applies_where_the_repository_says_nothing() -> None:
    policy = load_effective_policy("/src/ review\n")
    found = policy.match("deploy/.env")
    assert found is not None
    assert (found.level, found.pattern, found.source, found.note) == (
        Level.PROTECTED,
        "*.env",
        "policies/default.policy",
        "",
    )


def test_an_overruled_repository_line_is_named_in_the_note() -> None:
    found = load_effective_policy("*.pem open @mallory\n").match("certs/server.pem")
    assert found is not None
    assert (found.level, found.pattern, found.owners) == (Level.PROTECTED, "*.pem", ())
    assert found.note == (
        ".github/selfheal.policy:1 (*.pem open) cannot lower the default protected level"
    )


def test_an_alias_never_replaces_an_exact_match_of_the_same_level() -> None:
    policy = with_aliases(
        parse_policy("config/prod.yml review @x\n/Config/Prod.yml review @y\n", "p")
    )
    found = policy.match("config/prod.yml")
    assert found is not None
    assert (found.owners, found.line, found.note) == (("@x",), 1, "")


def test_an_alias_only_raises_the_level() -> None:
    policy = with_aliases(parse_policy("secrets/ review @dev\n/Secrets/ protected @sec\n", "p"))
    found = policy.match("secrets/a.txt")
    assert found is not None
    assert (found.level, found.owners, found.line, found.note) == (
        Level.PROTECTED,
        ("@sec",),
        2,
        "",
    )
    upper = policy.match("SECRETS/a.txt")
    assert upper is not None
    assert (upper.level, upper.owners) == (Level.PROTECTED, ("@sec",))
    assert upper.note == "SECRETS/a.txt is secrets/a.txt on a case-insensitive checkout"
    # The last line wins for aliases too: a later open line also covers the folded name.
    later = with_aliases(parse_policy("/Secrets/ protected @sec\nsecrets/ open @dev\n", "p"))
    assert later.level_of("secrets/a.txt") is Level.OPEN
    assert later.level_of("Secrets/a.txt") is Level.PROTECTED


def test_the_last_alias_that_matches_wins_like_the_last_line() -> None:
    policy = with_aliases(parse_policy("/A/ review @one\n/a/B protected @two\n", "p"))
    found = policy.match("A/b")
    assert found is not None
    assert (found.level, found.owners, found.line) == (Level.PROTECTED, ("@two",), 2)
    assert policy.level_of("a/c") is Level.REVIEW
    assert policy.owners_of("a/c") == ("@one",)


def test_without_aliases_matching_is_case_sensitive() -> None:
    policy = parse_policy("/Secrets/ protected\n", "p")
    assert policy.match("secrets/a.txt") is None
    assert policy.level_of("secrets/a.txt") is Level.OPEN
    assert policy.owners_of("secrets/a.txt") == ()


def test_paths_are_normalised_before_the_aliases_too() -> None:
    policy = with_aliases(parse_policy("/Secrets/ protected\n", "p"))
    found = policy.match("x/../SECRETS/./a.txt")
    assert found is not None
    assert found.note == "SECRETS/a.txt is secrets/a.txt on a case-insensitive checkout"


# -- sizes and encodings ------------------------------------------------------------------------


def test_a_policy_of_exactly_one_mib_is_accepted_and_one_byte_more_is_not() -> None:
    text = "#" * (ONE_MIB - 1) + "\n"
    assert parse_policy(text, "p").rules == ()
    assert lint_policy(text, "p") == []
    for check in (parse_policy, lint_policy):
        with pytest.raises(PolicyError) as info:
            check(text + "\n", "big.policy")
        assert (info.value.source, info.value.line) == ("big.policy", 1)
        assert info.value.message == f"policy file is larger than {ONE_MIB} bytes"


def test_the_size_is_counted_in_utf8_bytes() -> None:
    text = "# " + "é" * ((ONE_MIB - 3) // 2) + "\n"  # two bytes a character
    assert len(text) < ONE_MIB < len(text.encode()) + 2
    with pytest.raises(PolicyError, match="larger than"):
        parse_policy(text + "é", "p")


def test_text_that_is_not_valid_unicode_is_still_sized_and_parsed() -> None:
    policy = parse_policy("a\ud800 open\n", "p")
    assert [rule.pattern for rule in policy.rules] == ["a\ud800"]


def test_invalid_utf8_names_its_line() -> None:
    with pytest.raises(PolicyError) as info:
        decode_policy(b"ok open\n\xc3\x28 review\n", "bad.policy")
    assert (info.value.message, info.value.line) == ("invalid UTF-8", 2)
    assert str(info.value) == "bad.policy:2: error: invalid UTF-8"
    assert decode_policy(b"\xef\xbb\xbfa open\n", "p") == "a open\n"  # a BOM is dropped


def test_format_errors_carry_the_format_hint() -> None:
    assert FORMAT_HINT == "expected `PATTERN LEVEL [@user | @org/team | email ...]`"
    with pytest.raises(PolicyError) as info:
        parse_policy("src/\n", "p")
    assert info.value.message == f"missing level after 'src/'; {FORMAT_HINT}"


# -- the floor warning probes a concrete path for each pattern ---------------------------------


@pytest.mark.parametrize(
    ("floor_line", "repo_line"),
    [
        ("/axc protected", "a?c open"),
        ("/x.pem protected", "*.pem open"),
        ("/a#b protected", "a\\#b open"),
        ("/.env protected", "**/.env open"),
        ("/secrets/ protected", "/secrets/** open"),
        ("/keys/ protected", "keys/ open"),
        ("/src/x.py protected", "/src/x.py review"),
    ],
)
def test_the_floor_warning_probes_a_path_the_pattern_matches(
    floor_line: str, repo_line: str
) -> None:
    floor = parse_policy(floor_line + "\n", "floor.policy")
    problems = lint_policy(repo_line + "\n", "repo.policy", floor=floor)
    pattern = floor_line.split()[0]
    level = repo_line.split()[1]
    assert [str(p) for p in problems] == [
        f"repo.policy:1: warning: {level} cannot lower the default protected level of "
        f"floor.policy:1 (`{pattern}`); the default still applies"
    ]
