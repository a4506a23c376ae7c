"""Policy lint over whole files: every problem is reported, wherever it sits.

Comment and blank lines are skipped, never a reason to stop: an error after them must still
be reported (a lint that stopped at the first blank line would pass a file whose later
lines the gate rejects).
"""

from __future__ import annotations

import pytest

from selfheal.model.policy import (
    Level,
    PolicyError,
    lint_policy,
    load_effective_policy,
    parse_policy,
)

# (policy text, [(line, severity, fragment of the message)])
LINT_TABLE = [
    ("", []),
    ("# only a comment\n\n   \n\t\n", []),
    ("# header\n\nsrc/ nope\n", [(3, "error", "unknown level 'nope'")]),
    (
        "a open\n# comment\nb nope\n\n   \nc review alice\n",
        [(3, "error", "unknown level 'nope'"), (6, "error", "bad owner 'alice'")],
    ),
    ("\n\n\n!x protected\n", [(4, "error", "negation is not supported")]),
    (
        "   # indented comment\n*.py review # inline\n\n*.[ch] review\n# end\nx\n",
        [(4, "error", "character ranges"), (6, "error", "missing level after 'x'")],
    ),
    (
        "a open\n\n# again\na review\n",
        [(1, "warning", "pattern 'a' is repeated on line 4, so this line never applies")],
    ),
    (
        "a open\nb nope\n\na review\n",
        [
            (1, "warning", "pattern 'a' is repeated on line 4"),
            (2, "error", "unknown level 'nope'"),
        ],
    ),
    (
        "# owners come after the level\n\nsrc/ @alice review\n\nlib/ @bob\n",
        [
            (3, "error", "the level must come before the owners"),
            (5, "error", "missing level before the owners"),
        ],
    ),
    ("\\#x protected\n#y nope\n\n\\#y nope\n", [(4, "error", "unknown level 'nope'")]),
    ("a//b open\n\nfoo\\\n", [(1, "error", "empty path segment"), (3, "error", "lone backslash")]),
    ("# comment\n" + "x" * 1025 + " open\n", [(2, "error", "longer than 1024 characters")]),
]


@pytest.mark.parametrize(("text", "expected"), LINT_TABLE)
def test_lint_reports_every_problem_in_line_order(
    text: str, expected: list[tuple[int, str, str]]
) -> None:
    problems = lint_policy(text, "repo.policy")
    assert [(p.line, p.severity) for p in problems] == [(line, sev) for line, sev, _ in expected]
    for problem, (line, severity, fragment) in zip(problems, expected, strict=True):
        assert fragment in problem.message
        assert str(problem).startswith(f"repo.policy:{line}: {severity}: ")


@pytest.mark.parametrize(("text", "expected"), [row for row in LINT_TABLE if row[1]])
def test_parse_raises_at_the_first_error_the_lint_reports(
    text: str, expected: list[tuple[int, str, str]]
) -> None:
    errors = [(line, fragment) for line, severity, fragment in expected if severity == "error"]
    if not errors:
        assert parse_policy(text, "repo.policy").rules
        return
    with pytest.raises(PolicyError) as info:
        parse_policy(text, "repo.policy")
    assert info.value.line == errors[0][0]
    assert errors[0][1] in info.value.message


def test_floor_warnings_come_after_comments_and_blank_lines_too() -> None:
    floor = load_effective_policy(None)
    text = "# lower the defaults\n\n.env open\n\n# and again\n*.pem review\n\n/src/ review\n"
    problems = lint_policy(text, "repo.policy", floor=floor)
    assert [(p.line, p.severity) for p in problems] == [(3, "warning"), (6, "warning")]
    assert problems[0].message.startswith("open cannot lower the default protected level of ")
    assert problems[1].message.startswith("review cannot lower the default protected level of ")
    assert "the default still applies" in problems[1].message


def test_a_line_at_the_floor_level_or_above_is_no_warning() -> None:
    floor = load_effective_policy(None)
    text = ".env protected @org/sec\n.env.example review\n.github/selfheal.yml protected\n"
    assert lint_policy(text, "repo.policy", floor=floor) == []


def test_a_clean_file_after_comments_parses_every_rule_with_its_line() -> None:
    text = "# c\n\n*.py review @org/devs # inline\n   \n/src/auth/ protected a@b.io\n# end\n"
    policy = parse_policy(text, "p")
    assert [(r.pattern, r.level, r.owners, r.line) for r in policy.rules] == [
        ("*.py", Level.REVIEW, ("@org/devs",), 3),
        ("/src/auth/", Level.PROTECTED, ("a@b.io",), 5),
    ]
    assert lint_policy(text, "p") == []
