"""Parsers for Python dependency files; every dependency knows its file and 1-based line.

Pure text in, :class:`Dependency` records out. Supported: requirements files (``*.txt`` /
``*.in``), ``pyproject.toml`` (PEP 621, PEP 735 groups, Poetry), ``poetry.lock``,
``uv.lock`` and ``Pipfile.lock``. Includes (``-r`` / ``-c``) are returned, not followed:
:mod:`app.scan.deps` follows them through its ``read`` callback. A malformed file raises
:class:`DepFileError` naming the line when one is known.
"""

from __future__ import annotations

import json
import posixpath
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from app.scan.advisories import normalize_name
from app.scan.versions import poetry_to_pep440

LOCK_FILES = frozenset({"poetry.lock", "uv.lock", "pipfile.lock"})
REQUIREMENTS_NAME = re.compile(
    r"(^|[-_.])(requirements|constraints|reqs)([-_.][\w.-]*)?\.(txt|in)$", re.IGNORECASE
)
COMMENT = re.compile(r"(^|\s)#.*$")
INCLUDE_OPTION = re.compile(r"^(-r|--requirement|-c|--constraint)(?:\s*=\s*|\s*)(\S+)")
EDITABLE_OPTION = re.compile(r"^(-e|--editable)(?:\s*=\s*|\s*)(\S+)")
REQ_OPTION_START = re.compile(r"\s(?=--?[A-Za-z])")
URLISH = re.compile(r"^([a-z][a-z0-9+.-]*://|[a-z]+\+|file:|\.{0,2}/|[A-Za-z]:\\)", re.IGNORECASE)
EGG = re.compile(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)")
HEADER = re.compile(r"^\s*\[\[?\s*([^\]#]+?)\s*\]\]?\s*(?:#.*)?$")
POETRY_SOURCE_KEYS = ("git", "path", "url", "file")
UV_UNKNOWN_SOURCES = ("git", "path", "directory", "editable", "virtual", "url")
POETRY_UNKNOWN_TYPES = frozenset({"git", "directory", "file", "url"})


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
    ``unknown`` says why the version cannot be known (URL, VCS, editable, local path).
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
    for number, raw in enumerate(text.splitlines(), 1):
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


def _unknown(path: str, line: int, lines: frozenset[int], spec: str, why: str) -> Dependency:
    egg = EGG.search(spec)
    name = normalize_name(egg.group(1)) if egg else spec
    return Dependency(name, path, line, spec, lines=lines, unknown=why)


def _from_requirement(path: str, line: int, lines: frozenset[int], text: str) -> Dependency:
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0] if str(exc) else "invalid requirement"
        raise DepFileError(path, line, f"cannot parse requirement {text!r}: {reason}") from None
    name = normalize_name(req.name)
    marker = str(req.marker) if req.marker else ""
    if req.url:
        return Dependency(name, path, line, text, lines=lines, unknown="URL requirement")
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
                deps.append(_unknown(path, line, lines, m.group(2), "editable install"))
            continue  # global options: --index-url, --hash, --pre, -f ...
        requirement = REQ_OPTION_START.split(content, maxsplit=1)[0].strip()
        if URLISH.match(requirement):
            deps.append(_unknown(path, line, lines, requirement, "URL, VCS or local path"))
            continue
        try:
            deps.append(_from_requirement(path, line, lines, requirement))
        except DepFileError as exc:
            if errors is None:
                raise
            errors.append(exc)
    return deps, includes


# -- TOML helpers ---------------------------------------------------------------------


def _sections(lines: list[str]) -> dict[str, list[int]]:
    """Table header name (dotted, unquoted) -> the 0-based header line indexes."""
    out: dict[str, list[int]] = {}
    for index, raw in enumerate(lines):
        m = HEADER.match(raw)
        if m:
            name = ".".join(p.strip().strip("\"'") for p in m.group(1).split("."))
            out.setdefault(name, []).append(index)
    return out


def _section_span(lines: list[str], sections: dict[str, list[int]], name: str) -> range:
    starts = sections.get(name)
    if not starts:
        return range(0, len(lines))
    start = starts[0]
    end = next((i for i in range(start + 1, len(lines)) if HEADER.match(lines[i])), len(lines))
    return range(start, end)


