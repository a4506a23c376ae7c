"""Policy parsing, CODEOWNERS matching semantics and the defaults-as-floor combination."""

from __future__ import annotations

import pytest

from selfheal.model.codeowners import compile_pattern
from selfheal.model.policy import (
    Level,
    PolicyError,
    combine,
    decode_policy,
    lint_policy,
    load_effective_policy,
    parse_policy,
)

# (pattern, path, matches?) — GitHub's documented CODEOWNERS behaviour.
MATCH_TABLE = [
    # no slash: any depth, the path itself or a directory of that name
    ("foo", "foo", True),
    ("foo", "bar/foo", True),
    ("foo", "bar/foo/baz", True),
    ("foo", "foo.txt", False),
    ("foo", "bar/foo.txt", False),
    # leading slash anchors to the root
    ("/foo", "foo", True),
    ("/foo", "foo/bar/baz", True),
    ("/foo", "bar/foo", False),
    ("/foo", "fool.txt", False),
    # trailing slash: everything under a directory, never the file itself
    ("foo/", "foo", False),
    ("foo/", "foo/bar", True),
    ("foo/", "bar/foo/baz", True),
    ("apps/", "deeply/nested/apps/x.py", True),
    ("/foo/", "bar/foo/baz", False),
    ("/build/logs/", "build/logs/a/b.log", True),
    ("/build/logs/", "x/build/logs/a.log", False),
    # a slash in the middle anchors implicitly
    ("foo/bar", "foo/bar/baz", True),
    ("foo/bar", "baz/foo/bar", False),
    ("foo/bar", "foo/bart", False),
    ("foo/bar/", "foo/bar", False),
    # `*` never crosses `/`
    ("*", "anything/at/all.py", True),
    ("*.js", "src/deep/app.js", True),
    ("*.js", "src/app.jsx", False),
    ("f*", "bar/foo/baz", True),
    ("f*", "xfoo", False),
    ("/*", "foo", True),
    ("/*", "foo/bar", False),
    ("/*/", "foo/bar", True),
    ("/*/", "foo", False),
    ("docs/*", "docs/getting-started.md", True),
    ("docs/*", "docs/build-app/troubleshooting.md", False),
    ("foo/*.txt", "foo/bar.txt", True),
    ("foo/*.txt", "foo/bar/baz.txt", False),
    ("foo/*/baz", "foo/bar/baz/qux", True),
    ("foo/*/baz", "foo/baz", False),
    # `?` is one character, not `/`
    ("f?o", "foo", True),
    ("f?o", "fooo", False),
    ("a?b", "a/b", False),
    # `**` crosses directories
    ("**/logs", "build/logs/x.log", True),
    ("**/logs", "logs", True),
    ("**/foo/bar", "qux/foo/bar/baz", True),
    ("**/foo/bar", "foo/baz/bar", False),
    ("foo/**", "foo/bar/baz", True),
    ("foo/**", "foo", False),
    ("foo/**/bar", "foo/bar", True),
    ("foo/**/bar", "foo/a/b/bar/c", True),
    ("foo/**/bar", "x/foo/bar", False),
    ("/docs/**/*.md", "docs/a/b/c.md", True),
    ("/docs/**/*.md", "docs/c.md", True),
    ("/docs/**/*.md", "docs/c.txt", False),
    ("foo/**/", "foo/bar", True),
    ("foo/**/", "foo", False),
    ("**/*bar*", "bar", True),
    ("**/*bar*", "foo/qux/rebar", True),
    ("/f*", "foo/bar/baz", True),
    ("f*/", "foo", False),
    ("f*/", "bar/foo/baz", True),
    ("/f*/", "bar/foo/baz", False),
    # escapes
    ("f\\*o", "f*o", True),
    ("f\\*o", "foo", False),
    ("\\#notes", "#notes", True),
    ("path\\ with\\ spaces/", "path with spaces/x", True),
    # case sensitive, like GitHub
    ("README", "readme", False),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), MATCH_TABLE)
def test_codeowners_matching(pattern: str, path: str, expected: bool) -> None:
    assert bool(compile_pattern(pattern).match(path)) is expected


