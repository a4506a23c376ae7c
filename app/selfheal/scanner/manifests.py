"""Parsers for the TOML and JSON dependency formats, and the dispatch on file names.

``pyproject.toml`` (PEP 621, PEP 735 groups, Poetry tables with ``^``/``~`` constraints),
``poetry.lock``, ``uv.lock`` and ``Pipfile.lock``. The parsed data comes from ``tomllib`` /
``json``; line numbers come from a light scan of the text (table headers, keys and quoted
strings), so each :class:`Dependency` points at the line that declares it.
"""

from __future__ import annotations

import json
import posixpath
import re
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

from selfheal.scanner.depfiles import (
    Dependency,
    DepFileError,
    Include,
    is_remote_reference,
    parse_requirements,
    requirement_dependency,
)
from selfheal.scanner.osv import normalize_name
from selfheal.scanner.secrets import mask_secrets
from selfheal.scanner.versions import parse_version, poetry_to_pep440

HEADER = re.compile(r"^\s*\[\[?\s*([^\]#]+?)\s*\]\]?\s*(?:#.*)?$")
POETRY_SOURCE_KEYS = ("git", "path", "url", "file")
UV_UNKNOWN_SOURCES = ("git", "path", "directory", "editable", "virtual", "url")
POETRY_UNKNOWN_TYPES = frozenset({"git", "directory", "file", "url"})
REMOTE_TYPES = frozenset({"git", "url"})


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
        deps.append(requirement_dependency(path, line, frozenset({line}), item))
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
                    mask_secrets(f"{name} = {entry}"),
                    lines=lines,
                    unknown="VCS, URL or local path",
                    remote="git" in entry or "url" in entry,
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


def _locked_version(path: str, line: int, name: Any, value: Any) -> str:
    """A lock file's version, which must be a PEP 440 version: anything else (a list, a table,
    ``2.0.0 garbage``) would match no advisory, so it is an error rather than a clean pass."""
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
    if text is None or (text and parse_version(text) is None):
        shown = mask_secrets(repr(value))[:80]
        raise DepFileError(path, line, f"package {name!r}: {shown} is not a valid version")
    return text


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
        if not isinstance(pkg, Mapping) or not isinstance(pkg.get("name"), str):
            raise DepFileError(
                path, blocks[index][0] if index < len(blocks) else 0, "package entry without a name"
            )
        header, name_line, version_line = (
            blocks[index] if len(blocks) == len(packages) else (0, 0, 0)
        )
        if not header:
            name_line = version_line = _find(lines, range(len(lines)), _quoted(pkg["name"])) or 1
        span = frozenset({header or name_line, name_line, version_line})
        version = _locked_version(path, version_line, pkg.get("name"), pkg.get("version", ""))
        source = pkg.get("source") or {}
        unknown, remote = "", False
        if isinstance(source, Mapping):
            if (
                any(k in source for k in UV_UNKNOWN_SOURCES)
                or source.get("type") in POETRY_UNKNOWN_TYPES
            ):
                unknown = "VCS, URL or local path source"
                remote = "git" in source or "url" in source or source.get("type") in REMOTE_TYPES
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
                remote=remote,
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
                where = entry if isinstance(entry, Mapping) else {}
                remote = "git" in where or is_remote_reference(str(where.get("file", "")))
                why = "VCS, URL or local path"
                deps.append(
                    Dependency(name, path, line, raw_name, lines=lines_, unknown=why, remote=remote)
                )
                continue
            version = str(entry.get("version", ""))
            if version.startswith("=="):
                _locked_version(path, line, raw_name, version[2:])
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