def _find(lines: list[str], span: range, pattern: re.Pattern[str], after: int = -1) -> int:
    """1-based number of the first line in ``span`` (after index ``after``) matching."""
    for index in span:
        if index > after and pattern.search(lines[index]):
            return index + 1
    return 0


def _quoted(value: str) -> re.Pattern[str]:
    return re.compile("[\"']" + re.escape(value) + "[\"']")


def _key(name: str) -> re.Pattern[str]:
    return re.compile(r"^\s*[\"']?" + re.escape(name) + r"[\"']?\s*=")


def _load_toml(path: str, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise DepFileError(path, int(m.group(1)) if m else 0, f"invalid TOML: {exc}") from None


# -- pyproject.toml -------------------------------------------------------------------


def _pep508_list(
    path: str, lines: list[str], span: range, key_line: int, items: Any
) -> list[Dependency]:
    deps: list[Dependency] = []
    if not isinstance(items, list):
        raise DepFileError(path, key_line, "expected a list of requirement strings")
    cursor = key_line - 2
    for item in items:
        if not isinstance(item, str):
            continue  # PEP 735 {include-group = ...}
        line = _find(lines, span, _quoted(item), cursor) or key_line
        cursor = max(cursor, line - 1)
        deps.append(_from_requirement(path, line, frozenset({line}), item))
    return deps


def _poetry_entry(path: str, name: str, value: Any, line: int) -> Iterable[Dependency]:
    lines = frozenset({line})
    entries = value if isinstance(value, list) else [value]
    for entry in entries:
        if isinstance(entry, Mapping):
            if any(k in entry for k in POETRY_SOURCE_KEYS):
                yield Dependency(
                    normalize_name(name),
                    path,
                    line,
                    f"{name} = {entry}",
                    lines=lines,
                    unknown="VCS, URL or local path",
                )
                continue
            constraint, marker = str(entry.get("version", "*")), str(entry.get("markers", ""))
        else:
            constraint, marker = str(entry), ""
        try:
            alts = tuple(a for a in poetry_to_pep440(constraint) if a)
        except ValueError as exc:
            raise DepFileError(
                path, line, f"invalid Poetry constraint {constraint!r}: {exc}"
            ) from None
        pinned = alts[0][2:] if len(alts) == 1 and re.fullmatch(r"==[^,*]+", alts[0]) else None
        yield Dependency(
            normalize_name(name),
            path,
            line,
            f"{name} = {constraint!r}",
            alts,
            pinned,
            lines,
            marker=marker,
        )


def parse_pyproject(path: str, text: str) -> list[Dependency]:
    data = _load_toml(path, text)
    lines = text.splitlines()
    sections = _sections(lines)
    deps: list[Dependency] = []
    project = data.get("project") or {}
    span = _section_span(lines, sections, "project")
    if "dependencies" in project:
        key_line = _find(lines, span, _key("dependencies")) or 1
        deps += _pep508_list(path, lines, span, key_line, project["dependencies"])
    opt_span = _section_span(lines, sections, "project.optional-dependencies")
    for group, items in (project.get("optional-dependencies") or {}).items():
        key_line = _find(lines, opt_span, _key(group)) or 1
        deps += _pep508_list(path, lines, opt_span, key_line, items)
    groups_span = _section_span(lines, sections, "dependency-groups")
    for group, items in (data.get("dependency-groups") or {}).items():
        key_line = _find(lines, groups_span, _key(group)) or 1
        deps += _pep508_list(path, lines, groups_span, key_line, items)
    poetry = (data.get("tool") or {}).get("poetry") or {}
    tables = [("tool.poetry.dependencies", poetry.get("dependencies") or {})]
    tables.append(("tool.poetry.dev-dependencies", poetry.get("dev-dependencies") or {}))
    for group, body in (poetry.get("group") or {}).items():
        tables.append((f"tool.poetry.group.{group}.dependencies", body.get("dependencies") or {}))
    for section, table in tables:
        span = _section_span(lines, sections, section)
        for name, value in table.items():
            if name.lower() == "python":
                continue
            header = sections.get(f"{section}.{name}")
            line = header[0] + 1 if header else (_find(lines, span, _key(name)) or 1)
            deps += _poetry_entry(path, name, value, line)
    return deps


# -- lock files -----------------------------------------------------------------------


def _package_blocks(lines: list[str]) -> list[tuple[int, int, int]]:
    """Per ``[[package]]``: (header line, name line, version line), 1-based."""
    headers = [i for i, raw in enumerate(lines) if raw.strip() == "[[package]]"]
    out = []
    for n, start in enumerate(headers):
        end = headers[n + 1] if n + 1 < len(headers) else len(lines)
        span = range(start, end)
        name = _find(lines, span, _key("name")) or start + 1
        version = _find(lines, span, _key("version")) or name
        out.append((start + 1, name, version))
    return out


def parse_lockfile(path: str, text: str) -> list[Dependency]:
    """poetry.lock or uv.lock: every ``[[package]]`` is an exact pin."""
    data = _load_toml(path, text)
    packages = data.get("package") or []
    if not isinstance(packages, list):
        raise DepFileError(path, 0, "'package' must be an array of tables")
    lines = text.splitlines()
    blocks = _package_blocks(lines)
    deps: list[Dependency] = []
    for index, pkg in enumerate(packages):
        if not isinstance(pkg, Mapping) or "name" not in pkg:
            raise DepFileError(
                path, blocks[index][0] if index < len(blocks) else 0, "package entry without a name"
            )
        header, name_line, version_line = (
            blocks[index] if len(blocks) == len(packages) else (0, 0, 0)
        )
        if not header:
            name_line = version_line = _find(lines, range(len(lines)), _quoted(pkg["name"])) or 1
        span = frozenset({header or name_line, name_line, version_line})
        version = str(pkg.get("version", ""))
        source = pkg.get("source") or {}
        unknown = ""
        if isinstance(source, Mapping):
            if (
                any(k in source for k in UV_UNKNOWN_SOURCES)
                or source.get("type") in POETRY_UNKNOWN_TYPES
            ):
                unknown = "VCS, URL or local path source"
        if not version:
            unknown = unknown or "no version"
        name = normalize_name(str(pkg["name"]))
        deps.append(
            Dependency(
                name,
                path,
                version_line,
                f"{pkg['name']} {version}".strip(),
                (f"=={version}",) if version else (),
                version or None,
                span,
                unknown=unknown,
            )
        )
    return deps


def parse_pipfile_lock(path: str, text: str) -> list[Dependency]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DepFileError(path, getattr(exc, "lineno", 0), f"invalid JSON: {exc}") from None
    if not isinstance(data, Mapping):
        raise DepFileError(path, 1, "expected a JSON object")
    lines = text.splitlines()
    everything = range(len(lines))
    deps: list[Dependency] = []
    for section, entries in data.items():
        if section.startswith("_") or not isinstance(entries, Mapping):
            continue
        section_line = _find(
            lines, everything, re.compile(r'^\s*"' + re.escape(section) + '"\\s*:')
        )
        for raw_name, entry in entries.items():
            pattern = re.compile(r'^\s*"' + re.escape(raw_name) + '"\\s*:')
            line = _find(lines, everything, pattern, section_line - 1) or section_line or 1
            name = normalize_name(raw_name)
            lines_ = frozenset({line})
            if not isinstance(entry, Mapping) or any(k in entry for k in ("git", "path", "file")):
                deps.append(
                    Dependency(
                        name, path, line, raw_name, lines=lines_, unknown="VCS, URL or local path"
                    )
                )
                continue
            version = str(entry.get("version", ""))
            if version.startswith("=="):
                deps.append(
                    Dependency(
                        name,
                        path,
                        line,
                        f"{raw_name}{version}",
                        (version,),
                        version[2:],
                        lines_,
                        marker=str(entry.get("markers", "")),
                    )
                )
            else:
                deps.append(
                    Dependency(
                        name,
                        path,
                        line,
                        f"{raw_name}{version}",
                        lines=lines_,
                        unknown="no pinned version",
                    )
                )
    return deps


def parse_dependency_file(
    path: str, text: str, errors: list[DepFileError] | None = None
) -> tuple[list[Dependency], list[Include]]:
    """Dispatch on the file name. Raises DepFileError when a file cannot be parsed at all;
    bad lines of a requirements file go to ``errors`` when it is given."""
    name = posixpath.basename(path).lower()
    if name == "pyproject.toml":
        return parse_pyproject(path, text), []
    if name in ("poetry.lock", "uv.lock"):
        return parse_lockfile(path, text), []
    if name == "pipfile.lock":
        return parse_pipfile_lock(path, text), []
    return parse_requirements(path, text, errors)
