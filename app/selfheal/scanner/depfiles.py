"""Parsers for Python dependency files; every dependency knows its file and 1-based line.

Pure text in, :class:`Dependency` records out. Supported: requirements files (``*.txt`` /
``*.in``), ``pyproject.toml`` (PEP 621, PEP 735 groups, Poetry), ``poetry.lock``,
``uv.lock`` and ``Pipfile.lock``. This module holds the shared model, the file-name test and
the requirements-file parser; :mod:`app.scan.manifests` parses the TOML and JSON formats and
dispatches on the file name. Includes (``-r`` / ``-c``) are returned, not followed:
:mod:`app.scan.deps` follows them through its ``read`` callback. A malformed file raises
:class:`DepFileError` naming the line when one is known.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement

from selfheal.scanner.osv import normalize_name
from selfheal.scanner.secrets import mask_secrets

LOCK_FILES = frozenset({"poetry.lock", "uv.lock", "pipfile.lock"})
REQUIREMENTS_NAME = re.compile(
    r"(^|[-_.])(requirements|constraints|reqs)([-_.][\w.-]*)?\.(txt|in)$", re.IGNORECASE
)
COMMENT = re.compile(r"(^|\s)#.*$")
INCLUDE_OPTION = re.compile(r"^(-r|--requirement|-c|--constraint)(?:\s*=\s*|\s*)(\S+)")
EDITABLE_OPTION = re.compile(r"^(-e|--editable)(?:\s*=\s*|\s*)(\S+)")
REQ_OPTION_START = re.compile(r"\s(?=--?[A-Za-z])")
URLISH = re.compile(r"^([a-z][a-z0-9+.-]*://|[a-z]+\+|file:|\.{0,2}/|[A-Za-z]:\\)", re.IGNORECASE)
REMOTE = re.compile(r"^(?!file:)([a-z][a-z0-9+.-]*://|[a-z]+\+)", re.IGNORECASE)
EGG = re.compile(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)")


class DepFileError(Exception):
    """A dependency file that cannot be parsed."""

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")
        self.path, self.line, self.message = path, line, message


@dataclass(frozen=True, slots=True)
class Dependency:
    """One declared dependency.

    ``alternatives`` holds PEP 440 specifier strings (several for Poetry ``||``); empty means
    unconstrained. ``pinned`` is the exact version for ``==``/``===`` and lock files.
    ``unknown`` says why the version cannot be known (URL, VCS, editable, local path);
    ``remote`` marks the ones that fetch code from elsewhere (URL or VCS), which the scan
    reports as unverifiable, unlike local paths (the repository's own code).
    """

    name: str
    path: str
    line: int
    declared: str
    alternatives: tuple[str, ...] = ()
    pinned: str | None = None
    lines: frozenset[int] = frozenset()
    unknown: str = ""
    marker: str = ""
    remote: bool = False

    def touches(self, changed: Iterable[int]) -> bool:
        span = self.lines or frozenset({self.line})
        return not span.isdisjoint(changed)


@dataclass(frozen=True, slots=True)
class Include:
    kind: str  # "requirement" or "constraint"
    target: str  # as written
    line: int


def is_dependency_file(path: str) -> bool:
    """True for files this module parses (by name only)."""
    name = posixpath.basename(path.replace("\\", "/"))
    parent = posixpath.basename(posixpath.dirname(path.replace("\\", "/")))
    if name == "pyproject.toml" or name.lower() in LOCK_FILES:
        return True
    if REQUIREMENTS_NAME.search(name):
        return True
    return parent.lower() in ("requirements", "constraints") and name.endswith((".txt", ".in"))


# -- requirements files ---------------------------------------------------------------


def _logical_lines(text: str) -> Iterable[tuple[int, frozenset[int], str]]:
    """Join backslash continuations; strip comments. Yields (first line, lines, text)."""
    buf: list[str] = []
    nums: list[int] = []
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), 1):
        nums.append(number)
        if raw.endswith("\\") and not COMMENT.search(raw):
            buf.append(raw[:-1])
            continue
        buf.append(raw)
        joined = COMMENT.sub("", " ".join(buf)).strip()
        if joined:
            yield nums[0], frozenset(nums), joined
        buf, nums = [], []
    if buf:
        joined = COMMENT.sub("", " ".join(buf)).strip()
        if joined:
            yield nums[0], frozenset(nums), joined


def is_remote_reference(spec: str) -> bool:
    """True for a URL or VCS reference that is not a local ``file:`` URL."""
    return bool(REMOTE.match(spec.strip()))


def _unknown(path: str, line: int, lines: frozenset[int], spec: str, editable: bool) -> Dependency:
    egg = EGG.search(spec)
    shown = mask_secrets(spec)  # URLs may carry credentials (https://user:token@host/...)
    name = normalize_name(egg.group(1)) if egg else shown
    remote = is_remote_reference(spec)
    why = "URL or VCS requirement" if remote else "local path"
    why = f"editable install from a {why}" if editable else why
    return Dependency(name, path, line, shown, lines=lines, unknown=why, remote=remote)


def requirement_dependency(path: str, line: int, lines: frozenset[int], text: str) -> Dependency:
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0] if str(exc) else "invalid requirement"
        raise DepFileError(path, line, f"cannot parse requirement {text!r}: {reason}") from None
    name = normalize_name(req.name)
    marker = str(req.marker) if req.marker else ""
    if req.url:
        remote = is_remote_reference(req.url)
        why = "URL requirement" if remote else "local path"
        shown = mask_secrets(text)
        return Dependency(name, path, line, shown, lines=lines, unknown=why, remote=remote)
    specs = list(req.specifier)
    pinned = None
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        pinned = specs[0].version
    alternatives = (str(req.specifier),) if specs else ()
    return Dependency(name, path, line, text, alternatives, pinned, lines, marker=marker)


def parse_requirements(
    path: str, text: str, errors: list[DepFileError] | None = None
) -> tuple[list[Dependency], list[Include]]:
    """Parse a requirements file. With ``errors``, a bad line is recorded there and parsing
    goes on with the next line; without it, the first bad line raises DepFileError."""
    deps: list[Dependency] = []
    includes: list[Include] = []
    for line, lines, content in _logical_lines(text):
        if content.startswith("-"):
            if m := INCLUDE_OPTION.match(content):
                kind = "constraint" if m.group(1) in ("-c", "--constraint") else "requirement"
                includes.append(Include(kind, m.group(2), line))
            elif m := EDITABLE_OPTION.match(content):
                deps.append(_unknown(path, line, lines, m.group(2), editable=True))
            continue  # global options: --index-url, --hash, --pre, -f ...
        requirement = REQ_OPTION_START.split(content, maxsplit=1)[0].strip()
        if URLISH.match(requirement):
            deps.append(_unknown(path, line, lines, requirement, editable=False))
            continue
        try:
            deps.append(requirement_dependency(path, line, lines, requirement))
        except DepFileError as exc:
            if errors is None:
                raise
            errors.append(exc)
    return deps, includes
