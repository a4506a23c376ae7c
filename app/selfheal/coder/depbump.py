"""Dependency bumps: each vulnerable dependency raised to the lowest version that fixes every
advisory, written into its file in that file's own format. Pure: text in, text out.

The version: the advisory data's fixed versions for the package, above the declared version
(or the range's lower bound), lowest first, skipping pre-releases (unless the declared one is
one); the first that no advisory affects wins. Every file that names the package gets the
same version, the highest any of them needs, so a requirements file and a lock file never
disagree.

The edit changes only the version text: comments, ordering, quoting, extras, markers and
spacing stay as they were.

* requirements files: ``==OLD`` becomes ``==NEW``; a range gets ``>=NEW`` in place of its
  lower bound (or in front). A requirement with ``--hash`` is left alone: pip's hash mode
  would reject a line without hashes, and new hashes need the package index.
* ``pyproject.toml``: PEP 621 / PEP 735 strings as above; Poetry ``"1.0"``, ``"==1.0"``,
  ``^1.0`` and ``~1.0`` (only within the same ``^``/``~`` range) and ``>=`` ranges.
* ``poetry.lock`` and ``uv.lock``: the package's ``version``; its hashes (Poetry ``files``,
  uv ``sdist``/``wheels``, whose URLs name the old version too) are removed, never left stale;
  uv's ``requires-dist`` pins of the package follow. The lock is not re-resolved.
* ``Pipfile.lock``: ``"version"`` and ``"hashes": []``.

A range whose upper bound excludes the fix, Poetry ``||`` alternatives and anything not
written the expected way are skipped with the reason; so is a package with no fixed version.
"""

from __future__ import annotations

import json
import posixpath
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from selfheal.model.findings import Finding
from selfheal.scanner.advisories import AdvisoryDB
from selfheal.scanner.depfiles import Dependency, DepFileError
from selfheal.scanner.deps import RULE_ID as VULNERABLE_RULE
from selfheal.scanner.deps import analyse_dependencies
from selfheal.scanner.manifests import HEADER, parse_dependency_file
from selfheal.scanner.osv import normalize_name
from selfheal.scanner.versions import (
    AffectedSet,
    bounds_from_specifier,
    parse_version,
    poetry_to_pep440,
)

SPEC_CLAUSE = re.compile(r"(===|==|!=|~=|>=|<=|>|<)\s*([^\s,;()|]+)")
POETRY_RANGE = re.compile(r"^\s*([\^~])(?!=)\s*([0-9][^\s,]*)\s*$")
REQ_NAME = re.compile(r"\s*[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\s*(?:\[[^\]]*\])?\s*")
REQ_OPTION = re.compile(r"\s--?[A-Za-z]")
COMMENT = re.compile(r"(^|\s)#")
HASH_OPTION = re.compile(r"--hash[=\s]")
Reader = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class Bump:
    path: str
    line: int
    package: str
    declared: str  # the version or range as it was
    new: str


@dataclass(frozen=True, slots=True)
class Skip:
    path: str
    line: int
    package: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.package}: {self.reason}"


@dataclass
class BumpPlan:
    """New texts by path, what was bumped, what was skipped and why, and notes (what the
    edit did not regenerate)."""

    texts: dict[str, str] = field(default_factory=dict)
    bumps: list[Bump] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Skipped(Exception):
    """One dependency cannot be edited; the message says why."""


# -- the version -------------------------------------------------------------------------------


def fixing_version(affected: Sequence[AffectedSet], floor: Version | None) -> Version | None:
    """The lowest fixed version above ``floor`` that no advisory affects, or None."""
    candidates = sorted({v for a in affected for v in a.fixed_parsed if v is not None})
    allow_pre = floor is not None and (floor.is_prerelease or floor.is_devrelease)
    for version in candidates:
        if floor is not None and version <= floor:
            continue
        if (version.is_prerelease or version.is_devrelease) and not allow_pre:
            continue
        if any(a.contains(version) for a in affected):
            continue
        return version
    return None


