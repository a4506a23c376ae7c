"""Apply the ``fix:`` / ``fix-regex:`` autofixes of our semgrep rules, ourselves.

Why not ``semgrep --autofix``: semgrep would write the files itself, past the path guard (a
target reached through a link, a protected file among the targets); it applies every fix it
finds with no way to keep only the findings a task names; and it gives no chance to check a
result before it lands. Instead semgrep runs as for a scan (our rules only, offline, the JSON
report), and each result's ``extra.fix`` (the replacement text semgrep computed for the
match) is applied here to the bytes it was computed from:

* a fix applies only when the file still holds, at the result's byte offsets, the text it
  held when semgrep read it (the file's hash is taken before the scan and checked again);
* a fix whose text equals the matched text is no fix (a ``fix-regex`` that did not match);
* overlapping fixes in one file: the first (by position) wins, the rest wait for the next
  round, which rescans the changed files (at most :data:`MAX_ROUNDS` rounds);
* a Python file that compiled before the fixes must still compile after them, else the
  file is left as it was and the fixes are reported as failed;
* writes go through the guarded workspace.

The semgrep invocation is the scanner's (same flags, same packed rules, same engine choice).
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from selfheal.resources import rules_dir
from selfheal.scanner import ScannerError
from selfheal.scanner.pipeline import ScanOptions
from selfheal.scanner.secrets import mask_secrets
from selfheal.scanner.semgrep import (
    SCANNED_SUFFIXES,
    chunked,
    command,
    execute_semgrep,
    find_semgrep,
    rule_files,
    semgrep_environment,
)
from selfheal.scanner.semgrep_engine import alias_free_config, choose_engine
from selfheal.scanner.semgrep_json import ERROR_CHARS, classify_errors, parse_output

MAX_ROUNDS = 3


@dataclass(frozen=True, slots=True)
class Fix:
    """One semgrep result with a fix: replace bytes ``start:end`` of ``path`` by ``text``."""

    path: str
    rule_id: str
    line: int
    start: int
    end: int
    text: str


@dataclass
class FixReport:
    applied: list[Fix] = field(default_factory=list)
    failed: list[tuple[Fix, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # per-file semgrep problems

    @property
    def files(self) -> list[str]:
        return sorted({fix.path for fix in self.applied})


# -- pure ------------------------------------------------------------------------------------


def fixes_from_report(report: Mapping[str, Any]) -> list[Fix]:
    """The results of a semgrep JSON report that carry a fix."""
    found: list[Fix] = []
    for item in report.get("results") or []:
        extra = item.get("extra") or {}
        text = extra.get("fix")
        start, end = item.get("start") or {}, item.get("end") or {}
        offsets = (start.get("offset"), end.get("offset"))
        if not isinstance(text, str) or not all(isinstance(o, int) for o in offsets):
            continue
        found.append(
            Fix(
                path=str(item.get("path", "")).removeprefix("./"),
                rule_id=str(item.get("check_id", "")).rsplit(".", 1)[-1],
                line=int(start.get("line", 0) or 0),
                start=int(start["offset"]),
                end=int(end["offset"]),
                text=text,
            )
        )
    return found


def plan_file(data: bytes, fixes: Iterable[Fix]) -> tuple[list[Fix], list[Fix]]:
    """(to apply now, to leave for the next round) for one file: fixes inside the file, not a
    no-op, and not overlapping an earlier one."""
    chosen: list[Fix] = []
    later: list[Fix] = []
    last_end = -1
    for fix in sorted(fixes, key=lambda f: (f.start, f.end, f.rule_id)):
        if not 0 <= fix.start <= fix.end <= len(data):
            continue
        if data[fix.start : fix.end] == fix.text.encode("utf-8"):
            continue  # the "fix" is the matched text itself: no fix for this finding
        if fix.start < last_end:
            later.append(fix)
            continue
        chosen.append(fix)
        last_end = fix.end
    return chosen, later


def apply_fixes(data: bytes, fixes: Sequence[Fix]) -> bytes:
    """``data`` with non-overlapping ``fixes`` applied (from the end, so offsets hold)."""
    out = data
    for fix in sorted(fixes, key=lambda f: f.start, reverse=True):
        out = out[: fix.start] + fix.text.encode("utf-8") + out[fix.end :]
    return out


def still_compiles(path: str, before: bytes, after: bytes) -> bool:
    """For Python files: the fixed file compiles if the original did."""
    if PurePosixPath(path).suffix not in (".py", ".pyi"):
        return True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(before, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            return True  # it did not compile before; nothing to compare with
        try:
            compile(after, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            return False
    return True


def fixable_targets(paths: Iterable[str]) -> list[str]:
    """The files our rules' languages cover (by extension, or none: maybe a script)."""
    return [
        p
        for p in paths
        if PurePosixPath(p).suffix in SCANNED_SUFFIXES or "." not in p.rsplit("/", 1)[-1]
    ]


# -- semgrep -----------------------------------------------------------------------------------


def _run(argv: list[str], root: Path, timeout: float) -> tuple[int, str, str]:
    if timeout <= 0:
        raise ScannerError("no time left to run semgrep")
    return execute_semgrep(argv, root, timeout)


def semgrep_fixes(
    root: Path, targets: Sequence[str], options: ScanOptions, timeout: float
) -> tuple[list[Fix], list[str]]:
    """Run our rules over ``targets`` (relative to ``root``): the fixes, and per-file errors.
    Raises :class:`ScannerError` when semgrep cannot run or fails."""
    if not targets:
        return [], []
    files = rule_files(options.rules if options.rules is not None else rules_dir())
    executable = find_semgrep()
    engine = choose_engine(
        None, executable, semgrep_environment(), preferred=options.semgrep_engine
    )
    config = alias_free_config(files)
    deadline = time.monotonic() + timeout
    fixes: list[Fix] = []
    errors: list[str] = []
    for chunk in chunked(list(targets)):
        argv = command(executable, [config], chunk, engine)
        code, stdout, stderr = _run(argv, root, deadline - time.monotonic())
        report = parse_output(code, stdout, stderr)
        fatal, per_file = classify_errors(report.get("errors") or [], mask_secrets)
        if code not in (0, 1) or fatal:
            reason = "; ".join(fatal) or " ".join(stderr.strip().splitlines()[-2:])
            raise ScannerError(f"semgrep failed (exit {code}): {reason[: ERROR_CHARS * 2]}")
        errors += per_file
        fixes += fixes_from_report(report)
    return fixes, errors


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
