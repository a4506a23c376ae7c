"""CI failures as failure events (pure): which runs count, and their failing tests.

A ``workflow_run``, ``workflow_job`` or ``check_run`` counts when it completed with
``failure`` (``timed_out`` too when the repository's config says so) on the default branch
or a configured branch, and never on the bot's own ``selfheal/`` branches; ``cancelled``,
``skipped``, ``neutral``, ``stale`` and ``action_required`` never count. Its failing tests
come from check-run annotations or a JUnit XML report; a job with neither is one failure of
the job itself. Every event carries the run's identity (run id and attempt), so a run seen
through several webhooks counts once.

JUnit XML is read with the standard library's expat parser after refusing any document type
declaration (no entities, so no entity expansion and no external fetches), within a size cap.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

BOT_BRANCH_PREFIX = "selfheal/"
MAX_JUNIT_BYTES = 16 * 1024 * 1024
MAX_FAILURES = 200  # events from one report or one job
NEVER = frozenset({"cancelled", "skipped", "neutral", "stale", "action_required", "success"})


class JUnitError(ValueError):
    """The report is not JUnit XML selfheal reads."""


def counts(
    conclusion: str | None,
    branch: str | None,
    default_branch: str | None,
    *,
    branches: Sequence[str] = (),
    count_timed_out: bool = False,
) -> bool:
    """Whether a completed run with ``conclusion`` on ``branch`` is a counted failure."""
    if not branch or branch.startswith(BOT_BRANCH_PREFIX):
        return False
    if branch != default_branch and branch not in branches:
        return False
    if conclusion == "failure":
        return True
    return conclusion == "timed_out" and count_timed_out


def run_key(run_id: Any, attempt: Any) -> str:
    return f"{run_id}.{attempt or 1}"


@dataclass(frozen=True)
class TestFailure:
    test_id: str
    error_type: str
    message: str
    stack_trace: str
    file: str | None


def _test_id(case: ET.Element) -> str:
    classname = (case.get("classname") or "").strip()
    name = (case.get("name") or "").strip()
    file = (case.get("file") or "").strip()
    if file and name:
        # pytest's node id shape: path::Class::name
        klass = classname.rsplit(".", 1)[-1] if classname else ""
        return "::".join(p for p in (file, klass if klass[:1].isupper() else "", name) if p)
    return ".".join(p for p in (classname, name) if p) or "unnamed test"


def parse_junit(data: bytes | str) -> list[TestFailure]:
    """The failed and errored test cases of a JUnit XML report."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_JUNIT_BYTES:
        raise JUnitError(f"the report is larger than {MAX_JUNIT_BYTES // (1024 * 1024)} MiB")
    if b"<!DOCTYPE" in raw.upper() or b"<!ENTITY" in raw.upper():
        raise JUnitError("the report has a document type declaration, which JUnit never needs")
    try:
        root = ET.fromstring(raw)  # noqa: S314 (no DTD, so no entities; expat's limits apply)
    except ET.ParseError as exc:
        raise JUnitError(f"not well-formed XML: {exc}") from None
    if root.tag not in ("testsuites", "testsuite"):
        raise JUnitError(f"the root element is <{root.tag[:40]}>, not <testsuites> or <testsuite>")
    out: list[TestFailure] = []
    for case in root.iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is None:
            continue
        out.append(TestFailure(
            test_id=_test_id(case)[:512],
            error_type=(problem.get("type") or problem.tag.capitalize())[:200],
            message=(problem.get("message") or "")[:8_192],
            stack_trace=(problem.text or "")[-65_536:],
            file=case.get("file"),
        ))  # fmt: skip
        if len(out) >= MAX_FAILURES:
            break
    return out


def junit_events(
    failures: Iterable[TestFailure],
    *,
    run: str | None,
    commit: str | None = None,
    repository: str | None = None,
) -> list[dict[str, Any]]:
    """Failure events (the API's shape) for the failing tests of one run."""
    events = []
    for f in failures:
        event: dict[str, Any] = {
            "source": "test", "test_id": f.test_id, "error_type": f.error_type,
            "message": f.message, "stack_trace": f.stack_trace, "severity": "medium",
        }  # fmt: skip
        if f.file:
            event["affected_files"] = [f.file]
        for key, value in (("run_id", run), ("commit", commit), ("repository", repository)):
            if value:
                event[key] = value
        events.append(event)
    return events


def annotation_events(
    annotations: Iterable[Mapping[str, Any]],
    *,
    run: str,
    commit: str | None,
    repository: str,
) -> list[dict[str, Any]]:
    """Failure events for a check run's ``failure`` annotations (one per failing test)."""
    events: list[dict[str, Any]] = []
    for a in annotations:
        if a.get("annotation_level") != "failure":
            continue
        path = str(a.get("path") or "").strip()
        title = str(a.get("title") or "").strip()
        event: dict[str, Any] = {
            "source": "test", "test_id": (title or path or "unnamed test")[:512],
            "message": str(a.get("message") or "")[:8_192],
            "stack_trace": str(a.get("raw_details") or "")[-65_536:], "run_id": run,
            "repository": repository, "severity": "medium",
        }  # fmt: skip
        if path and path != ".github":
            event["affected_files"] = [path]
        if commit:
            event["commit"] = commit
        events.append(event)
        if len(events) >= MAX_FAILURES:
            break
    return events


def job_event(
    job: Mapping[str, Any], *, workflow: str, run: str, commit: str | None, repository: str,
    log_tail: str = "",
) -> dict[str, Any]:  # fmt: skip
    """One failure for a failed job with no failing tests to name: the job and its failed
    steps (and the tail of its log, when the caller fetched one)."""
    steps = [str(s.get("name")) for s in job.get("steps") or []
             if s.get("conclusion") in ("failure", "timed_out")]  # fmt: skip
    event: dict[str, Any] = {
        "source": "ci", "test_id": f"{workflow}/{job.get('name') or 'job'}"[:512],
        "error_type": "JobFailed",
        "message": "failed steps: " + (", ".join(steps) or "(none named)"),
        "run_id": run, "repository": repository, "severity": "medium",
    }  # fmt: skip
    if log_tail:
        event["stack_trace"] = log_tail[-65_536:]
    if commit:
        event["commit"] = commit
    return event


def junit_reports(blob: bytes, limit: int) -> list[bytes]:
    """The ``.xml`` files of an artifact's zip archive, at most ``limit`` of them, each no
    larger than a JUnit report may be (pure: bytes in, bytes out; a broken archive has none)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(blob))
    except (zipfile.BadZipFile, ValueError):
        return []
    out: list[bytes] = []
    with archive:
        for info in archive.infolist():
            if len(out) >= limit:
                break
            if info.is_dir() or not info.filename.lower().endswith(".xml"):
                continue
            if info.file_size > MAX_JUNIT_BYTES:
                continue  # declared too large: never inflated
            try:
                with archive.open(info) as member:
                    data = member.read(MAX_JUNIT_BYTES + 1)
            except (zipfile.BadZipFile, OSError, RuntimeError):
                continue
            if len(data) <= MAX_JUNIT_BYTES:
                out.append(data)
    return out


def tail(text: str, lines: int = 60) -> str:
    """The last ``lines`` lines of a log, each without the runner's timestamp prefix."""
    kept = text.splitlines()[-lines:]
    return "\n".join(line.split(" ", 1)[1] if line[:4].isdigit() and " " in line else line
                     for line in kept)  # fmt: skip