def _floor(dep: Dependency) -> Version | None:
    if dep.pinned is not None:
        return parse_version(dep.pinned)
    lows = []
    for alternative in dep.alternatives:
        try:
            bounds = bounds_from_specifier(SpecifierSet(alternative))
        except InvalidSpecifier:
            continue
        if bounds.lower is not None:
            lows.append(bounds.lower)
    return min(lows) if lows else None


# -- specifier text ----------------------------------------------------------------------------


def _admits(spec: str, version: Version) -> bool:
    cleaned = spec.replace("(", "").replace(")", "").replace(" ", "")
    try:
        return SpecifierSet(cleaned).contains(version, prereleases=True)
    except InvalidSpecifier:
        return False


def rewrite_spec(spec: str, pinned: str | None, new: Version) -> str:
    """``spec`` (PEP 440 clauses, comma or space separated) admitting ``new``: the pinned
    version replaced, or the range's lower bound raised. Raises :class:`_Skipped`."""
    clauses = list(SPEC_CLAUSE.finditer(spec))
    if not clauses:
        raise _Skipped("no version specifier to change")
    if pinned is not None:
        for m in clauses:
            if m.group(1) in ("==", "===") and m.group(2) == pinned:
                return spec[: m.start(2)] + str(new) + spec[m.end(2) :]
        raise _Skipped(f"the pin {pinned} is not written as ==/=== {pinned}")
    lows = [
        m
        for m in clauses
        if m.group(1) in (">=", ">")
        and (parse_version(m.group(2)) is None or Version(m.group(2)) < new)
    ]
    if len(lows) > 1:
        raise _Skipped("the range has several lower bounds")
    if lows:
        low = lows[0]
        out = spec[: low.start()] + f">={new}" + spec[low.end() :]
    else:
        first = clauses[0]
        separator = ", " if ", " in spec else "," if "," in spec or len(clauses) == 1 else " "
        out = spec[: first.start()] + f">={new}{separator}" + spec[first.start() :]
    return out


def rewrite_requirement(requirement: str, dep: Dependency, new: Version) -> str:
    """A PEP 508 string (a requirements line's code part, or a pyproject list item) with its
    specifier rewritten; name, extras, marker and anything after stay as written."""
    name = REQ_NAME.match(requirement)
    if name is None:
        raise _Skipped("cannot find the package name")
    start = name.end()
    end = len(requirement)
    for stop in (requirement.find(";", start), _option_start(requirement, start)):
        if stop != -1:
            end = min(end, stop)
    spec = requirement[start:end]
    new_spec = rewrite_spec(spec, dep.pinned, new)
    if not _admits(new_spec, new):
        raise _Skipped(
            f"the range {spec.strip()} excludes {new}; raising its upper bound is left to a person"
        )
    return requirement[:start] + new_spec + requirement[end:]


def _option_start(text: str, start: int) -> int:
    m = REQ_OPTION.search(text, start)
    return m.start() if m else -1


def rewrite_poetry(constraint: str, dep: Dependency, new: Version) -> str:
    """A Poetry constraint admitting ``new``, in the same notation."""
    text = constraint.strip()
    if "|" in text:
        raise _Skipped(f"Poetry alternatives ({text}) are left to a person")
    if re.fullmatch(r"[0-9][^\s,<>=!~^*]*", text):  # a bare version is a pin
        return constraint.replace(text, str(new), 1)
    m = POETRY_RANGE.match(text)
    if m:
        rewritten = text[: m.start(2)] + str(new) + text[m.end(2) :]
        old_upper = poetry_to_pep440(text)[0].split(",")[-1]
        new_upper = poetry_to_pep440(rewritten)[0].split(",")[-1]
        if old_upper != new_upper:
            raise _Skipped(
                f"{new} is outside {text} ({old_upper}); widening the range is left to a person"
            )
        return constraint.replace(text, rewritten, 1)
    rewritten = rewrite_spec(text, dep.pinned, new)
    pep440 = poetry_to_pep440(rewritten)
    if not pep440 or not _admits(pep440[0], new):
        raise _Skipped(
            f"the range {text} excludes {new}; raising its upper bound is left to a person"
        )
    return constraint.replace(text, rewritten, 1)