def test_last_matching_line_wins_and_owners_are_reported() -> None:
    policy = parse_policy(
        "*            open\n"
        "/src/        review @org/devs\n"
        "/src/auth/   protected @alice sec@example.com\n"
        "/src/auth/README.md review\n",
        "p.policy",
    )
    found = policy.match("src/auth/login.py")
    assert found is not None
    assert (found.level, found.line, found.pattern) == (Level.PROTECTED, 3, "/src/auth/")
    assert found.owners == ("@alice", "sec@example.com")
    assert policy.level_of("src/auth/README.md") is Level.REVIEW
    assert policy.owners_of("src/app.py") == ("@org/devs",)
    assert policy.level_of("setup.py") is Level.OPEN
    assert parse_policy("/src/ review\n", "p").match("lib/x.py") is None


def test_comments_blank_lines_inline_comments_and_escaped_hash() -> None:
    policy = parse_policy(
        "# a comment\n\n   \n*.py review @bob # inline comment\n\\#x protected\n", "p"
    )
    assert [r.line for r in policy.rules] == [4, 5]
    assert policy.rules[0].owners == ("@bob",)
    assert policy.level_of("#x") is Level.PROTECTED


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("!secret.txt protected", "negation"),
        ("*.[ch] review", "character ranges"),
        ("src/", "missing level"),
        ("src/ @alice", "missing level"),  # owners but no level
        ("src/ locked", "unknown level 'locked'"),
        ("src/ @alice review", "the level must come before the owners"),
        ("src/ review alice", "bad owner 'alice'"),
        ("src/ review @-bad-", "bad owner"),
        ("src/ review @org/", "bad owner"),
        ("a//b review", "empty path segment"),
        ("foo\\", "lone backslash"),
        ("Src/ Protected", "unknown level 'Protected'"),
    ],
)
def test_malformed_lines_name_source_line_and_problem(line: str, fragment: str) -> None:
    text = "# header\n*.py open\n" + line + "\n"
    with pytest.raises(PolicyError) as info:
        parse_policy(text, ".github/selfheal.policy")
    assert info.value.line == 3
    assert info.value.source == ".github/selfheal.policy"
    assert fragment in info.value.message
    assert str(info.value).startswith(".github/selfheal.policy:3: error: ")


def test_lint_reports_every_problem_and_dead_duplicates() -> None:
    problems = lint_policy("!a protected\nb review\nc nope\nb open\n", "x.policy")
    rendered = [str(p) for p in problems]
    assert rendered[0].startswith("x.policy:1: error: ")
    assert rendered[1].startswith("x.policy:2: warning: pattern 'b' is repeated on line 4")
    assert rendered[2].startswith("x.policy:3: error: unknown level 'nope'")
    assert len(problems) == 3


def test_invalid_utf8_and_oversize_are_errors_with_lines() -> None:
    with pytest.raises(PolicyError) as info:
        decode_policy(b"a open\nb open\n\xff\xfe review\n", "p")
    assert info.value.line == 3
    with pytest.raises(PolicyError, match="larger than"):
        parse_policy("a open\n" * 200_000, "p")


def test_shipped_defaults_are_clean_and_protect_the_essentials() -> None:
    policy = load_effective_policy(None)
    expectations = {
        ".env": Level.PROTECTED,
        "config/.env.production": Level.PROTECTED,
        ".env.example": Level.REVIEW,
        "deploy/prod.env": Level.PROTECTED,
        "secrets.json": Level.PROTECTED,
        "app/credentials.json": Level.PROTECTED,
        "certs/server.pem": Level.PROTECTED,
        "keys/tls.key": Level.PROTECTED,
        "home/.ssh/id_rsa": Level.PROTECTED,
        "home/.ssh/id_ed25519.pub": Level.PROTECTED,
        ".npmrc": Level.PROTECTED,
        "deploy/kubeconfig": Level.PROTECTED,
        ".github/workflows/ci.yml": Level.PROTECTED,
        "CODEOWNERS": Level.PROTECTED,
        ".github/CODEOWNERS": Level.PROTECTED,
        "docs/CODEOWNERS": Level.PROTECTED,
        ".github/selfheal.policy": Level.PROTECTED,
        ".github/selfheal.yml": Level.REVIEW,
        "src/app.py": Level.OPEN,
        "docs/index.md": Level.OPEN,
        "src/keyboard.py": Level.OPEN,
    }
    got = {path: policy.level_of(path) for path in expectations}
    assert got == expectations


