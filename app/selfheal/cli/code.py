"""``selfheal code``: run a coder on a local work tree, for a task given on the command line.

The run goes through :func:`selfheal.coder.runner.run_coder`: the targets are checked
against the policy (``.github/selfheal.policy`` on top of the defaults), the backend works on
a guarded view of the tree, every changed path is checked again, and the target files are
scanned before and after. Nothing is committed unless ``--commit`` is given; then the changed
files, and only those, are committed on the current branch with pygit2.

Exit codes: 0 the coder changed something; 1 nothing to do; 2 bad input (a bad option, a
bad policy, a target the guard forbids, or a task the coder refuses, with the reason); 3 a
limit stopped it (budget, halt, time).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pygit2

from selfheal.cli import (
    EXIT_USAGE,
    UsageError,
    secret_engine_cache,
    secret_engine_setting,
    semgrep_engine_setting,
)
from selfheal.coder.backends import backend_registry
from selfheal.coder.interface import (
    CHANGE_TYPES,
    DEFAULT_BUDGET_USD,
    DEFAULT_MAX_TURNS,
    DEFAULT_WALL_CLOCK_SECONDS,
    BackendOptions,
    Coder,
    CodeTask,
    Limits,
    Outcome,
)
from selfheal.coder.runner import CodingRun, run_coder
from selfheal.config.coding import CodingSettingsError, parse_coding_settings
from selfheal.git.discovery import find_repository
from selfheal.model.findings import Finding, Severity
from selfheal.model.policy import (
    REPO_POLICY_PATH,
    Policy,
    PolicyError,
    decode_policy,
    load_default_policy,
    load_effective_policy,
)
from selfheal.scanner.engine import ScanOptions

EXIT_CHANGED = 0
EXIT_NOTHING_TO_DO = 1
EXIT_LIMIT = 3
JSON_VERSION = 1
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
BOT_NAME, BOT_EMAIL = "selfheal", "selfheal@users.noreply.github.com"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "code",
        help="run a coder on a local work tree (rules: autofixes and dependency bumps; "
        "anthropic: a metered model loop)",
        description=(
            "Run a coder backend on a local work tree for one task. Every edit passes the path "
            "guard (policy, workflows, policy files, symlinks, secrets); the target files are "
            "scanned before and after. Exit 0 changed something, 1 nothing to do, 2 bad input "
            "or a refused task, 3 a limit stopped it."
        ),
    )
    parser.add_argument("--repo", required=True, metavar="DIR", help="the work tree (its top)")
    parser.add_argument(
        "--backend", default="rules", choices=sorted(backend_registry()), help="default: rules"
    )
    parser.add_argument("--task", required=True, metavar="TEXT", help="what to do (free text)")
    parser.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="PATH",
        help="a file or folder to work on, relative to DIR (repeatable; default: the tree)",
    )
    parser.add_argument(
        "--type",
        default="security",
        choices=CHANGE_TYPES,
        help="the change type, as on a request (default: security)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=DEFAULT_BUDGET_USD,
        metavar="USD",
        help=f"most the run may cost (default {DEFAULT_BUDGET_USD:g})",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=DEFAULT_WALL_CLOCK_SECONDS,
        metavar="SECONDS",
        help=f"wall-clock limit (default {DEFAULT_WALL_CLOCK_SECONDS:g})",
    )
    parser.add_argument(
        "--model",
        default="",
        metavar="MODEL",
        help="the model, for a model-backed backend (anthropic: default claude-sonnet-4-5); "
        "it must have a price (the shipped table or SELFHEAL_PRICES)",
    )
    parser.add_argument(
        "--agent-options",
        default="{}",
        metavar="JSON",
        help="the backend's options as a JSON object (command: the program, env passthrough, "
        "timeout, budget flag, cost field; docs/coder.md)",
    )
    parser.add_argument(
        "--disposable",
        action="store_true",
        help="DIR is a throw-away checkout (a CI runner's): secret files may be deleted from it "
        "before a backend that runs as its own process starts",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--commit", action="store_true", help="commit the changed files on the current branch"
    )
    parser.set_defaults(handler=run)


# --- helpers ---------------------------------------------------------------------------


def _clean(text: str) -> str:
    """No terminal control characters: paths, notes and messages come from the tree."""
    return CONTROL.sub("?", text)


def _work_tree(value: str, commit: bool) -> tuple[Path, pygit2.Repository | None]:
    """The resolved work tree and its pygit2 repository (None when not in one)."""
    root = Path(value)
    if not root.is_dir():
        raise UsageError(f"--repo {value}: not a folder")
    root = root.resolve()
    repo = find_repository(root)
    if repo is not None and repo.workdir and Path(repo.workdir).resolve() != root:
        raise UsageError(
            f"--repo {value}: give the top of the work tree ({repo.workdir.rstrip('/')}); the "
            "policy's paths are relative to it"
        )
    if commit and (repo is None or repo.is_bare):
        raise UsageError("--commit needs a git work tree")
    if commit and repo is not None and repo.head_is_detached:
        raise UsageError("--commit needs a branch; HEAD is detached")
    return root, repo


def _policy(root: Path) -> tuple[Policy, Policy]:
    """(effective policy, defaults) for the work tree."""
    defaults = load_default_policy()
    path = root / REPO_POLICY_PATH
    if os.path.islink(path):
        raise UsageError(f"{REPO_POLICY_PATH} is a symbolic link; it is not read")
    if not path.is_file():
        return defaults, defaults
    try:
        text = decode_policy(path.read_bytes(), REPO_POLICY_PATH)
        return load_effective_policy(text, REPO_POLICY_PATH, defaults=defaults), defaults
    except PolicyError as exc:
        raise UsageError(f"bad policy: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {REPO_POLICY_PATH}: {exc.strerror}") from None


def task_id(text: str) -> str:
    return "cli-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]


def commit_message(task: CodeTask, backend: str, summary: str) -> str:
    first = " ".join(task.description.split())
    title = first if len(first) <= 60 else first[:59] + "…"
    return (
        f"selfheal: {title}\n\n"
        f"{summary}\n\n"
        f"Selfheal-Task: {task.id} ({task.change_type})\n"
        f"Selfheal-Coder: {backend}\n"
    )


def commit_paths(repo: pygit2.Repository, root: Path, paths: Sequence[str], message: str) -> str:
    """Commit the work-tree state of ``paths`` (and nothing else) on the current branch, on
    top of HEAD; the index follows for those paths. Returns the new commit's id."""
    unborn = repo.head_is_unborn
    staged = pygit2.Index()
    if not unborn:
        staged.read_tree(repo.head.peel(pygit2.Commit).tree)
    real = repo.index
    real.read()
    for path in paths:
        full = root / path
        try:
            info = os.lstat(full)
        except FileNotFoundError:
            info = None
        if info is not None and stat.S_ISREG(info.st_mode):
            blob = repo.create_blob_fromworkdir(path)
            executable = info.st_mode & stat.S_IXUSR
            mode = (
                pygit2.enums.FileMode.BLOB_EXECUTABLE if executable else pygit2.enums.FileMode.BLOB
            )
            staged.add(pygit2.IndexEntry(path, blob, mode))
            real.add(path)
        else:
            for index in (staged, real):
                if path in index:
                    index.remove(path)
    tree = staged.write_tree(repo)
    try:
        author = repo.default_signature
    except (KeyError, pygit2.GitError):
        author = pygit2.Signature(BOT_NAME, BOT_EMAIL)
    parents = [] if unborn else [repo.head.target]
    oid = repo.create_commit("HEAD", author, author, message, tree, parents)
    real.write()
    return str(oid)