# -- requirements files ------------------------------------------------------------------------


def _code_end(line: str) -> int:
    """Where a requirements line's code ends: before a comment, a continuation backslash or
    the line break."""
    body = line.rstrip("\r\n")
    m = COMMENT.search(body)
    end = m.start() if m else len(body)
    stripped = body[:end].rstrip()
    if stripped.endswith("\\"):
        end = len(stripped) - 1
    return end


def _edit_requirements(lines: list[str], dep: Dependency, new: Version) -> None:
    numbers = sorted(dep.lines or {dep.line})
    code = " ".join(lines[n - 1][: _code_end(lines[n - 1])] for n in numbers)
    if HASH_OPTION.search(code):
        raise _Skipped(
            "the requirement carries --hash values: pip's hash mode rejects a line without "
            "hashes, and the new ones need the package index"
        )
    first = lines[dep.line - 1]
    end = _code_end(first)
    lead = len(first) - len(first.lstrip())
    if first[lead:].startswith("-"):
        raise _Skipped("not a plain requirement line")
    lines[dep.line - 1] = (
        first[:lead] + rewrite_requirement(first[lead:end], dep, new) + first[end:]
    )


# -- pyproject.toml ----------------------------------------------------------------------------


def _section_at(lines: list[str], line: int) -> tuple[str, int]:
    """The table header that governs 1-based ``line``: (dotted name, 1-based header line)."""
    for index in range(line - 1, -1, -1):
        m = HEADER.match(lines[index])
        if m:
            return ".".join(p.strip().strip("\"'") for p in m.group(1).split(".")), index + 1
    return "", 0


def _quoted(value: str) -> re.Pattern[str]:
    return re.compile(r"([\"'])" + re.escape(value) + r"\1")


def _replace_quoted(line: str, old: str, new: str, after: str = "") -> str:
    """``line`` with the first quoted ``old`` (after the text ``after``, if given) replaced."""
    pattern = re.compile(
        (re.escape(after) + r"\s*=\s*" if after else "") + r"([\"'])" + re.escape(old) + r"\1"
    )
    m = pattern.search(line)
    if m is None:
        raise _Skipped(f"cannot find {old!r} written on its line")
    inner_start = m.end() - len(old) - 1  # after the opening quote
    return line[:inner_start] + new + line[inner_start + len(old) :]


def _poetry_value(data: Mapping[str, Any], section: str, name: str) -> tuple[Any, bool]:
    """The Poetry entry for ``name`` and whether it is a table of its own (header form)."""
    node: Any = data
    parts = section.split(".")
    for part in parts:
        node = node.get(part) if isinstance(node, Mapping) else None
    if isinstance(node, Mapping) and normalize_name(parts[-1]) == name and "version" in node:
        return node, True
    if isinstance(node, Mapping):
        for key, value in node.items():
            if normalize_name(key) == name:
                return value, False
    raise _Skipped("cannot find the entry in the TOML data")


