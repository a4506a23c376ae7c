"""The one path guard every coder's edits pass, before and after the coder runs.

Writes are refused for a path that

* is not a relative path inside the work tree (absolute, ``..``, empty parts, NUL, ``\\``);
* lies in git's own folder (``.git``: hooks and config run code);
* is one of the files the reviewer always treats as sensitive: a GitHub Actions workflow
  (``.github/workflows/``), the selfheal policy (``.github/selfheal.policy``) or a
  CODEOWNERS file (``selfheal.reviewer.rules.SENSITIVE_PATTERNS``);
* is ``protected`` under the policy, or ``review`` when the caller has not said that an owner
  approved;
* goes through a symbolic link on disk (any component, the last one too), or is not a
  regular file.

Reads are refused for paths outside the tree or in ``.git``, through symbolic links, and for
the secret files the default policy names (:class:`SecretFiles`); protected code may be read.

Case: every name check also runs on the folded path (``.GitHub/Workflows/x.yml``,
``.ENV``), since a checkout on a case-insensitive file system treats them as the same file.

:func:`scrub` removes the secret files (and links that leave the tree or point at a secret)
from a work tree handed to a coder that runs as its own process. :func:`snapshot` and
:func:`review_changes` re-check, after the coder ran, every path that changed on disk,
including ones created behind the guard's back (a rename, a link, a mode change).

The checks on a path string are pure; :func:`check_on_disk`, :func:`scrub` and
:func:`snapshot` do the file-system I/O.
"""

from __future__ import annotations

import enum
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from selfheal.model.codeowners import compile_pattern, fold_path, fold_pattern
from selfheal.model.policy import Level, Policy
from selfheal.reviewer.rules import SENSITIVE_PATTERNS
from selfheal.scanner.engine import safe_relative_path

GIT_DIR = ".git"
# Inside .git, what the review watches: the files that make git run code or change how it
# reads the tree. Objects, refs and the index change whenever git itself runs.
GIT_WATCHED = frozenset({"config", "hooks", "info"})
_SENSITIVE = [
    (matcher, what)
    for raw, what in SENSITIVE_PATTERNS.items()
    for matcher in (compile_pattern(raw), fold_pattern(compile_pattern(raw)))
]


class ViolationKind(enum.StrEnum):
    OUTSIDE = "outside"  # not a relative path inside the work tree
    GIT = "git"  # git's own folder
    SENSITIVE = "sensitive"  # a workflow, the policy file, CODEOWNERS
    PROTECTED = "protected"  # protected by the policy
    REVIEW = "review"  # review level without an owner's approval
    SECRET = "secret"  # noqa: S105 (a violation kind: a secret file the default policy names)
    SYMLINK = "symlink"  # a symbolic link on the way, or at the end
    SPECIAL = "special"  # a directory, FIFO, device ... where a file was expected