def test_repo_policy_can_tighten_but_never_lower_the_defaults() -> None:
    repo = (
        "*                     open\n"
        ".github/              open @mallory\n"
        ".env.example          protected @alice\n"
        "/.github/workflows/   protected @org/sec\n"
        "/src/                 review @org/devs\n"
    )
    policy = load_effective_policy(repo)
    workflows = policy.match(".github/workflows/release.yml")
    assert workflows is not None
    # Same level as the default: the repo line wins and supplies owners.
    assert (workflows.source, workflows.line, workflows.owners) == (
        ".github/selfheal.policy",
        4,
        ("@org/sec",),
    )
    # The repo tried to open up the policy file and CODEOWNERS: the defaults hold.
    for path in (".github/selfheal.policy", ".github/CODEOWNERS"):
        found = policy.match(path)
        assert found is not None
        assert found.level is Level.PROTECTED
        assert found.source == "policies/default.policy"
        assert "cannot lower the default protected level" in found.note
    assert policy.level_of(".env") is Level.PROTECTED  # `*  open` does not unprotect
    assert policy.level_of(".github/selfheal.yml") is Level.REVIEW  # review is a floor too
    assert policy.level_of(".env.example") is Level.PROTECTED  # tightened by the repo
    assert policy.owners_of("src/x.py") == ("@org/devs",)
    assert policy.level_of("README.md") is Level.OPEN


def test_bad_repo_policy_raises_with_its_own_source() -> None:
    with pytest.raises(PolicyError) as info:
        load_effective_policy("ok open\n!nope protected\n")
    assert (info.value.source, info.value.line) == (".github/selfheal.policy", 2)


def test_example_policy_is_valid_and_mirrors_the_seed() -> None:
    from selfheal.resources import policies_dir

    text = (policies_dir() / "examples" / "seed.policy").read_text()
    assert lint_policy(text, "seed.policy") == []
    policy = load_effective_policy(text)
    assert policy.level_of("mycosoft_mas/core/orchestrator.py") is Level.PROTECTED
    assert policy.level_of("mycosoft_mas/core/routers/api.py") is Level.REVIEW
    assert policy.level_of("mycosoft_mas/security/code_reviewer.py") is Level.PROTECTED
    assert policy.level_of("mycosoft_mas/agents/__init__.py") is Level.REVIEW
    assert policy.level_of("mycosoft_mas/agents/worker.py") is Level.OPEN
    assert policy.level_of("docs/#drafts/a.md") is Level.REVIEW
    assert policy.level_of(".env.local") is Level.PROTECTED


@pytest.mark.parametrize(
    "path", ["src/../.env", "./.env", "a//../.env", "../../.env", "x\\..\\.env"]
)
def test_paths_are_normalised_before_matching(path: str) -> None:
    assert load_effective_policy(None).level_of(path) is Level.PROTECTED


def test_lint_warns_when_a_repo_line_tries_to_lower_a_default() -> None:
    floor = load_effective_policy(None)
    text = ".env open\n/.github/workflows/ review @org/ci\n/src/ review\n*.py open\n"
    problems = lint_policy(text, "repo.policy", floor=floor)
    assert [(p.line, p.severity) for p in problems] == [(1, "warning"), (2, "warning")]
    assert "open cannot lower the default protected level" in problems[0].message
    assert "`/.github/workflows/`" in problems[1].message
    assert lint_policy(text, "repo.policy") == []  # without a floor nothing to compare


