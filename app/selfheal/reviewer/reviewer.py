"""SecurityCodeReviewer: a :class:`ChangeSet` and a :class:`Policy` in, a :class:`Verdict` out.

Three kinds of findings feed the decision rules in :mod:`app.review.rules`:

* path findings from the policy: every path a change touches (both sides of a rename, and
  deleted files: deleting a protected file is a change to it) that is ``protected`` or
  ``review``, with the deciding line and its owners in ``properties``;
* sensitive changes: the selfheal policy file, CODEOWNERS (all three locations) and workflow
  files, which always need a person's approval whatever the policy says;
* code findings from :func:`app.scan.engine.scan_targets` (semgrep rules, secrets and
  vulnerable dependencies) on ADDED or CHANGED lines only. Any scanner error becomes a
  ``scanner-error`` finding, and the rules block: the gate fails closed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from selfheal.model.findings import Category, Finding, Severity, Source, Verdict
from selfheal.model.policy import (
    REPO_POLICY_PATH,
    Level,
    Policy,
    PolicyError,
    PolicyMatch,
    decode_policy,
    load_effective_policy,
)
from selfheal.reviewer.changeset import (
    ChangedFile,
    ChangeSet,
    ChangeStatus,
)
from selfheal.reviewer.gitchanges import changeset_from_git, read_blob_text
from selfheal.reviewer.rules import (
    Thresholds,
    decide,
    policy_error_verdict,
    sensitive_kind,
    sensitive_kind_below,
)
from selfheal.reviewer.scaffold import is_python, scaffold_python
from selfheal.scanner.deps import is_dependency_file
from selfheal.scanner.engine import ScanOptions, ScanTarget, scan_targets

RULE_PROTECTED = "selfheal.policy.protected-path"
RULE_REVIEW = "selfheal.policy.review-path"
RULE_SENSITIVE = "selfheal.sensitive-change"
RULE_SCANNER_ERROR = "selfheal.scanner-error"
BINARY_REASON = "binary file or submodule: not scanned"
PARTIAL_REASON = (
    "dependency file only partly shown in the diff: pins not checked (review a git range)"
)
STRUCTURED_SUFFIXES = (".toml", ".lock")
VERBS = {"added": "adds", "modified": "changes", "deleted": "deletes", "renamed": "renames"}


@dataclass(frozen=True)
class ReviewOptions:
    """``actor_kind``: who makes the change ("automation" or "human"). ``scan``: options for
    the scan engine (None = defaults). ``run_scanners=False`` reviews paths only."""

    actor_kind: str = "automation"
    scan: ScanOptions | None = None
    run_scanners: bool = True
    thresholds: Thresholds = field(default_factory=Thresholds)


# -- helpers ---------------------------------------------------------------------------------


def _verb(change: ChangedFile, path: str, kind: str) -> str:
    if kind == "paths":
        return "targets"
    if change.old_path == path and change.path != path:
        return "renames away"
    if path not in (change.path, change.old_path):
        return f"adds a link ({change.path}) to"
    return VERBS[change.status.value]


def _owners(found: PolicyMatch) -> str:
    return f" (owners: {' '.join(found.owners)})" if found.owners else ""


def _policy_finding(change: ChangedFile, path: str, found: PolicyMatch, message: str) -> Finding:
    protected = found.level is Level.PROTECTED
    return Finding(
        rule_id=RULE_PROTECTED if protected else RULE_REVIEW,
        category=Category.PROTECTED_PATH if protected else Category.REVIEW_PATH,
        severity=Severity.HIGH if protected else Severity.MEDIUM,
        path=path,
        line=0,
        message=message,
        source=Source.POLICY,
        properties={
            "level": found.level.label,
            "pattern": found.pattern,
            "policy": found.location,
            "owners": list(found.owners),
            "status": change.status.value,
            **({"note": found.note} if found.note else {}),
        },
    )


def _path_finding(change: ChangedFile, path: str, policy: Policy, kind: str) -> Finding | None:
    found = policy.match(path)
    if found is None or found.level is Level.OPEN:
        return None
    message = (
        f"The change {_verb(change, path, kind)} {path}, which is {found.level.label} "
        f"by {found.location} (`{found.pattern}`){_owners(found)}."
    )
    return _policy_finding(change, path, found, message)


def _below_finding(change: ChangedFile, target: str, policy: Policy) -> Finding | None:
    """A link to ``target`` as a directory: the strictest policy line for paths below it,
    whether or not they exist yet. None when the target itself is already judged as strictly
    (a link to a protected file)."""
    found = policy.match_below(target)
    if found is None or policy.level_of(target) >= found.level:
        return None
    message = (
        f"The change adds a link ({change.path}) to {target or 'the repository root'}; files "
        f"there are {found.level.label} by {found.location} (`{found.pattern}`){_owners(found)}, "
        "whether or not they exist yet."
    )
    return _policy_finding(change, target or ".", found, message)


def _sensitive_finding(change: ChangedFile, path: str, kind: str) -> Finding | None:
    what = sensitive_kind(path)
    if what is None:
        return None
    return Finding(
        rule_id=RULE_SENSITIVE,
        category=Category.SENSITIVE_CHANGE,
        severity=Severity.MEDIUM,
        path=path,
        line=0,
        message=f"The change {_verb(change, path, kind)} {path} ({what}); a person must approve.",
        source=Source.POLICY,
        properties={"status": change.status.value},
    )


def error_finding(message: str) -> Finding:
    return Finding(
        rule_id=RULE_SCANNER_ERROR,
        category=Category.SCANNER_ERROR,
        severity=Severity.HIGH,
        path=".",
        line=0,
        message=message,
        source=Source.ENGINE,
    )


def _link_finding(change: ChangedFile, message: str) -> Finding:
    return Finding(
        rule_id=RULE_SENSITIVE,
        category=Category.SENSITIVE_CHANGE,
        severity=Severity.MEDIUM,
        path=change.path,
        line=0,
        message=f"The change adds a link ({change.path} -> {change.link_target}) {message}; "
        "a person must approve.",
        source=Source.POLICY,
        properties={"status": change.status.value, "link_target": change.link_target or ""},
    )


def _sensitive_below(change: ChangedFile, target: str) -> Finding | None:
    """A link to ``target`` as a directory that can hold a sensitive file (rule R6)."""
    what = sensitive_kind_below(target)
    if what is None or sensitive_kind(target) is not None:
        return None
    return Finding(
        rule_id=RULE_SENSITIVE,
        category=Category.SENSITIVE_CHANGE,
        severity=Severity.MEDIUM,
        path=target or ".",
        line=0,
        message=f"The change adds a link ({change.path}) to {target or 'the repository root'}, "
        f"which can hold {what}; a person must approve.",
        source=Source.POLICY,
        properties={"status": change.status.value, "link_target": change.link_target or ""},
    )


def _stricter(current: Finding | None, found: Finding | None) -> Finding | None:
    if found is None or (current is not None and found.severity <= current.severity):
        return current
    return found


def _exposed_findings(change: ChangedFile, policy: Policy, kind: str) -> list[Finding]:
    """For a link: the strictest policy finding among the files it exposes, or among the
    paths the policy names below its target (existing or not) when that is stricter, and the
    first sensitive one (one of each, however many files the directory holds)."""
    strictest: Finding | None = None
    sensitive: Finding | None = None
    for path in change.link_exposes:
        strictest = _stricter(strictest, _path_finding(change, path, policy, kind))
        sensitive = sensitive or _sensitive_finding(change, path, kind)
    target = change.resolved_link()
    if target is not None and not change.link_escapes:
        strictest = _stricter(strictest, _below_finding(change, target, policy))
        sensitive = sensitive or _sensitive_below(change, target)
    findings = [f for f in (strictest, sensitive) if f is not None]
    if change.link_exposes_more:
        many = f"to a directory of more than {len(change.link_exposes)} files, not all checked"
        findings.append(_link_finding(change, many))
    return findings


def _scan(
    targets: list[ScanTarget], options: ScanOptions, changes: ChangeSet
) -> tuple[list[Finding], list[tuple[str, str]]]:
    if not targets or not options.scanners:
        return [], []
    try:
        report = scan_targets(targets, options, read=changes.read)
    except Exception as exc:  # the engine must not raise; if it does, fail closed anyway
        return [error_finding(f"scan engine: {exc.__class__.__name__}: {exc}")], []
    return list(report.findings) + [error_finding(e) for e in report.errors], report.skipped


# -- public functions ------------------------------------------------------------------------


def path_findings(changes: ChangeSet, policy: Policy) -> list[Finding]:
    """Policy and sensitive-file findings for every path the change touches.

    A symbolic link touches what it points to: a file, or every file of a directory it
    points to, and every path the policy names below its target, whether or not it exists
    yet. A link out of the repository needs a person, since nothing there is checked.
    """
    findings: list[Finding] = []
    for change in changes.files:
        for path in change.paths:
            for found in (
                _path_finding(change, path, policy, changes.kind),
                _sensitive_finding(change, path, changes.kind),
            ):
                if found is not None:
                    findings.append(found)
        if change.link_escapes:
            findings.append(_link_finding(change, "that points outside the repository"))
        findings.extend(_exposed_findings(change, policy, changes.kind))
    return findings


def code_findings(
    changes: ChangeSet, options: ScanOptions | None = None
) -> tuple[list[Finding], list[tuple[str, str]]]:
    """Scanner findings on added lines, plus the files that could not be scanned.

    Python fragments rebuilt from a diff get scaffold lines so they parse (see
    :mod:`app.review.scaffold`). Dependency files rebuilt from a diff's hunks
    (``complete=False``) are checked for vulnerable pins only when they are line-based
    (requirements files): a fragment of a TOML or lock file cannot be parsed, so it is
    reported as not checked instead.
    """
    opts = options or ScanOptions()
    skipped: list[tuple[str, str]] = []
    targets: list[ScanTarget] = []
    dep_targets: list[ScanTarget] = []
    for change in changes.files:
        if change.binary and change.status is not ChangeStatus.DELETED:
            skipped.append((change.path, BINARY_REASON))
        elif change.content is not None and change.added_lines:
            content = change.content
            if not change.complete and is_python(change.path):
                content = scaffold_python(content, change.shown_lines)
            target = ScanTarget(change.path, content, change.added_lines)
            targets.append(target)
            if not is_dependency_file(change.path):
                continue
            if change.complete or not change.path.endswith(STRUCTURED_SUFFIXES):
                dep_targets.append(target)
            elif "dependencies" in opts.scanners:
                skipped.append((change.path, PARTIAL_REASON))
    # Dependencies run separately, on the files they can parse (no second semgrep run).
    code_opts = dataclasses.replace(opts, scanners=opts.scanners - {"dependencies"})
    dep_opts = dataclasses.replace(opts, scanners=opts.scanners & {"dependencies"})
    findings, code_skipped = _scan(targets, code_opts, changes)
    dep_findings, _ = _scan(dep_targets, dep_opts, changes)
    return findings + dep_findings, skipped + list(code_skipped)


def review(
    changes: ChangeSet,
    policy: Policy | PolicyError,
    *,
    options: ReviewOptions | None = None,
) -> Verdict:
    """Review one change. A :class:`PolicyError` in place of a policy blocks (fail closed)."""
    opts = options or ReviewOptions()
    if isinstance(policy, PolicyError):
        return policy_error_verdict(policy)
    findings = path_findings(changes, policy)
    skipped: list[tuple[str, str]] = []
    if opts.run_scanners:
        found, skipped = code_findings(changes, opts.scan)
        findings.extend(found)
    return decide(findings, actor_kind=opts.actor_kind, skipped=skipped, thresholds=opts.thresholds)


def policy_at(repo_path: Path | str, ref: str) -> Policy | PolicyError:
    """The effective policy with the repository file as it is at ``ref`` (the base branch).

    Returns the :class:`PolicyError` instead of raising, so callers can pass it straight to
    :func:`review`, which blocks.
    """
    try:
        data = read_blob_text(repo_path, ref, REPO_POLICY_PATH)
        text = decode_policy(data, REPO_POLICY_PATH) if data is not None else None
        return load_effective_policy(text, REPO_POLICY_PATH)
    except PolicyError as exc:
        return exc


def review_range(
    repo_path: Path | str, base: str, head: str, *, options: ReviewOptions | None = None
) -> Verdict:
    """Review ``base..head`` (from their merge base) under the policy of ``base``.

    Raises :class:`app.review.changeset.ChangeSetError` for unknown refs or no repository.
    """
    changes = changeset_from_git(repo_path, base, head)
    return review(changes, policy_at(repo_path, base), options=options)