@dataclass(frozen=True, slots=True)
class Violation:
    path: str
    kind: ViolationKind
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class GuardError(Exception):
    """An operation the guard refused; carries the :class:`Violation`."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(str(violation))
        self.violation = violation


def _matches_anywhere(pattern: str) -> bool:
    """True for a pattern that names a file wherever it is (``.env``, ``*.pem``,
    ``**/.aws/credentials``), as opposed to one place in the tree (``/.github/workflows/``)."""
    compiled = compile_pattern(pattern)
    return not compiled.anchored or compiled.segments[0] is None


class SecretFiles:
    """The secret files of the default policy: a path is secret when the default policy's
    deciding line for it is ``protected`` and names files wherever they are (the environment
    files, credential files and keys), rather than one place in the tree (workflows,
    CODEOWNERS, the policy file), which are protected code a coder may read. A later
    ``review`` line wins as usual, so committed templates such as ``.env.example`` stay
    readable."""

    def __init__(self, defaults: Policy) -> None:
        self.defaults = defaults

    def is_secret(self, path: str) -> bool:
        found = self.defaults.match(path)
        return (
            found is not None
            and found.level is Level.PROTECTED
            and _matches_anywhere(found.pattern)
        )

    def pattern_for(self, path: str) -> str:
        found = self.defaults.match(path)
        return found.pattern if found is not None else ""


def normalise(path: str) -> str | None:
    """A clean work-tree-relative POSIX path, or None for anything that could leave the tree."""
    return safe_relative_path(path) if isinstance(path, str) else None


def _in_git_dir(rel: str) -> bool:
    return any(part.rstrip(" .").lower() == GIT_DIR for part in rel.split("/"))


def _sensitive(rel: str) -> str | None:
    folded = fold_path(rel)
    for matcher, what in _SENSITIVE:
        if matcher.match(rel) or matcher.match(folded):
            return what
    return None


class PathGuard:
    """Decides which work-tree paths a coder may write and read.

    ``policy`` is the effective policy (the defaults with the repository's file on top);
    ``defaults`` the shipped defaults, from which the secret files are derived.
    ``review_approved`` says an owner approved the request, which opens ``review`` paths.
    """

    def __init__(self, policy: Policy, defaults: Policy, *, review_approved: bool = False) -> None:
        self.policy = policy
        self.secrets = SecretFiles(defaults)
        self.review_approved = review_approved

    # -- pure checks on the path string -------------------------------------------------------

    def write_violation(self, path: str) -> Violation | None:
        rel = normalise(path)
        if rel is None:
            return Violation(
                path, ViolationKind.OUTSIDE, "not a relative path inside the work tree"
            )
        if _in_git_dir(rel):
            return Violation(rel, ViolationKind.GIT, "git's own folder is never changed by a coder")
        what = _sensitive(rel)
        if what is not None:
            return Violation(rel, ViolationKind.SENSITIVE, f"{what} is never changed by a coder")
        found = self.policy.match(rel)
        level = found.level if found is not None else Level.OPEN
        where = f" ({found.location} `{found.pattern}`)" if found is not None else ""
        if level is Level.PROTECTED:
            return Violation(rel, ViolationKind.PROTECTED, f"protected by the policy{where}")
        if level is Level.REVIEW and not self.review_approved:
            return Violation(
                rel, ViolationKind.REVIEW, f"review level{where}: needs an owner's approval first"
            )
        return None

    def read_violation(self, path: str) -> Violation | None:
        rel = normalise(path)
        if rel is None:
            return Violation(
                path, ViolationKind.OUTSIDE, "not a relative path inside the work tree"
            )
        if _in_git_dir(rel):
            return Violation(rel, ViolationKind.GIT, "git's own folder is not readable by a coder")
        if self.secrets.is_secret(rel):
            pattern = self.secrets.pattern_for(rel)
            return Violation(
                rel, ViolationKind.SECRET, f"a secret file (`{pattern}` in the default policy)"
            )
        return None

    # -- with the file system ------------------------------------------------------------------

    def check_write(self, root: Path, path: str) -> Violation | None:
        found = self.write_violation(path)
        if found is not None:
            return found
        return check_on_disk(root, normalise(path) or "", writing=True)

    def check_read(self, root: Path, path: str) -> Violation | None:
        found = self.read_violation(path)
        if found is not None:
            return found
        return check_on_disk(root, normalise(path) or "", writing=False)


def check_on_disk(
    root: Path, rel: str, *, writing: bool, folder_ok: bool = False
) -> Violation | None:
    """No component of ``root/rel`` is a symbolic link, and what exists at the end is a
    regular file (or a folder, with ``folder_ok``); a missing file is fine: it may be
    created."""
    current = root
    parts = rel.split("/")
    for index, part in enumerate(parts):
        current = current / part
        shown = "/".join(parts[: index + 1])
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            return None
        except OSError as exc:
            return Violation(rel, ViolationKind.SPECIAL, f"cannot inspect {shown}: {exc.strerror}")
        if stat.S_ISLNK(info.st_mode):
            return Violation(rel, ViolationKind.SYMLINK, f"{shown} is a symbolic link")
        last = index == len(parts) - 1
        if not last and not stat.S_ISDIR(info.st_mode):
            return Violation(rel, ViolationKind.SPECIAL, f"{shown} is not a folder")
        if last and folder_ok and stat.S_ISDIR(info.st_mode):
            return None
        if last and not stat.S_ISREG(info.st_mode):
            what = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            verb = "written" if writing else "read"
            return Violation(rel, ViolationKind.SPECIAL, f"is {what}, so it is not {verb}")
    return None


# -- scrubbing ---------------------------------------------------------------------------------


def _walk(root: Path) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Every entry under ``root`` (links not followed), skipping git's own folder."""
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            if not prefix and entry.name == GIT_DIR:
                continue
            yield rel, entry
            if entry.is_dir(follow_symlinks=False):
                stack.append((Path(entry.path), f"{rel}/"))


def _link_escapes(root: Path, link: Path, secrets: SecretFiles) -> bool:
    """A link whose target is outside ``root``, or is a secret file inside it."""
    try:
        target = link.resolve()
    except (OSError, RuntimeError):  # a loop
        return True
    if target != root and root not in target.parents:
        return True
    return secrets.is_secret(target.relative_to(root).as_posix())


def _leaks(root: Path, secrets: SecretFiles) -> Iterator[tuple[str, Path]]:
    for rel, entry in list(_walk(root)):
        path = Path(entry.path)
        if entry.is_symlink():
            if secrets.is_secret(rel) or _link_escapes(root, path, secrets):
                yield rel, path
        elif entry.is_file(follow_symlinks=False) and secrets.is_secret(rel):
            yield rel, path


def secret_files(root: Path, secrets: SecretFiles) -> list[str]:
    """What :func:`scrub` would remove, without removing it."""
    return sorted(rel for rel, _ in _leaks(root.resolve(), secrets))


def scrub(root: Path, secrets: SecretFiles) -> list[str]:
    """Remove from the work tree every secret file, and every symbolic link that leaves the
    tree or points at a secret file. Returns the removed paths (sorted). For a coder that runs
    as its own process, which the guarded workspace cannot stop from reading."""
    removed: list[str] = []
    for rel, path in list(_leaks(root.resolve(), secrets)):
        path.unlink()
        removed.append(rel)
    return sorted(removed)


# -- the review after a run --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """What the review compares: kind, mode, size and times (ctime cannot be set back by a
    process, so a rewrite that restores the mtime still shows), and a link's target."""

    kind: str  # "file", "link", "other"
    mode: int
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    target: str = ""