def test_hostile_patterns_cannot_stall_matching() -> None:
    """`*a*a*a*a*b` takes a backtracking regex minutes on a long name; ours is linear."""
    hostile = parse_policy("".join(f"{'*a' * k}*b protected\n" for k in range(2, 12)), "evil")
    long_name = "a" * 255
    assert hostile.match(f"dir/{long_name}") is None
    assert hostile.level_of(f"{long_name}b") is Level.PROTECTED
    deep = "/".join(["a"] * 200)
    assert parse_policy("a/**/a/**/a/**/b review\n", "evil").match(deep) is None
    with pytest.raises(PolicyError, match="longer than 1024"):
        parse_policy("x" * 1025 + " open\n", "evil")


@pytest.mark.parametrize(
    ("path", "level"),
    [
        ("home/.aws/credentials", Level.PROTECTED),
        ("ops/.docker/config.json", Level.PROTECTED),
        (".kube/config", Level.PROTECTED),
        ("deploy/.kube/config", Level.PROTECTED),
        ("src/credentials/handler.py", Level.OPEN),  # a code package, not a secrets file
        ("config/credentials.yml", Level.PROTECTED),
    ],
)
def test_default_credential_locations_match_at_any_depth(path: str, level: Level) -> None:
    assert load_effective_policy(None).level_of(path) is level


@pytest.mark.parametrize(
    ("pattern", "directory", "expected"),
    [
        ("/.github/workflows/", ".github", True),
        ("/.github/workflows/", ".github/workflows", True),
        ("/.github/workflows/", ".github/workflows/old", True),
        ("/.github/workflows/", "docs", False),
        ("/docs/CODEOWNERS", "docs", True),
        ("/docs/*", "docs", True),
        ("/docs/*", "docs/sub", False),  # direct children only
        ("**/.kube/config", "home/.kube", True),
        ("**/.kube/config", "home", False),  # `**` alone names no directory
        ("config/**", "config", True),
        ("*.pem", "certs", False),  # a name valid at any depth
        (".env", "config", False),
        ("*.pem", "a.pem", True),  # the directory itself matches
        ("/.github/workflows/", "", True),  # the root: everything is below it
    ],
)
def test_a_pattern_reaches_below_a_directory_it_names(
    pattern: str, directory: str, expected: bool
) -> None:
    parts = directory.split("/") if directory else []
    assert compile_pattern(pattern).reaches_below(parts) is expected


def test_the_strictest_line_below_a_directory_counts_layers_and_spellings() -> None:
    repo = "/build/ review\n/build/keys/ protected @sec\n/docs/ open\n"
    policy = load_effective_policy(repo, "repo.policy")
    found = policy.match_below(".github")
    assert found is not None and (found.pattern, found.level) == (
        "/.github/workflows/",
        Level.PROTECTED,
    )
    found = policy.match_below("build")
    assert found is not None and (found.pattern, found.owners) == ("/build/keys/", ("@sec",))
    assert policy.match_below("src") is None
    found = policy.match_below("docs")  # an open line cannot lower /docs/CODEOWNERS
    assert found is not None and found.pattern == "/docs/CODEOWNERS"
    folded = policy.match_below(".GitHub/Workflows")  # one directory on macOS and Windows
    assert (
        folded is not None and folded.level is Level.PROTECTED and "case-insensitive" in folded.note
    )


def test_guardians_lines_name_people_to_mention_and_combine_with_the_floor() -> None:
    text = "guardians @sec-team @acme/oncall\n/app/ review @alice\nguardians @sec-team @bob\n"
    policy = parse_policy(text, ".github/selfheal.policy")
    assert policy.guardians == ("@sec-team", "@acme/oncall", "@bob")
    assert [r.pattern for r in policy.rules] == ["/app/"]
    floor = parse_policy("guardians @root\n.env protected\n", "defaults")
    both = combine(floor, policy)
    assert both.guardians == ("@root", "@sec-team", "@acme/oncall", "@bob")
    # a file named "guardians" still takes a level; e-mail guardians cannot be mentioned
    assert parse_policy("guardians protected\n", "p").level_of("guardians").label == "protected"
    with pytest.raises(PolicyError, match="bad guardian"):
        parse_policy("guardians @ok bob@example.com\n", "p")
    assert [p.message for p in lint_policy("guardians @x\n", "p")] == []