def _counts(findings: Sequence[Finding]) -> dict[str, Any]:
    by = {s.label: 0 for s in sorted(Severity, reverse=True)}
    for finding in findings:
        by[finding.severity.label] += 1
    return {"total": len(findings), "by_severity": by}


def to_json(run: CodingRun, task: CodeTask, backend: str, commit: str | None) -> dict[str, Any]:
    result = run.result
    scans = {
        "before": _counts(run.before.findings) if run.before is not None else None,
        "after": _counts(run.after.findings) if run.after is not None else None,
        "fixed": [f.to_dict() for f in run.fixed()],
        "introduced": [f.to_dict() for f in run.introduced()],
        "errors": [
            *(run.before.errors if run.before else []),
            *(run.after.errors if run.after else []),
        ],
    }
    return {
        "version": JSON_VERSION,
        "task": {
            "id": task.id,
            "type": task.change_type,
            "targets": list(task.target_paths),
        },
        "backend": backend,
        "outcome": result.outcome.value,
        "summary": result.summary,
        "reason": result.reason,
        "limit": result.limit.value if result.limit is not None else None,
        "files_changed": list(result.files_changed),
        "cost_usd": result.cost_usd,
        "cost_metered": result.cost_metered,
        "notes": list(result.notes),
        "violations": [
            {"path": v.path, "kind": v.kind.value, "reason": v.reason} for v in run.violations
        ],
        "scrubbed": list(run.scrubbed),
        "findings": scans,
        "commit": commit,
    }


