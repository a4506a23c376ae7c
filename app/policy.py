"""CODEOWNERS-style policy files: which paths automation may change, and who owns them.

A policy line is ``PATTERN LEVEL [OWNER ...]``. PATTERN follows GitHub's CODEOWNERS rules
(gitignore-like: a leading ``/`` anchors to the repository root, a pattern with no slash, or
only a trailing one, matches at any depth, a trailing ``/`` means "everything under this
directory", ``*`` and ``?`` never cross ``/``, ``**`` does, a trailing ``/*`` matches direct
children only, ``!`` negation and ``[ ]`` ranges are errors). ``\\`` escapes the next
character (``\\#`` for a literal hash, ``\\ `` for a space). The LAST matching line wins.
LEVEL is ``protected`` | ``review`` | ``open``. ``#`` at the start of a line or after
whitespace starts a comment.

Combination (see docs/policy.md): the defaults in ``policies/default.policy`` are a FLOOR.
For a path, the repository file's last matching line applies unless the defaults give the
path a stricter level, in which case the default line applies. A repository (or an agent
that edited its policy) can tighten anything but can never loosen a default.

Pure: no I/O except :func:`load_default_policy_text`, which reads the shipped defaults.
"""

from __future__ import annotations

import enum
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from app.resources import policies_dir

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
    regex: re.Pattern[str]

    def to_match(self, note: str = "") -> PolicyMatch:
        return PolicyMatch(self.pattern, self.level, self.owners, self.source, self.line, note)


@dataclass(frozen=True, slots=True)
class Policy:
    """Ordered rules (last match wins), optionally on top of a floor (the defaults)."""

    rules: tuple[Rule, ...]
    floor: Policy | None = None
    # One alternation of every rule, LAST rule first: the first alternative that matches
    # the whole path is the last matching line, found in a single regex call.
    _combined: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.rules:
            alternatives = "|".join(f"({r.regex.pattern})" for r in reversed(self.rules))
            object.__setattr__(self, "_combined", re.compile(alternatives, re.DOTALL))

    def _own_match(self, path: str) -> Rule | None:
        if self._combined is None:
            return None
        found = self._combined.match(path)
        if found is None or found.lastindex is None:
            return None
        return self.rules[len(self.rules) - found.lastindex]

    def match(self, path: str) -> PolicyMatch | None:
        path = normalize_path(path)
        own = self._own_match(path)
        base = self.floor.match(path) if self.floor is not None else None
        if base is not None and (own is None or own.level < base.level):
            if own is None:
                return base
            note = (
                f"{own.source}:{own.line} ({own.pattern} {own.level.label}) cannot lower "
                f"the default {base.level.label} level"
            )
            return PolicyMatch(base.pattern, base.level, base.owners, base.source, base.line, note)
        return own.to_match() if own is not None else base

    def level_of(self, path: str) -> Level:
        found = self.match(path)
        return found.level if found is not None else Level.OPEN

    def owners_of(self, path: str) -> tuple[str, ...]:
        found = self.match(path)
        return found.owners if found is not None else ()


# -- helpers ---------------------------------------------------------------------------------


def normalize_path(path: str) -> str:
    """Repository-relative with forward slashes; ``.``, ``..`` and ``//`` resolved, so that
    ``src/../.env`` is matched as ``.env`` (``..`` above the root stops at the root)."""
    path = posixpath.normpath("/" + path.replace("\\", "/")) if path else ""
    return path.lstrip("/")


def _tokens(text: str) -> Iterator[tuple[str, int]]:
    """Split a line into raw tokens (escapes kept) with their column; stop at a comment."""
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n or text[i] == "#":
            return
        start = i
        while i < n and text[i] not in " \t":
            i += 2 if text[i] == "\\" else 1
        yield text[start:i], start + 1


def _chars(raw: str) -> list[tuple[str, bool]]:
    """Raw pattern text to (char, escaped) pairs."""
    out: list[tuple[str, bool]] = []
    i = 0
    while i < len(raw):
        if raw[i] == "\\":
            if i + 1 >= len(raw):
                raise ValueError("pattern ends with a lone backslash")
            out.append((raw[i + 1], True))
            i += 2
        else:
            out.append((raw[i], False))
            i += 1
    return out