def _edit_pyproject(
    lines: list[str], data: Mapping[str, Any], dep: Dependency, new: Version
) -> None:
    section, header = _section_at(lines, dep.line)
    index = dep.line - 1
    if not section.startswith("tool.poetry"):
        lines[index] = _replace_quoted(
            lines[index], dep.declared, rewrite_requirement(dep.declared, dep, new)
        )
        return
    value, own_table = _poetry_value(data, section, dep.name)
    if isinstance(value, list):
        raise _Skipped("several Poetry constraints for one package are left to a person")
    constraint = value.get("version") if isinstance(value, Mapping) else value
    if not isinstance(constraint, str):
        raise _Skipped("no version constraint")
    rewritten = rewrite_poetry(constraint, dep, new)
    if not own_table:
        after = "version" if isinstance(value, Mapping) else ""
        lines[index] = _replace_quoted(lines[index], constraint, rewritten, after)
        return
    for n in range(header, len(lines)):
        if HEADER.match(lines[n]):
            break
        if re.match(r"\s*version\s*=", lines[n]):
            lines[n] = _replace_quoted(lines[n], constraint, rewritten, "version")
            return
    raise _Skipped("cannot find the version line of the Poetry table")


# -- lock files --------------------------------------------------------------------------------


def _array_end(lines: list[str], start: int) -> int:
    """The index of the line that closes the array opened on line ``start``."""
    if lines[start].rstrip().endswith("]"):
        return start
    for n in range(start + 1, len(lines)):
        if lines[n].strip().startswith("]"):
            return n
    raise _Skipped("an array that never closes")


def _block_end(lines: list[str], start: int) -> int:
    """The end (exclusive) of the ``[[package]]`` block whose header is at index ``start``."""
    for n in range(start + 1, len(lines)):
        m = HEADER.match(lines[n])
        if m and (
            lines[n].strip() == "[[package]]" or not m.group(1).strip().startswith("package.")
        ):
            return n
    return len(lines)


def _edit_toml_lock(lines: list[str], dep: Dependency, new: Version, kind: str) -> None:
    index = dep.line - 1
    m = re.match(r"(\s*version\s*=\s*)([\"'])" + re.escape(dep.pinned or "") + r"\2", lines[index])
    if m is None or dep.pinned is None:
        raise _Skipped("the version line is not where the lock file said")
    lines[index] = m.group(1) + m.group(2) + str(new) + m.group(2) + lines[index][m.end() :]
    start = min(dep.lines or {dep.line}) - 1
    end = _block_end(lines, start)
    removals: list[tuple[int, int, str | None]] = []  # (first, last, replacement line)
    n = start
    while n < end:
        line = lines[n]
        if kind == "poetry" and re.match(r"files\s*=\s*\[", line):
            last = _array_end(lines, n)
            removals.append((n, last, "files = []" + _eol(lines[last])))
            n = last
        elif kind == "uv" and re.match(r"sdist\s*=\s*\{", line):
            removals.append((n, n, None))
        elif kind == "uv" and re.match(r"wheels\s*=\s*\[", line):
            last = _array_end(lines, n)
            removals.append((n, last, None))
            n = last
        n += 1
    for first, last, replacement in reversed(removals):
        lines[first : last + 1] = [] if replacement is None else [replacement]


def _eol(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :] or "\n"


def _poetry_metadata_files(lines: list[str], name: str) -> None:
    """Old Poetry locks list hashes under ``[metadata.files]``: empty the package's list."""
    section = ""
    n = 0
    while n < len(lines):
        m = HEADER.match(lines[n])
        if m:
            section = m.group(1).strip()
        elif section == "metadata.files":
            key = re.match(r"\s*([\"']?)([A-Za-z0-9._-]+)\1\s*=\s*\[", lines[n])
            if key and normalize_name(key.group(2)) == name:
                last = _array_end(lines, n)
                prefix = lines[n][: lines[n].index("[")]
                lines[n : last + 1] = [prefix + "[]" + _eol(lines[last])]
        n += 1


UV_REQUIRE = re.compile(r"(\{\s*name\s*=\s*\"([^\"]+)\"[^{}]*?specifier\s*=\s*\")([^\"]*)(\")")


