"""``selfheal policy check [FILE]`` and ``selfheal policy explain PATH... [--policy FILE]``.

check: lint a policy file (default ``.github/selfheal.policy`` under the current directory;
when that does not exist, the shipped defaults). Prints ``file:line: error: message`` lines.
Exit 0 clean (warnings allowed), 1 errors, 2 unreadable file.

explain: for each path, the line that decides its level under the effective policy
(defaults + the repository file), the level and the owners.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from selfheal.cli import EXIT_FINDINGS, EXIT_OK, UsageError
from selfheal.git.discovery import find_repository
from selfheal.model.policy import (
    REPO_POLICY_PATH,
    Policy,
    PolicyError,
    decode_policy,
    lint_policy,
    load_default_policy_text,
    load_effective_policy,
    parse_policy,
)
from selfheal.reviewer.rules import sensitive_kind

NO_MATCH = "no rule matched: open"


def _repo_policy() -> Path:
    """``.github/selfheal.policy`` at the root of the repository holding the cwd (or cwd)."""
    repo = find_repository(".")
    workdir = repo.workdir if repo is not None else None
    root = Path(workdir) if workdir else Path()
    path = root / REPO_POLICY_PATH
    try:
        return path.relative_to(Path.cwd()) if path.is_absolute() else path
    except ValueError:
        return path


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read policy file {path}: {exc.strerror or exc}") from None
    return decode_policy(data, str(path))


def _lint(text: str, source: str, floor: Policy | None = None) -> int:
    """Print the problems of one policy text; return the number of errors."""
    try:
        problems = lint_policy(text, source, floor=floor)
    except PolicyError as exc:
        print(exc)
        return 1
    for problem in problems:
        print(problem)
    errors = sum(1 for p in problems if p.severity == "error")
    if not errors:
        parsed = parse_policy(text, source)
        guardians = f"; guardians {' '.join(parsed.guardians)}" if parsed.guardians else ""
        print(f"{source}: ok ({len(parsed.rules)} rules{guardians})", file=sys.stderr)
    return errors


def _check(args: argparse.Namespace) -> int:
    path = Path(args.file) if args.file is not None else _repo_policy()
    defaults_text, defaults_source = load_default_policy_text()
    if args.file is None and not path.is_file():
        print(f"no {REPO_POLICY_PATH} here; checking the shipped defaults", file=sys.stderr)
        return EXIT_FINDINGS if _lint(defaults_text, defaults_source) else EXIT_OK
    try:
        text = _read(path)
    except PolicyError as exc:  # invalid UTF-8: a problem in the file, not a usage error
        print(exc)
        return EXIT_FINDINGS
    source = str(path)
    floor = parse_policy(defaults_text, defaults_source) if source != defaults_source else None
    return EXIT_FINDINGS if _lint(text, source, floor) else EXIT_OK


def _effective(args: argparse.Namespace) -> Policy:
    if args.no_defaults and args.policy is None:
        raise UsageError("--no-defaults needs --policy FILE")
    path = Path(args.policy) if args.policy is not None else _repo_policy()
    if args.policy is None and not path.is_file():
        return load_effective_policy(None)
    text = _read(path)
    if args.no_defaults:
        return parse_policy(text, str(path))
    return load_effective_policy(text, str(path))


def _explain(args: argparse.Namespace) -> int:
    try:
        policy = _effective(args)
    except PolicyError as exc:
        raise UsageError(str(exc)) from None
    for path in args.paths:
        found = policy.match(path)
        if found is None:
            print(f"{path}: {NO_MATCH}")
        else:
            owners = " ".join(found.owners) if found.owners else "(no owners)"
            print(
                f"{path}: {found.level.label} by {found.location} `{found.pattern}` "
                f"owners: {owners}"
            )
            if found.note:
                print(f"  note: {found.note}")
        what = sensitive_kind(path)
        if what is not None:
            print(f"  note: edits always need a person's approval ({what})")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "policy", help="check or explain CODEOWNERS-style selfheal policy files"
    )
    sub = parser.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="lint a policy file (file:line: error: message)")
    check.add_argument(
        "file", nargs="?", help=f"policy file (default: {REPO_POLICY_PATH}, else the defaults)"
    )
    check.set_defaults(handler=_check)
    explain = sub.add_parser("explain", help="show which policy line decides each path")
    explain.add_argument("paths", nargs="+", metavar="PATH")
    explain.add_argument(
        "--policy", metavar="FILE", help=f"repository policy (default: {REPO_POLICY_PATH})"
    )
    explain.add_argument(
        "--no-defaults", action="store_true", help="use only --policy FILE, not the defaults"
    )
    explain.set_defaults(handler=_explain)