def _segment_regex(segment: list[tuple[str, bool]]) -> str:
    out: list[str] = []
    for ch, escaped in segment:
        if escaped:
            out.append(re.escape(ch))
        elif ch == "*":
            if not out or out[-1] != "[^/]*":
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            raise ValueError("character ranges `[ ]` are not supported in CODEOWNERS patterns")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def compile_pattern(raw: str) -> re.Pattern[str]:
    """Translate one CODEOWNERS pattern to a regex over normalised paths (ValueError if bad)."""
    chars = _chars(raw)
    if chars and chars[0] == ("!", False):
        raise ValueError("`!` negation is not supported in CODEOWNERS patterns")
    anchored = bool(chars) and chars[0] == ("/", False)
    if anchored:
        chars = chars[1:]
    dir_only = bool(chars) and chars[-1] == ("/", False)
    if dir_only:
        chars = chars[:-1]
    if not chars:
        raise ValueError("empty pattern")
    segments: list[list[tuple[str, bool]]] = [[]]
    for ch, escaped in chars:
        if ch == "/" and not escaped:
            segments.append([])
        else:
            segments[-1].append((ch, escaped))
    if any(not seg for seg in segments):
        raise ValueError("empty path segment (`//`) in pattern")
    anchored = anchored or len(segments) > 1
    is_glob = [seg == [("*", False), ("*", False)] for seg in segments]
    out = "" if anchored else "(?:.*/)?"
    last = len(segments) - 1
    for i, seg in enumerate(segments):
        if is_glob[i]:
            out += ".+" if i == last else "(?:.*/)?"
            continue
        out += _segment_regex(seg) + ("/" if i < last else "")
    if is_glob[last]:
        suffix = ""  # `x/**` and `x/**/`: everything below x
    elif dir_only:
        suffix = "/.+"
    elif anchored and segments[last] == [("*", False)]:
        suffix = ""  # `dir/*` and `/*`: direct children only
    else:
        suffix = "(?:/.+)?"  # the path itself, or anything under a directory of that name
    return re.compile(out + suffix + r"\Z", re.DOTALL)


def _owner_ok(token: str) -> bool:
    if token.startswith("@"):
        return bool(USER_RE.fullmatch(token) or TEAM_RE.fullmatch(token))
    return bool(EMAIL_RE.fullmatch(token))


def _parse_line(text: str, source: str, lineno: int) -> Rule | PolicyProblem | None:
    tokens = [tok for tok, _ in _tokens(text)]
    if not tokens:
        return None
    raw, rest = tokens[0], tokens[1:]

    def problem(message: str) -> PolicyProblem:
        return PolicyProblem(source, lineno, message)

    try:
        regex = compile_pattern(raw)
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
    return Rule(raw, level, owners, source, lineno, regex)


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


def lint_policy(text: str, source: str) -> list[PolicyProblem]:
    """Every problem in a policy file (errors, and warnings for lines that can never win)."""
    _check_size(text, source)
    problems: list[PolicyProblem] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        parsed = _parse_line(line, source, lineno)
        if isinstance(parsed, PolicyProblem):
            problems.append(parsed)
        elif parsed is not None:
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
    return sorted(problems, key=lambda p: p.line)


def parse_policy(text: str, source: str) -> Policy:
    """Parse a policy file; the first malformed line raises :class:`PolicyError`."""
    _check_size(text, source)
    rules: list[Rule] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        parsed = _parse_line(line, source, lineno)
        if isinstance(parsed, PolicyProblem):
            raise PolicyError(parsed.message, source, lineno)
        if parsed is not None:
            rules.append(parsed)
    return Policy(tuple(rules))


def load_default_policy_text() -> tuple[str, str]:
    """The shipped defaults as ``(text, source)``."""
    path = policies_dir() / DEFAULT_POLICY_NAME
    return decode_policy(path.read_bytes(), f"policies/{DEFAULT_POLICY_NAME}"), (
        f"policies/{DEFAULT_POLICY_NAME}"
    )


def combine(defaults: Policy, repo: Policy | None) -> Policy:
    """The repository's rules on top of the defaults, which act as a floor."""
    if repo is None:
        return defaults
    return Policy(repo.rules, floor=defaults)


def load_effective_policy(
    repo_text: str | None, repo_source: str = REPO_POLICY_PATH, *, defaults: Policy | None = None
) -> Policy:
    """Defaults (shipped, or ``defaults``) combined with the repository's policy text."""
    if defaults is None:
        text, source = load_default_policy_text()
        defaults = parse_policy(text, source)
    repo = parse_policy(repo_text, repo_source) if repo_text is not None else None
    return combine(defaults, repo)
