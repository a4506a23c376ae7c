"""The scan pipeline every caller uses: the ``scan`` CLI, the reviewer, the PR gate, the coder.

Two entry points share one core:

* :func:`scan_targets` scans in-memory contents (the reviewer's diff); semgrep needs files, so
  the contents are written to a private temporary directory first;
* :func:`scan_path` scans a tree on disk, optionally only the files and lines changed since a
  git ref.

The core runs semgrep (in a worker thread, overlapping the Python scanners), the secret
detector and the dependency advisories, keeps only findings on changed lines when a target
has ``changed_lines``, masks secrets in other scanners' snippets, applies the baseline and
sorts. A scanner that fails never raises out of here: its error lands in
:attr:`ScanReport.errors`, and callers that gate must fail closed when that list is non-empty.
"""

from __future__ import annotations

import tempfile
from collections.abc import Collection, Sequence
from pathlib import Path, PurePosixPath

from selfheal.scanner.files import (
    REASON_EXCLUDED,
    FileText,
    matches_any,
    read_text,
    text_of_bytes,
    walk_tree,
)
from selfheal.scanner.gitdiff import changed_lines_since
from selfheal.scanner.pipeline import (
    ALL_SCANNERS,
    CVE_SOURCES,
    Reader,
    ScanOptions,
    ScanReport,
    ScanTarget,
    Work,
    run,
)
from selfheal.scanner.progress import Progress

__all__ = [
    "ALL_SCANNERS",
    "CVE_SOURCES",
    "ScanOptions",
    "ScanReport",
    "ScanTarget",
    "safe_relative_path",
    "scan_path",
    "scan_targets",
]

# --- helpers ---------------------------------------------------------------------------


def safe_relative_path(path: str) -> str | None:
    """A normalised POSIX relative path, or None if it is absolute or climbs out (``..``)."""
    if not path or "\x00" in path or "\\" in path:
        return None
    pure = PurePosixPath(path)
    if pure.is_absolute() or any(part in ("..", "") for part in pure.parts):
        return None
    parts = [p for p in pure.parts if p != "."]
    return "/".join(parts) if parts else None


def _disk_reader(root: Path, max_size: int) -> Reader:
    """Read a root-relative path for the dependency scanner (``-r`` includes), safely."""
    real_root = root.resolve()

    def read(path: str) -> str | None:
        rel = safe_relative_path(path)
        if rel is None:
            return None
        full = (root / rel).resolve()
        if full != real_root and real_root not in full.parents:
            return None
        text = read_text(full, max_size)
        return None if isinstance(text, str) else text.text

    return read


# --- public functions ------------------------------------------------------------------


def scan_targets(
    targets: Sequence[ScanTarget], options: ScanOptions, *, read: Reader | None = None
) -> ScanReport:
    """Scan in-memory file contents (e.g. the new side of a diff).

    ``read`` supplies other files of the same tree (requirements ``-r`` includes) that are not
    among the targets. Unsafe paths, binary and oversized contents are skipped, not scanned.
    ``options.exclude`` applies; vendored paths are NOT skipped here (whatever a change adds
    is checked, wherever it is), so ``include_vendored`` has no effect on targets.
    """
    report = ScanReport([], [], [], 0, "")
    contents: dict[str, bytes] = {}
    changed: dict[str, frozenset[int]] = {}
    for target in targets:
        rel = safe_relative_path(target.path)
        if rel is None:
            report.skipped.append((target.path, "unsafe path (absolute or outside the tree)"))
            continue
        if options.exclude and matches_any(rel, options.exclude):
            report.skipped.append((rel, REASON_EXCLUDED))
            continue
        contents[rel] = target.content
        if target.changed_lines is not None:
            changed[rel] = target.changed_lines

    def text_of(path: str) -> FileText | str:
        return text_of_bytes(contents[path], options.max_file_size)

    def read_any(path: str) -> str | None:
        rel = safe_relative_path(path)
        if rel is not None and rel in contents:
            text = text_of(rel)
            return None if isinstance(text, str) else text.text
        return read(path) if read is not None else None

    with tempfile.TemporaryDirectory(prefix="selfheal-scan-") as tmp:
        root = Path(tmp)
        paths: list[str] = []
        for rel, data in sorted(contents.items()):
            try:
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_bytes(data)
            except OSError as exc:
                report.skipped.append((rel, f"cannot materialise: {exc.strerror}"))
                continue
            paths.append(rel)
        work = Work(root, paths, changed, text_of, read_any, report)
        return run(work, options, Progress(False))


def scan_path(
    root: Path, options: ScanOptions, *, base: str | None = None, progress: bool = False
) -> ScanReport:
    """Scan a tree on disk; with ``base``, only files and lines changed since that git ref.

    Raises :class:`selfheal.scanner.ScanInputError` when ``base`` is given but is not a ref
    of the repository that contains ``root`` (a usage error, not a scanner failure).
    """
    report = ScanReport([], [], [], 0, "")
    single: str | None = None
    if root.is_file():  # a single file: scan it as the only entry of its directory
        single, root = root.name, root.parent
    changed: dict[str, frozenset[int]] = {}
    only: Collection[str] | None = None if single is None else [single]
    if base is not None:
        changed = changed_lines_since(root, base)
        if single is not None:
            changed = {p: lines for p, lines in changed.items() if p == single}
        only = list(changed)
    walked = walk_tree(
        root, exclude=options.exclude, include_vendored=options.include_vendored, only=only
    )
    report.skipped.extend(walked.skipped)

    def text_of(path: str) -> FileText | str:
        return read_text(root / path, options.max_file_size)

    work = Work(
        root, walked.files, changed, text_of, _disk_reader(root, options.max_file_size), report
    )
    return run(work, options, Progress(progress))