def to_text(run: CodingRun, backend: str, commit: str | None, branch: str) -> str:
    result = run.result
    lines = [
        f"selfheal code: {result.outcome.value} ({backend} coder)",
        f"  {_clean(result.summary)}",
    ]
    if result.files_changed:
        lines.append(f"Files changed ({len(result.files_changed)}):")
        lines += [f"  {_clean(path)}" for path in result.files_changed]
    metered = "metered" if result.cost_metered else "estimated"
    lines.append(f"Cost: {result.cost_usd:.2f} USD ({metered})")
    if run.before is not None and run.after is not None:
        lines.append(
            f"Findings: {len(run.before.findings)} before, {len(run.after.findings)} after "
            f"({len(run.fixed())} fixed, {len(run.introduced())} new)"
        )
        for finding in run.introduced():
            where = f"{finding.path}:{finding.line}" if finding.line else finding.path
            lines.append(f"  new: {finding.severity.label} {finding.rule_id} {_clean(where)}")
    if run.violations:
        lines.append("Refused by the guard:")
        lines += [f"  {_clean(str(v))}" for v in run.violations]
    if result.notes:
        lines.append("Notes:")
        lines += [f"  - {_clean(note)}" for note in result.notes]
    if commit is not None:
        lines.append(f"Committed {commit[:12]} on {branch}")
    return "\n".join(lines) + "\n"


# --- the command ----------------------------------------------------------------------


def _backend_options(
    args: argparse.Namespace, scan: ScanOptions, agent_options: dict[str, Any]
) -> BackendOptions:
    """The backend's options: the model, ``--agent-options``, and the key, API and prices
    from the environment (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, SELFHEAL_PRICES), as the
    server reads them."""
    try:
        coding = parse_coding_settings(os.environ)
    except CodingSettingsError as exc:
        raise UsageError(str(exc)) from None
    try:
        return BackendOptions(scan, model=args.model, agent_options=agent_options,
                              api_key=coding.api_key, base_url=coding.base_url,
                              prices=coding.prices)  # fmt: skip
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _backend(args: argparse.Namespace, scan: ScanOptions) -> Coder:
    """The backend, built from ``--agent-options`` and the environment; bad options are bad
    input (exit 2)."""
    try:
        parsed = json.loads(args.agent_options)
    except ValueError:
        raise UsageError("--agent-options: not JSON") from None
    if not isinstance(parsed, dict):
        raise UsageError("--agent-options: must be a JSON object")
    try:
        return backend_registry()[args.backend](_backend_options(args, scan, parsed))
    except ValueError as exc:
        raise UsageError(f"--backend {args.backend}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    description = args.task.strip()
    if not description:
        raise UsageError("--task: say what to do")
    try:
        limits = Limits(args.budget, DEFAULT_MAX_TURNS, args.time_limit)
    except ValueError as exc:
        raise UsageError(f"--budget/--time-limit: {exc}") from None
    root, repo = _work_tree(args.repo, args.commit)
    policy, defaults = _policy(root)
    options = ScanOptions(
        semgrep_engine=semgrep_engine_setting(),
        secret_engine=secret_engine_setting(),
        secret_engine_cache=secret_engine_cache(),
    )
    coder = _backend(args, options)
    task = CodeTask(task_id(description), description, args.type, tuple(args.target))
    coding = run_coder(coder, root, task, limits, policy=policy, defaults=defaults,
                       scan_options=options, disposable=args.disposable)  # fmt: skip
    result = coding.result
    commit = None
    branch = ""
    if args.commit and repo is not None and result.outcome is Outcome.CHANGED:
        message = commit_message(task, args.backend, result.summary)
        commit = commit_paths(repo, root, result.files_changed, message)
        branch = repo.head.shorthand
    if args.format == "json":
        print(json.dumps(to_json(coding, task, args.backend, commit), indent=2))
    else:
        sys.stdout.write(to_text(coding, args.backend, commit, branch))
    if result.outcome is Outcome.REFUSED:
        print(f"selfheal: refused: {_clean(result.reason)}", file=sys.stderr)
    if result.outcome is Outcome.LIMIT_REACHED:
        print(f"selfheal: stopped: {_clean(result.reason)}", file=sys.stderr)
    codes = {
        Outcome.CHANGED: EXIT_CHANGED,
        Outcome.NOTHING_TO_DO: EXIT_NOTHING_TO_DO,
        Outcome.REFUSED: EXIT_USAGE,
        Outcome.LIMIT_REACHED: EXIT_LIMIT,
    }
    return codes[result.outcome]
