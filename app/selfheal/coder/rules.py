"""The ``rules`` backend: deterministic fixes, no model, no cost.

* ``security`` requests: the autofixes of our semgrep rules (:mod:`selfheal.coder.autofix`)
  and dependency bumps (:mod:`selfheal.coder.depbump`), in the target paths;
* ``dependency`` requests: dependency bumps only;
* any other request type, and a task whose findings have no mechanical fix, is refused with
  the reason.

The request's description is never read: a deterministic coder has no use for free text,
and untrusted text that nothing reads cannot steer anything. With ``findings`` (a task from a
scan), only those findings are worked on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from selfheal.coder.autofix import (
    MAX_ROUNDS,
    Fix,
    FixReport,
    apply_fixes,
    digest,
    fixable_targets,
    plan_file,
    semgrep_fixes,
    still_compiles,
)
from selfheal.coder.depbump import BumpPlan, plan_bumps
from selfheal.coder.guard import GuardError
from selfheal.coder.interface import BackendOptions, CoderResult, CodeTask, Outcome, RunControl
from selfheal.coder.workspace import Workspace
from selfheal.model.findings import Finding, Source
from selfheal.scanner import ScannerError
from selfheal.scanner.advisories import AdvisoryDataError, AdvisoryDB
from selfheal.scanner.depfiles import is_dependency_file
from selfheal.scanner.deps import RULE_ID as VULNERABLE_RULE

AUTOFIX, DEPENDENCIES = "autofix", "dependencies"
STEPS: dict[str, tuple[str, ...]] = {
    "security": (AUTOFIX, DEPENDENCIES),
    "dependency": (DEPENDENCIES,),
}
MAX_NOTES = 50


@dataclass
class _Work:
    fixes: FixReport = field(default_factory=FixReport)
    bumps: BumpPlan = field(default_factory=BumpPlan)
    notes: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)


def _wanted(findings: Sequence[Finding]) -> tuple[set[tuple[str, str, int]], set[tuple[str, str]]]:
    """From a task's findings: semgrep ones as (rule, path, line), vulnerable dependencies as
    (path, package)."""
    code = {(f.rule_id, f.path, f.line) for f in findings if f.source is Source.SEMGREP}
    deps = {
        (f.path, str(f.properties.get("package", "")))
        for f in findings
        if f.rule_id == VULNERABLE_RULE
    }
    return code, deps


def _refusal(task: CodeTask) -> str:
    kinds = ", ".join(sorted(STEPS))
    return (
        f"the rules coder only makes deterministic changes (semgrep autofixes and dependency "
        f"bumps, for {kinds} requests); a {task.change_type!r} request needs a model-backed "
        "coder"
    )


def _group_fixes(
    fixes: Sequence[Fix],
    contents: Mapping[str, bytes],
    wanted: set[tuple[str, str, int]] | None,
    deferred: set[tuple[str, str]] | None,
) -> dict[str, list[Fix]]:
    """This round's fixes by file: on the first round the task's findings only (all of them
    when it names none); on a later round only the fixes deferred by an overlap."""
    by_file: dict[str, list[Fix]] = {}
    for fix in fixes:
        if fix.path not in contents:
            continue
        if deferred is None and wanted is not None:
            if (fix.rule_id, fix.path, fix.line) not in wanted:
                continue
        elif deferred is not None and (fix.path, fix.rule_id) not in deferred:
            continue
        by_file.setdefault(fix.path, []).append(fix)
    return by_file


class RulesCoder:
    name = "rules"
    needs_model_key = False
    own_process = False

    def __init__(self, options: BackendOptions) -> None:
        self.options = options

    def refusal(self, task: CodeTask) -> str | None:
        if task.change_type not in STEPS:
            return _refusal(task)
        wanted_code, wanted_deps = _wanted(task.findings)
        if task.findings and not (wanted_code or wanted_deps):
            return (
                "none of the task's findings is a semgrep or dependency finding, so none has "
                "a mechanical fix"
            )
        return None

    def run(self, workspace: Workspace, task: CodeTask, control: RunControl) -> CoderResult:
        reason = self.refusal(task)
        if reason is not None:
            return CoderResult.refused(reason)
        steps = STEPS[task.change_type]
        wanted_code, wanted_deps = _wanted(task.findings)
        control.check()
        files, notes = workspace.files(task.target_paths)
        if task.target_paths and not files:
            return CoderResult.refused(
                "none of the targets is a file the coder can work on", notes=tuple(notes)
            )
        work = _Work(notes=notes)
        try:
            if AUTOFIX in steps and (not task.findings or wanted_code):
                self._autofix(workspace, files, wanted_code or None, control, work)
            if DEPENDENCIES in steps and (not task.findings or wanted_deps):
                self._bump(workspace, files, wanted_deps or None, control, work)
        except (ScannerError, AdvisoryDataError) as exc:
            return CoderResult.refused(f"cannot check the files: {exc}", notes=tuple(work.notes))
        except GuardError as exc:
            return CoderResult.refused(f"the guard refused a write: {exc}", notes=tuple(work.notes))
        return self._result(task, files, work)

    # -- autofixes ---------------------------------------------------------------------------

    def _autofix(
        self,
        ws: Workspace,
        files: Sequence[str],
        wanted: set[tuple[str, str, int]] | None,
        control: RunControl,
        work: _Work,
    ) -> None:
        pending: list[str] = []
        for path in fixable_targets(files):
            violation = ws.write_violation(path)
            if violation is None:
                pending.append(path)
        deferred: set[tuple[str, str]] | None = None
        for _ in range(MAX_ROUNDS):
            if not pending:
                return
            control.check()
            contents = {path: ws.read_bytes(path) for path in pending}
            fixes, errors = semgrep_fixes(ws.root, pending, self.options.scan, control.remaining())
            work.fixes.errors += errors
            by_file = _group_fixes(fixes, contents, wanted, deferred)
            pending, deferred = [], set()
            for path, file_fixes in sorted(by_file.items()):
                later = self._fix_file(ws, path, contents[path], file_fixes, work)
                if later:
                    pending.append(path)
                    deferred |= {(fix.path, fix.rule_id) for fix in later}

    def _fix_file(
        self, ws: Workspace, path: str, data: bytes, fixes: list[Fix], work: _Work
    ) -> list[Fix]:
        chosen, later = plan_file(data, fixes)
        if not chosen:
            return later
        if digest(ws.read_bytes(path)) != digest(data):
            work.fixes.failed += [(f, "the file changed while semgrep read it") for f in chosen]
            return []
        fixed = apply_fixes(data, chosen)
        if not still_compiles(path, data, fixed):
            work.fixes.failed += [(f, "the fixed file would not compile") for f in chosen]
            return []
        ws.write_bytes(path, fixed)
        work.fixes.applied += chosen
        if path not in work.changed:
            work.changed.append(path)
        return later

    # -- dependencies ------------------------------------------------------------------------

    def _bump(
        self,
        ws: Workspace,
        files: Sequence[str],
        wanted: set[tuple[str, str]] | None,
        control: RunControl,
        work: _Work,
    ) -> None:
        dep_files = [path for path in files if is_dependency_file(path)]
        if not dep_files:
            return
        control.check()
        refused = {}
        for path in dep_files:
            violation = ws.write_violation(path)
            if violation is not None:
                refused[path] = violation.reason
        db = AdvisoryDB.load(self.options.scan.advisories)

        def read(path: str) -> str | None:
            try:
                return ws.read_text(path)
            except (GuardError, OSError, UnicodeDecodeError):
                return None

        plan = plan_bumps(dep_files, read, db, refused=refused, only=wanted)
        for path, text in sorted(plan.texts.items()):
            control.check()
            ws.write_text(path, text)
            if path not in work.changed:
                work.changed.append(path)
        work.bumps = plan

    # -- the result --------------------------------------------------------------------------

    def _result(self, task: CodeTask, files: Sequence[str], work: _Work) -> CoderResult:
        notes = list(work.notes)
        notes += [
            f"{fix.path}:{fix.line}: {fix.rule_id}: fix not applied: {why}"
            for fix, why in work.fixes.failed
        ]
        notes += [str(skip) for skip in work.bumps.skips]
        notes += work.bumps.notes
        notes += [f"semgrep: {error}" for error in work.fixes.errors]
        shown = tuple(notes[:MAX_NOTES]) + (
            (f"... and {len(notes) - MAX_NOTES} more notes",) if len(notes) > MAX_NOTES else ()
        )
        if work.changed:
            return CoderResult(
                Outcome.CHANGED,
                _summary(work),
                files_changed=tuple(sorted(work.changed)),
                cost_usd=0.0,
                cost_metered=True,
                notes=shown,
            )
        cannot = bool(work.fixes.failed or [s for s in work.bumps.skips if s.package])
        if task.findings or cannot:
            what = "the task's findings" if task.findings else "what the scan found"
            return CoderResult.refused(f"none of {what} can be fixed mechanically", notes=shown)
        return CoderResult.nothing_to_do(
            f"no autofix applies and no dependency is vulnerable in {_count(len(files), 'file')}",
            notes=shown,
        )


def _count(n: int, noun: str, plural: str = "") -> str:
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def _rules(fixes: Iterable[Fix]) -> str:
    counts: dict[str, int] = {}
    for fix in fixes:
        counts[fix.rule_id] = counts.get(fix.rule_id, 0) + 1
    return ", ".join(f"{rule} x{n}" if n > 1 else rule for rule, n in sorted(counts.items()))


def _summary(work: _Work) -> str:
    parts: list[str] = []
    if work.fixes.applied:
        parts.append(
            f"applied {_count(len(work.fixes.applied), 'autofix', 'autofixes')} in "
            f"{_count(len(work.fixes.files), 'file')} ({_rules(work.fixes.applied)})"
        )
    if work.bumps.bumps:
        bumped = sorted({f"{b.package} {b.declared} -> {b.new}" for b in work.bumps.bumps})
        parts.append(
            f"bumped {_count(len(work.bumps.bumps), 'dependency declaration')} in "
            f"{_count(len(work.bumps.texts), 'file')} ({'; '.join(bumped)})"
        )
    return "; ".join(parts)
