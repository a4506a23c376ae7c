"""One coder run, with the checks that do not rely on the backend behaving.

:func:`run_coder` is what the request lifecycle and ``selfheal code`` call:

1. the backend may refuse the task outright (a type it cannot do); the task's targets are
   checked with the guard, and a forbidden target refuses the run before the backend sees
   anything;
2. a backend that runs as its own process gets a work tree without secret files
   (:func:`selfheal.coder.guard.scrub`), on a disposable tree only;
3. the target files are scanned (findings before), and the tree is snapshotted;
4. the backend runs on a guarded :class:`Workspace`, within its limits;
5. every path that changed on disk is checked with the guard again
   (:func:`selfheal.coder.guard.review_changes`); a violation turns the result into a
   refusal, whatever the backend said, and nothing may be committed or pushed;
6. the target files and the changed files are scanned again (findings after).

``files_changed`` in the result is what changed on disk, not what the backend claims.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from selfheal.coder.guard import (
    Change,
    ChangeKind,
    PathGuard,
    Violation,
    check_on_disk,
    normalise,
    review_changes,
    scrub,
    secret_files,
    snapshot,
)
from selfheal.coder.interface import (
    Coder,
    CoderResult,
    CodeTask,
    LimitReached,
    Limits,
    Outcome,
    RunControl,
)
from selfheal.coder.workspace import Workspace
from selfheal.model.findings import Finding
from selfheal.model.policy import Policy
from selfheal.scanner.engine import ScanOptions, ScanReport, ScanTarget, scan_path, scan_targets
from selfheal.scanner.files import DEFAULT_MAX_FILE_SIZE


@dataclass(frozen=True)
class CodingRun:
    result: CoderResult
    changes: tuple[Change, ...] = ()
    violations: tuple[Violation, ...] = ()
    scrubbed: tuple[str, ...] = ()
    before: ScanReport | None = None
    after: ScanReport | None = None

    def fixed(self) -> list[Finding]:
        """Findings before the run that are gone after it (by fingerprint)."""
        if self.before is None or self.after is None:
            return []
        after = {f.fingerprint for f in self.after.findings}
        return [f for f in self.before.findings if f.fingerprint not in after]

    def introduced(self) -> list[Finding]:
        """Findings after the run that were not there before (by fingerprint)."""
        if self.before is None or self.after is None:
            return []
        before = {f.fingerprint for f in self.before.findings}
        return [f for f in self.after.findings if f.fingerprint not in before]


def target_violations(root: Path, targets: Sequence[str], guard: PathGuard) -> list[Violation]:
    """The targets the guard forbids a coder to write (a folder is checked as a path)."""
    found: list[Violation] = []
    for target in targets:
        violation = guard.write_violation(target)
        if violation is None:
            violation = check_on_disk(root, normalise(target) or "", writing=True, folder_ok=True)
        if violation is not None:
            found.append(violation)
    return found


def _reader(root: Path, max_size: int) -> Callable[[str], str | None]:
    def read(path: str) -> str | None:
        rel = normalise(path)
        if rel is None or check_on_disk(root, rel, writing=False) is not None:
            return None
        try:
            data = (root / rel).read_bytes()
        except OSError:
            return None
        return None if len(data) > max_size else data.decode("utf-8", errors="replace")

    return read


def scan_files(root: Path, paths: Sequence[str] | None, options: ScanOptions) -> ScanReport:
    """The engine's scan of ``paths`` (None: the whole tree, as ``selfheal scan`` does)."""
    if paths is None:
        return scan_path(root, options)
    targets: list[ScanTarget] = []
    for path in dict.fromkeys(paths):
        full = root / path
        try:
            info = os.lstat(full)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and check_on_disk(root, path, writing=False) is None:
            if info.st_size <= options.max_file_size:
                targets.append(ScanTarget(path, full.read_bytes()))
    return scan_targets(
        targets, options, read=_reader(root, options.max_file_size or DEFAULT_MAX_FILE_SIZE)
    )


def _consistent(result: CoderResult, changes: Sequence[Change]) -> CoderResult:
    paths = tuple(change.path for change in changes)
    result = dataclasses.replace(result, files_changed=paths)
    if result.outcome is Outcome.CHANGED and not paths:
        notes = (*result.notes, "the backend reported changes, but nothing changed on disk")
        return dataclasses.replace(result, outcome=Outcome.NOTHING_TO_DO, notes=notes)
    if result.outcome is Outcome.NOTHING_TO_DO and paths:
        notes = (*result.notes, "the backend reported nothing to do, but files changed on disk")
        return dataclasses.replace(result, outcome=Outcome.CHANGED, notes=notes)
    return result


def run_coder(
    coder: Coder,
    root: Path,
    task: CodeTask,
    limits: Limits,
    *,
    policy: Policy,
    defaults: Policy,
    review_approved: bool = False,
    scan_options: ScanOptions | None = None,
    halted: Callable[[], bool] | None = None,
    clock: Callable[[], float] = time.monotonic,
    scan: bool = True,
    disposable: bool = False,
) -> CodingRun:
    """Run ``coder`` on the work tree at ``root`` for ``task``; see the module docstring.

    ``disposable``: the tree is a copy made for this run (the lifecycle's clone), so secret
    files may be deleted from it before a backend that runs as its own process starts. On a
    tree that is not disposable (someone's checkout) such a backend is refused while secret
    files are present, rather than deleting them."""
    root = root.resolve()
    options = scan_options or ScanOptions()
    refusal = coder.refusal(task)
    if refusal is not None:
        return CodingRun(CoderResult.refused(refusal))
    guard = PathGuard(policy, defaults, review_approved=review_approved)
    forbidden = target_violations(root, task.target_paths, guard)
    if forbidden:
        reason = "the guard forbids a target: " + "; ".join(str(v) for v in forbidden)
        return CodingRun(CoderResult.refused(reason), violations=tuple(forbidden))
    control = RunControl(limits, halted=halted, clock=clock)
    scrubbed: list[str] = []
    if coder.own_process:
        if not disposable:
            present = secret_files(root, guard.secrets)
            if present:
                reason = (
                    f"the {coder.name} coder runs as its own process and could read the secret "
                    f"files here ({', '.join(present[:5])}); run it on a disposable copy"
                )
                return CodingRun(CoderResult.refused(reason))
        scrubbed = scrub(root, guard.secrets)
    workspace = Workspace(root, guard)
    files: list[str] | None = None
    if task.target_paths:
        files, _ = workspace.files(task.target_paths)
    before = scan_files(root, files, options) if scan else None
    base = snapshot(root)
    try:
        control.check()
        result = coder.run(workspace, task, control)
    except LimitReached as exc:
        result = CoderResult(
            Outcome.LIMIT_REACHED,
            f"stopped: {exc.detail}",
            cost_usd=control.spent_usd,
            reason=exc.detail,
            limit=exc.limit,
        )
    review = review_changes(root, base, guard)
    result = _consistent(result, review.changes)
    if review.violations:
        reason = "the review after the run found changes the guard forbids: " + "; ".join(
            str(v) for v in review.violations
        )
        result = dataclasses.replace(
            CoderResult.refused(reason, notes=result.notes),
            files_changed=result.files_changed,
            cost_usd=result.cost_usd,
            cost_metered=result.cost_metered,
        )
    after = None
    if scan:
        present = [c.path for c in review.changes if c.kind is not ChangeKind.DELETED]
        after_paths = None if files is None else [*files, *present]
        after = scan_files(root, after_paths, options)
    return CodingRun(
        result,
        review.changes,
        review.violations,
        tuple(scrubbed),
        before,
        after,
    )