def _uv_requires_dist(lines: list[str], name: str, old: str, new: Version) -> None:
    """uv.lock repeats the project's requirements (``requires-dist``): a pin of the bumped
    package there follows the bump, so ``uv sync --locked`` sees the same pin."""
    for n, line in enumerate(lines):

        def sub(m: re.Match[str]) -> str:
            if normalize_name(m.group(2)) != name:
                return m.group(0)
            try:
                spec = rewrite_spec(m.group(3), old if f"=={old}" in m.group(3) else None, new)
            except _Skipped:
                return m.group(0)
            return m.group(1) + spec + m.group(4)

        lines[n] = UV_REQUIRE.sub(sub, line)


def _edit_pipfile_lock(text: str, dep: Dependency, new: Version) -> str:
    lines = text.splitlines(keepends=True)
    offset = sum(len(line) for line in lines[: dep.line - 1])
    line = lines[dep.line - 1]
    m = re.match(r"\s*\"((?:[^\"\\]|\\.)*)\"\s*:\s*\{", line)
    if m is None or dep.pinned is None:
        raise _Skipped("the entry is not where the lock file said")
    brace = offset + m.end() - 1
    _, end = json.JSONDecoder().raw_decode(text, brace)
    entry = text[brace:end]
    version = re.compile(r"(\"version\"\s*:\s*\")==" + re.escape(dep.pinned) + '"')
    if not version.search(entry):
        raise _Skipped('the entry has no "version": "==..." to change')
    entry = version.sub(lambda v: f'{v.group(1)}=={new}"', entry, count=1)
    entry = re.sub(r"\"hashes\"\s*:\s*\[[^\]]*\]", '"hashes": []', entry, count=1)
    return text[:brace] + entry + text[end:]


# -- one file ----------------------------------------------------------------------------------


def _kind(path: str) -> str:
    name = posixpath.basename(path).lower()
    if name == "pyproject.toml":
        return "pyproject"
    if name == "poetry.lock":
        return "poetry"
    if name == "uv.lock":
        return "uv"
    if name == "pipfile.lock":
        return "pipfile"
    return "requirements"


def edit_file(
    path: str, text: str, items: Sequence[tuple[Dependency, Version]]
) -> tuple[str, list[Skip]]:
    """``text`` with each (dependency, new version) applied; the ones that cannot be are
    skipped with the reason. Dependencies are edited from the bottom up, so the line
    numbers of the ones above stay right when a lock edit removes lines."""
    kind = _kind(path)
    skips: list[Skip] = []
    data: Mapping[str, Any] = tomllib.loads(text) if kind == "pyproject" else {}
    for dep, new in sorted(items, key=lambda item: item[0].line, reverse=True):
        try:
            if kind == "pipfile":
                text = _edit_pipfile_lock(text, dep, new)
                continue
            lines = text.splitlines(keepends=True)
            if kind == "requirements":
                _edit_requirements(lines, dep, new)
            elif kind == "pyproject":
                _edit_pyproject(lines, data, dep, new)
            else:
                _edit_toml_lock(lines, dep, new, kind)
                if kind == "poetry":
                    _poetry_metadata_files(lines, dep.name)
                elif dep.pinned is not None:
                    _uv_requires_dist(lines, dep.name, dep.pinned, new)
            text = "".join(lines)
        except _Skipped as exc:
            skips.append(Skip(path, dep.line, dep.name, str(exc)))
    return text, skips


# -- the whole plan ----------------------------------------------------------------------------

LOCK_NOTES = {
    "poetry": "{path}: the lock is not re-resolved and the bumped packages' hashes (`files`) "
    "were removed; run `poetry lock --no-update` to regenerate them",
    "uv": "{path}: the lock is not re-resolved and the bumped packages' `sdist`/`wheels` "
    "(URLs and hashes) were removed; run `uv lock` to regenerate them",
    "pipfile": "{path}: the lock is not re-resolved and the bumped packages' hashes were "
    "emptied; run `pipenv lock` to regenerate them",
}


def _vulnerable(findings: Iterable[Finding]) -> dict[tuple[str, int, str], list[Finding]]:
    found: dict[tuple[str, int, str], list[Finding]] = {}
    for finding in findings:
        if finding.rule_id == VULNERABLE_RULE:
            key = (finding.path, finding.line, str(finding.properties.get("package", "")))
            found.setdefault(key, []).append(finding)
    return found


