"""CODEOWNERS-style policy files: which paths automation may change, and who owns them.

A policy line is ``PATTERN LEVEL [OWNER ...]``. PATTERN follows GitHub's CODEOWNERS rules
(gitignore-like: a leading ``/`` anchors to the repository root, a pattern with no slash, or
only a trailing one, matches at any depth, a trailing ``/`` means "everything under this
directory", ``*`` and ``?`` never cross ``/``, ``**`` does, a trailing ``/*`` matches direct
children only, ``!`` negation and ``[ ]`` ranges are errors). ``\\`` escapes the next
character (``\\#`` for a literal hash, ``\\ `` for a space). The LAST matching line wins.
LEVEL is ``protected`` | ``review`` | ``open``. ``#`` at the start of a line or after
whitespace starts a comment. A line ``guardians @user @org/team ...`` names the people the bot
mentions on a blocked request (a path named ``guardians`` still takes a level as usual).

Combination (see docs/policy.md): the defaults in ``policies/default.policy`` are a FLOOR.
For a path, the repository file's last matching line applies unless the defaults give the
path a stricter level, in which case the default line applies. A repository (or an agent
that edited its policy) can tighten anything but can never loosen a default.

Pure: no I/O except :func:`load_default_policy_text`, which reads the shipped defaults.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from dataclasses import dataclass

from selfheal.model.codeowners import (
    PathPattern,
    compile_pattern,
    fold_path,
    fold_pattern,
    normalize_path,
    split_line,
)
from selfheal.resources import policies_dir

MAX_POLICY_BYTES = 1_048_576
DEFAULT_POLICY_NAME = "default.policy"
REPO_POLICY_PATH = ".github/selfheal.policy"

USER_RE = re.compile(r"@[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
TEAM_RE = re.compile(r"@[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}/[A-Za-z0-9][\w.-]*")
EMAIL_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
FORMAT_HINT = "expected `PATTERN LEVEL [@user | @org/team | email ...]`"


class Level(enum.IntEnum):
    """Strictness, ordered: ``PROTECTED > REVIEW > OPEN``."""

    OPEN = 0
    REVIEW = 1
    PROTECTED = 2

    @property
    def label(self) -> str:
        return self.name.lower()


LEVELS = {level.label: level for level in Level}


class PolicyError(Exception):
    """A policy that cannot be used. ``str()`` is ``source:line: error: message``."""

    def __init__(self, message: str, source: str, line: int) -> None:
        super().__init__(f"{source}:{line}: error: {message}")
        self.message = message
        self.source = source
        self.line = line


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    source: str
    line: int
    message: str
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.severity}: {self.message}"


@dataclass(frozen=True, slots=True)
class PolicyMatch:
    """The line that decided a path's level. ``note`` explains a default that overrode."""

    pattern: str
    level: Level
    owners: tuple[str, ...]
    source: str
    line: int
    note: str = ""

    @property
    def location(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass(frozen=True, slots=True)
class Rule:
    pattern: str
    level: Level
    owners: tuple[str, ...]
    source: str
    line: int
    matcher: PathPattern

    def to_match(self, note: str = "") -> PolicyMatch:
        return PolicyMatch(self.pattern, self.level, self.owners, self.source, self.line, note)


@dataclass(frozen=True, slots=True)
class Policy:
    """Ordered rules (last match wins), optionally on top of a floor (the defaults)."""

    rules: tuple[Rule, ...]
    floor: Policy | None = None
    # Folded matchers (see :func:`with_aliases`): the shipped defaults also protect the names
    # a case-insensitive checkout treats as the same file (``.ENV``, ``KEY.PEM``, ``.env.``).
    aliases: tuple[PathPattern, ...] = ()
    # ``guardians`` lines: mentioned on blocked requests (the floor's first, then the file's)
    guardians: tuple[str, ...] = ()

    def _own_match(self, path: str, parts: list[str]) -> Rule | None:
        for rule in reversed(self.rules):
            if rule.matcher.match_parts(path, parts):
                return rule
        return None

    def _alias_match(self, path: str) -> PolicyMatch | None:
        folded = fold_path(path)
        parts = folded.split("/")
        for rule, matcher in zip(reversed(self.rules), reversed(self.aliases), strict=True):
            if matcher.match_parts(folded, parts):
                note = f"{path} is {folded} on a case-insensitive checkout"
                return rule.to_match(note if folded != path else "")
        return None

    def match(self, path: str) -> PolicyMatch | None:
        path = normalize_path(path)
        found = self._layered_match(path)
        if self.aliases:
            alias = self._alias_match(path)
            if alias is not None and (found is None or alias.level > found.level):
                return alias
        return found

    def _layered_match(self, path: str) -> PolicyMatch | None:
        own = self._own_match(path, path.split("/"))
        base = self.floor.match(path) if self.floor is not None else None
        if base is not None and (own is None or own.level < base.level):
            if own is None:
                return base
            note = (
                f"{own.source}:{own.line} ({own.pattern} {own.level.label}) cannot lower "
                f"the default {base.level.label} level"
            )
            return dataclasses.replace(base, note=note)
        return own.to_match() if own is not None else base

    def match_below(self, directory: str) -> PolicyMatch | None:
        """The strictest line (``review`` or ``protected``) that reaches below ``directory``
        (see :meth:`PathPattern.reaches_below`), whether or not anything exists there: what
        a link to that directory can come to expose. Every line reaches below the root."""
        path = normalize_path(directory)
        parts = _parts(path)
        found: list[PolicyMatch | None] = [
            rule.to_match()
            for rule in self.rules
            if rule.level > Level.OPEN and rule.matcher.reaches_below(parts)
        ]
        if self.aliases:
            folded = fold_path(path)
            note = f"{path} is {folded} on a case-insensitive checkout" if folded != path else ""
            folded_parts = _parts(folded)
            found.extend(
                rule.to_match(note)
                for rule, matcher in zip(self.rules, self.aliases, strict=True)
                if rule.level > Level.OPEN and matcher.reaches_below(folded_parts)
            )
        if self.floor is not None:
            found.append(self.floor.match_below(path))
        return max((f for f in found if f is not None), key=_strictness, default=None)

    def level_of(self, path: str) -> Level:
        found = self.match(path)
        return found.level if found is not None else Level.OPEN

    def owners_of(self, path: str) -> tuple[str, ...]:
        found = self.match(path)
        return found.owners if found is not None else ()


# -- helpers ---------------------------------------------------------------------------------


def _parts(path: str) -> list[str]:
    return path.split("/") if path else []


def _strictness(found: PolicyMatch) -> Level:
    return found.level


def _owner_ok(token: str) -> bool:
    if token.startswith("@"):
        return bool(USER_RE.fullmatch(token) or TEAM_RE.fullmatch(token))
    return bool(EMAIL_RE.fullmatch(token))


GUARDIANS = "guardians"


@dataclass(frozen=True, slots=True)
class GuardianLine:
    names: tuple[str, ...]


def _guardians(rest: list[str], source: str, lineno: int) -> GuardianLine | PolicyProblem | None:
    """``guardians @a @org/t``: None when the line is a path rule for a file named so."""
    if not rest or not rest[0].startswith("@"):
        return None
    for name in rest:
        if not (USER_RE.fullmatch(name) or TEAM_RE.fullmatch(name)):
            return PolicyProblem(
                source,
                lineno,
                f"bad guardian {name!r}: expected @user or "
                "@org/team (guardians are mentioned, so no e-mail addresses)",
            )
    return GuardianLine(tuple(rest))


def _parse_line(text: str, source: str, lineno: int) -> Rule | GuardianLine | PolicyProblem | None:
    tokens = list(split_line(text))
    if not tokens:
        return None
    raw, rest = tokens[0], tokens[1:]
    if raw == GUARDIANS:
        guardians = _guardians(rest, source, lineno)
        if guardians is not None:
            return guardians
    return _parse_rule(raw, rest, source, lineno)


def _parse_rule(raw: str, rest: list[str], source: str, lineno: int) -> Rule | PolicyProblem:
    def problem(message: str) -> PolicyProblem:
        return PolicyProblem(source, lineno, message)

    try:
        matcher = compile_pattern(raw)
    except ValueError as exc:
        return problem(f"bad pattern {raw!r}: {exc}")
    if not rest:
        return problem(f"missing level after {raw!r}; {FORMAT_HINT}")
    word = rest[0]
    level = LEVELS.get(word)
    if level is None and _owner_ok(word):
        if any(tok in LEVELS for tok in rest):
            return problem(f"the level must come before the owners; {FORMAT_HINT}")
        return problem(f"missing level before the owners; {FORMAT_HINT}")
    if level is None:
        return problem(
            f"unknown level {word!r} (expected protected, review or open); {FORMAT_HINT}"
        )
    owners = tuple(rest[1:])
    for owner in owners:
        if not _owner_ok(owner):
            return problem(f"bad owner {owner!r}: expected @user, @org/team or an email address")
    return Rule(raw, level, owners, source, lineno, matcher)


def _check_size(text: str, source: str) -> None:
    if len(text.encode("utf-8", "surrogatepass")) > MAX_POLICY_BYTES:
        raise PolicyError(f"policy file is larger than {MAX_POLICY_BYTES} bytes", source, 1)


# -- public functions ------------------------------------------------------------------------


def decode_policy(data: bytes, source: str) -> str:
    """Bytes to text; invalid UTF-8 is a :class:`PolicyError` naming the line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PolicyError("invalid UTF-8", source, line) from None


def _probe(pattern: str) -> str:
    """A concrete path the pattern matches (wildcards filled in), for the floor warning."""
    probe = pattern.lstrip("/").replace("\\", "").replace("**/", "").replace("/**", "/x")
    probe = probe.replace("*", "x").replace("?", "x")
    return probe + "x" if probe.endswith("/") else probe


def _floor_warning(rule: Rule, floor: Policy) -> PolicyProblem | None:
    found = floor.match(_probe(rule.pattern))
    if found is None or found.level <= rule.level:
        return None
    return PolicyProblem(
        rule.source,
        rule.line,
        f"{rule.level.label} cannot lower the default {found.level.label} level of "
        f"{found.location} (`{found.pattern}`); the default still applies",
        "warning",
    )


def lint_policy(text: str, source: str, *, floor: Policy | None = None) -> list[PolicyProblem]:
    """Every problem in a policy file: errors, and warnings for lines that can never win
    (a repeated pattern, or with ``floor``, a line that tries to lower a default)."""
    _check_size(text, source)
    problems: list[PolicyProblem] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        parsed = _parse_line(line, source, lineno)
        if isinstance(parsed, PolicyProblem):
            problems.append(parsed)
            continue
        if parsed is None or isinstance(parsed, GuardianLine):
            continue
        if parsed.pattern in seen:
            problems.append(
                PolicyProblem(
                    source,
                    seen[parsed.pattern],
                    f"pattern {parsed.pattern!r} is repeated on line {lineno}, "
                    "so this line never applies",
                    "warning",
                )
            )
        seen[parsed.pattern] = lineno
        lowered = _floor_warning(parsed, floor) if floor is not None else None
        if lowered is not None:
            problems.append(lowered)
    return sorted(problems, key=lambda p: p.line)


def parse_policy(text: str, source: str) -> Policy:
    """Parse a policy file; the first malformed line raises :class:`PolicyError`."""
    _check_size(text, source)
    rules: list[Rule] = []
    guardians: list[str] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        parsed = _parse_line(line, source, lineno)
        if isinstance(parsed, PolicyProblem):
            raise PolicyError(parsed.message, source, lineno)
        if isinstance(parsed, GuardianLine):
            guardians += [g for g in parsed.names if g not in guardians]
        elif parsed is not None:
            rules.append(parsed)
    return Policy(tuple(rules), guardians=tuple(guardians))


def load_default_policy_text() -> tuple[str, str]:
    """The shipped defaults as ``(text, source)``."""
    source = f"policies/{DEFAULT_POLICY_NAME}"
    return decode_policy((policies_dir() / DEFAULT_POLICY_NAME).read_bytes(), source), source


def with_aliases(policy: Policy) -> Policy:
    """``policy`` that also matches folded paths (see :attr:`Policy.aliases`), stricter only."""
    folded = tuple(fold_pattern(r.matcher) for r in policy.rules)
    return Policy(policy.rules, policy.floor, folded, policy.guardians)


def load_default_policy() -> Policy:
    """The shipped defaults, parsed, with case/trailing-dot aliases of protected names."""
    text, source = load_default_policy_text()
    return with_aliases(parse_policy(text, source))


def combine(defaults: Policy, repo: Policy | None) -> Policy:
    """The repository's rules on top of the defaults, which act as a floor. Like the
    defaults, they also match the spellings a case-insensitive checkout folds together."""
    if repo is None:
        return defaults
    guardians = defaults.guardians + tuple(g for g in repo.guardians if g not in defaults.guardians)
    return with_aliases(Policy(repo.rules, floor=defaults, guardians=guardians))


def load_effective_policy(
    repo_text: str | None, repo_source: str = REPO_POLICY_PATH, *, defaults: Policy | None = None
) -> Policy:
    """Defaults (shipped, or ``defaults``) combined with the repository's policy text."""
    if defaults is None:
        defaults = load_default_policy()
    repo = parse_policy(repo_text, repo_source) if repo_text is not None else None
    return combine(defaults, repo)