Snapshot = Mapping[str, Entry]


def _entry(path: Path, info: os.stat_result) -> Entry:
    if stat.S_ISLNK(info.st_mode):
        kind, target = "link", os.readlink(path)
    else:
        kind, target = ("file" if stat.S_ISREG(info.st_mode) else "other"), ""
    return Entry(
        kind,
        stat.S_IMODE(info.st_mode),
        info.st_size,
        info.st_mtime_ns,
        info.st_ctime_ns,
        info.st_ino,
        target,
    )


def snapshot(root: Path) -> dict[str, Entry]:
    """Every file, link and special file under ``root`` (not folders), plus git's hooks,
    config and info files, or the ``.git`` file of a linked work tree."""
    root = root.resolve()
    found: dict[str, Entry] = {}
    for rel, entry in _walk(root):
        if not entry.is_dir(follow_symlinks=False):
            found[rel] = _entry(Path(entry.path), entry.stat(follow_symlinks=False))
    git = root / GIT_DIR
    try:
        info = os.lstat(git)
    except OSError:
        return found
    if not stat.S_ISDIR(info.st_mode):
        found[GIT_DIR] = _entry(git, info)
        return found
    for name in GIT_WATCHED:
        watched = git / name
        try:
            here = os.lstat(watched)
        except OSError:
            continue
        if not stat.S_ISDIR(here.st_mode):
            found[f"{GIT_DIR}/{name}"] = _entry(watched, here)
            continue
        for rel, entry in _walk(watched):
            if not entry.is_dir(follow_symlinks=False):
                found[f"{GIT_DIR}/{name}/{rel}"] = _entry(
                    Path(entry.path), entry.stat(follow_symlinks=False)
                )
    return found


class ChangeKind(enum.StrEnum):
    ADDED = "added"
    DELETED = "deleted"
    MODIFIED = "modified"


@dataclass(frozen=True, slots=True)
class Change:
    path: str
    kind: ChangeKind
    entry: Entry | None  # after the run (None when deleted)


def diff_snapshots(before: Snapshot, after: Snapshot) -> list[Change]:
    """Every path whose entry appeared, disappeared or differs, sorted by path."""
    changes: list[Change] = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old is None:
            changes.append(Change(path, ChangeKind.ADDED, new))
        elif new is None:
            changes.append(Change(path, ChangeKind.DELETED, None))
        elif old != new:
            changes.append(Change(path, ChangeKind.MODIFIED, new))
    return changes


def change_violations(changes: list[Change], guard: PathGuard) -> list[Violation]:
    """The guard's verdict on each change (pure): the path must be writable, and what is
    there now must be a regular file (or nothing)."""
    found: list[Violation] = []
    for change in changes:
        violation = guard.write_violation(change.path)
        if violation is None and change.entry is not None and change.entry.kind != "file":
            if change.entry.kind == "link":
                violation = Violation(
                    change.path,
                    ViolationKind.SYMLINK,
                    f"the coder made a symbolic link (to {change.entry.target!r})",
                )
            else:
                violation = Violation(
                    change.path, ViolationKind.SPECIAL, "the coder made something not a file"
                )
        if violation is not None:
            found.append(
                Violation(violation.path, violation.kind, f"{change.kind}: {violation.reason}")
            )
    return found


@dataclass(frozen=True, slots=True)
class Review:
    changes: tuple[Change, ...]
    violations: tuple[Violation, ...]

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(change.path for change in self.changes)


def review_changes(root: Path, base: Snapshot, guard: PathGuard) -> Review:
    """Compare the work tree with ``base`` (a :func:`snapshot` from before the run) and check
    every changed path with the guard."""
    changes = diff_snapshots(base, snapshot(root))
    return Review(tuple(changes), tuple(change_violations(changes, guard)))
