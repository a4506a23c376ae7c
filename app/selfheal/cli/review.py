"""``selfheal review``: the SecurityCodeReviewer on a git range, a diff file or target paths.

Exit codes: 0 approve; 1 block or needs_approval (the decision is printed on stderr);
2 usage or configuration error (unknown ref, malformed diff, unreadable or invalid policy).

The policy is ``--policy FILE`` if given, else ``.github/selfheal.policy`` of the repository
(with ``--base``: as it is in the BASE commit, so a change cannot relax the policy that
reviews it; otherwise: the file in the work tree), combined with the shipped defaults.

With ``--diff``, a modified file whose lines shown in the diff all match the file in the
``--repo`` work tree is scanned whole (the diff only shows fragments); otherwise the
fragments are scanned with the lines the diff does not show left blank.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from selfheal.cli import (
    EXIT_FINDINGS,
    EXIT_OK,
    UsageError,
    secret_engine_cache,
    secret_engine_setting,
    semgrep_engine_setting,
)
from selfheal.model.findings import Category, Decision, Severity, Verdict
from selfheal.model.policy import (
    REPO_POLICY_PATH,
    Policy,
    PolicyError,
    decode_policy,
    load_effective_policy,
)
from selfheal.report import render
from selfheal.reviewer.changeset import (
    ChangeSet,
    ChangeSetError,
    changeset_from_paths,
)
from selfheal.reviewer.diffparse import MAX_DIFF_BYTES, DiffError, changeset_from_diff
from selfheal.reviewer.gitchanges import changeset_from_git, read_blob_text
from selfheal.reviewer.reviewer import ReviewOptions, review
from selfheal.reviewer.rules import ACTOR_KINDS, Thresholds
from selfheal.reviewer.worktree import complete_from_worktree
from selfheal.scanner.engine import ALL_SCANNERS, CVE_SOURCES, ScanOptions

FORMATS = ("text", "json", "sarif", "markdown")


# -- helpers ---------------------------------------------------------------------------------


def _read_diff(name: str) -> bytes:
    try:
        if name == "-":
            data = sys.stdin.buffer.read(MAX_DIFF_BYTES + 1)
        else:
            with open(name, "rb") as handle:
                data = handle.read(MAX_DIFF_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read diff {name}: {exc.strerror or exc}") from None
    return data


def _changes(args: argparse.Namespace) -> ChangeSet:
    chosen = [bool(args.base or args.head), args.diff is not None, bool(args.paths)]
    repo = Path(args.repo)
    if sum(chosen) != 1:
        raise UsageError("give exactly one of --base REF [--head REF], --diff FILE or --paths")
    try:
        if args.diff is not None:
            return complete_from_worktree(changeset_from_diff(_read_diff(args.diff)), repo)
        if args.paths:
            return changeset_from_paths(args.paths)
        if not args.base:
            raise UsageError("--head needs --base")
        return changeset_from_git(repo, args.base, args.head or "HEAD")
    except DiffError as exc:
        raise UsageError(f"malformed diff {args.diff}: {exc}") from None
    except ChangeSetError as exc:
        raise UsageError(str(exc)) from None


def _policy(args: argparse.Namespace) -> Policy:
    text: str | None = None
    source = REPO_POLICY_PATH
    try:
        if args.policy is not None:
            source = args.policy
            try:
                data: bytes | None = Path(args.policy).read_bytes()
            except OSError as exc:
                raise UsageError(f"cannot read policy {args.policy}: {exc.strerror}") from None
        elif args.base:
            data = read_blob_text(Path(args.repo), args.base, REPO_POLICY_PATH)
            source = f"{args.base}:{REPO_POLICY_PATH}"
        else:
            candidate = Path(args.repo) / REPO_POLICY_PATH
            data = candidate.read_bytes() if candidate.is_file() else None
        if data is not None:
            text = decode_policy(data, source)
        return load_effective_policy(text, source)
    except (PolicyError, ChangeSetError) as exc:
        raise UsageError(f"invalid policy: {exc}") from None


def _render(fmt: str, verdict: Verdict, changes: ChangeSet) -> str:
    if fmt == "json":
        return json.dumps(verdict.to_dict(), indent=2, sort_keys=False) + "\n"
    meta = {
        "title": "selfheal security review",
        "input": changes.kind,
        "files_changed": str(len(changes.files)),
    }
    if changes.base and changes.head:
        meta["range"] = f"{changes.base[:12]}..{changes.head[:12]}"
    return render(
        fmt,
        list(verdict.findings),
        verdict=verdict,
        skipped=list(verdict.skipped),
        errors=[f.message for f in verdict.findings if f.category is Category.SCANNER_ERROR],
        meta=meta,
    )


def _scanners(value: str) -> frozenset[str]:
    chosen = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = chosen - ALL_SCANNERS
    if unknown or not chosen:
        names = ", ".join(sorted(ALL_SCANNERS))
        raise UsageError(f"--scanners takes a comma-separated list of: {names}")
    return chosen


def _scan_options(args: argparse.Namespace) -> ScanOptions:
    return ScanOptions(
        scanners=_scanners(args.scanners),
        rules=Path(args.rules) if args.rules else None,
        advisories=Path(args.advisories) if args.advisories else None,
        cve_source=args.cve_source,
        baseline=Path(args.baseline) if args.baseline else None,
        semgrep_engine=semgrep_engine_setting(),
        secret_engine=secret_engine_setting(),
        secret_engine_cache=secret_engine_cache(),
    )


def _severity(value: str) -> Severity:
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    changes = _changes(args)
    policy = _policy(args)
    scan = _scan_options(args)
    thresholds = Thresholds(_severity(args.block_at), _severity(args.approval_at))
    options = ReviewOptions(args.actor, scan, not args.no_scan, thresholds)
    verdict = review(changes, policy, options=options)
    text = _render(args.format, verdict, changes)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror}") from None
    else:
        sys.stdout.write(text)
    print(
        f"selfheal review: {verdict.decision.value} (risk: {verdict.risk.value})", file=sys.stderr
    )
    return EXIT_OK if verdict.decision is Decision.APPROVE else EXIT_FINDINGS


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "review",
        help="review a change (git range, diff or target paths) against policy and scanners",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--repo", default=".", metavar="DIR", help="repository (default .)")
    parser.add_argument("--base", metavar="REF", help="review the changes since REF ...")
    parser.add_argument("--head", metavar="REF", help="... up to REF (default HEAD)")
    parser.add_argument("--diff", metavar="FILE", help="review a unified diff (- for stdin)")
    parser.add_argument("--paths", nargs="+", metavar="PATH", help="review target paths only")
    parser.add_argument("--policy", metavar="FILE", help=f"policy (default: {REPO_POLICY_PATH})")
    parser.add_argument("--actor", choices=ACTOR_KINDS, default="automation")
    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument("--output", metavar="FILE", help="write the report here")
    parser.add_argument("--rules", metavar="DIR", help="semgrep rules (default: bundled)")
    parser.add_argument("--advisories", metavar="PATH", help="OSV advisory data to use")
    parser.add_argument("--cve-source", choices=CVE_SOURCES, default="osv")
    parser.add_argument("--baseline", metavar="FILE", help="secrets baseline to honour")
    parser.add_argument("--block-at", default="high", metavar="SEVERITY")
    parser.add_argument("--approval-at", default="medium", metavar="SEVERITY")
    parser.add_argument(
        "--scanners",
        default="semgrep,secrets,dependencies",
        metavar="LIST",
        help="code scanners to run (default: semgrep,secrets,dependencies)",
    )
    parser.add_argument("--no-scan", action="store_true", help="path and policy checks only")
    parser.set_defaults(handler=run)