def plan_bumps(
    paths: Sequence[str],
    read: Reader,
    db: AdvisoryDB,
    *,
    refused: Mapping[str, str] | None = None,
    only: Iterable[tuple[str, str]] | None = None,
) -> BumpPlan:
    """Bump every vulnerable dependency declared in ``paths``. Includes are followed to find
    them, but only ``paths`` are changed, less those in ``refused`` (path -> why not).
    ``only``: (path, package) pairs to limit the work to, as a task from a scan names them."""
    plan = BumpPlan()
    refused = refused or {}
    listed = set(paths)
    wanted = None if only is None else {(p, normalize_name(n)) for p, n in only}
    scan = analyse_dependencies(paths, read, db)
    plan.skips += [
        Skip(e.path, e.line, "", f"cannot read the file: {e.message}") for e in scan.errors
    ]
    hits = _vulnerable(scan.findings)
    chosen: list[tuple[Dependency, Version]] = []
    targets: dict[str, Version] = {}
    for dep in scan.dependencies:
        if (dep.path, dep.line, dep.name) not in hits:
            continue
        if wanted is not None and (dep.path, dep.name) not in wanted:
            continue
        if dep.path not in listed or dep.path in refused:
            why = refused.get(dep.path, "the file is included from a target but is not one")
            plan.skips.append(Skip(dep.path, dep.line, dep.name, f"not changed: {why}"))
            continue
        affected = [aset for _, aset in db.affected_sets(dep.name)]
        version = fixing_version(affected, _floor(dep))
        if version is None:
            reason = "no version in the advisory data fixes every advisory"
            plan.skips.append(Skip(dep.path, dep.line, dep.name, reason))
            continue
        chosen.append((dep, version))
        targets[dep.name] = max(targets.get(dep.name, version), version)
    by_file: dict[str, list[tuple[Dependency, Version]]] = {}
    for dep, _ in chosen:
        by_file.setdefault(dep.path, []).append((dep, targets[dep.name]))
    for path, items in sorted(by_file.items()):
        _apply(plan, path, read, db, items)
    return plan


def _apply(
    plan: BumpPlan, path: str, read: Reader, db: AdvisoryDB, items: list[tuple[Dependency, Version]]
) -> None:
    original = read(path)
    if original is None:
        return
    text, skips = edit_file(path, original, items)
    plan.skips += skips
    skipped = {(s.line, s.package) for s in skips}
    done = [(dep, new) for dep, new in items if (dep.line, dep.name) not in skipped]
    if not done or text == original:
        return
    problem = _verify(path, text, db, {dep.name: new for dep, new in done})
    if problem:
        plan.skips += [Skip(path, dep.line, dep.name, problem) for dep, _ in done]
        return
    plan.texts[path] = text
    for dep, new in done:
        declared = dep.pinned or ",".join(dep.alternatives)
        plan.bumps.append(Bump(path, dep.line, dep.name, declared, str(new)))
    note = LOCK_NOTES.get(_kind(path))
    if note:
        plan.notes.append(note.format(path=path))


def _verify(path: str, text: str, db: AdvisoryDB, bumped: Mapping[str, Version]) -> str:
    """Why the edited file is not right ("" when it is): it must still parse, and no bumped
    package may still be reported."""
    try:
        parse_dependency_file(path, text)
    except DepFileError as exc:
        return f"the edit left the file unreadable ({exc.message}); nothing changed"
    again = analyse_dependencies([path], lambda p: text if p == path else None, db)
    still = sorted(
        {f.properties.get("package", "") for f in again.findings if f.rule_id == VULNERABLE_RULE}
        & set(bumped)
    )
    if still:
        return f"still reported after the edit ({', '.join(map(str, still))}); nothing changed"
    return ""
