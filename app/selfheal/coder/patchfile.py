"""The patch a runner hands back to the App (the ``actions`` executor's "safe output").

On the runner, after ``selfheal code`` edited the checkout, :func:`collect` writes every file
that differs from ``HEAD`` (changed, added or deleted; ignored files left out) into one JSON
document. The runner uploads it as an artifact; it has no write access to contents. The App
downloads it and :func:`apply` writes it into its own work tree through the guarded
:class:`~selfheal.coder.workspace.Workspace`, so every path passes the path guard before the
runner's work is reviewed again, committed and pushed by the App itself.

``python -m selfheal.coder.patchfile ROOT OUT`` is what the workflow runs.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pygit2

from selfheal.coder.guard import normalise

if TYPE_CHECKING:
    from selfheal.coder.workspace import Workspace

VERSION = 1
MAX_FILES = 2000
CHANGED = (
    pygit2.enums.FileStatus.WT_MODIFIED
    | pygit2.enums.FileStatus.WT_NEW
    | pygit2.enums.FileStatus.WT_DELETED
    | pygit2.enums.FileStatus.INDEX_MODIFIED
    | pygit2.enums.FileStatus.INDEX_NEW
    | pygit2.enums.FileStatus.INDEX_DELETED
)


class PatchError(ValueError):
    """A patch document that is not one, or one the guard refuses; nothing was written."""


def collect(root: Path, summary: str = "") -> bytes:
    """The changes in the checkout at ``root`` against its ``HEAD``, as a patch document."""
    repo = pygit2.Repository(str(root))
    files: dict[str, dict[str, object]] = {}
    for path, flags in sorted(repo.status(untracked_files="all").items()):
        if not flags & CHANGED or flags & pygit2.enums.FileStatus.IGNORED:
            continue
        full = root / path
        if full.is_symlink() or not full.exists():
            files[path] = {"deleted": True}
        else:
            files[path] = {"content_b64": base64.b64encode(full.read_bytes()).decode()}
    doc = {"version": VERSION, "summary": summary, "files": files}
    return json.dumps(doc, sort_keys=True).encode()


def parse(data: bytes) -> tuple[str, dict[str, bytes | None]]:
    """The summary and the files (path -> content, None: deleted) of a patch document."""
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise PatchError("the patch is not JSON") from exc
    if not isinstance(doc, dict) or doc.get("version") != VERSION:
        raise PatchError(f"the patch is not a version {VERSION} selfheal patch")
    summary, files = doc.get("summary", ""), doc.get("files")
    if not isinstance(summary, str) or not isinstance(files, dict) or len(files) > MAX_FILES:
        raise PatchError(f"the patch's summary or files (at most {MAX_FILES}) are malformed")
    out: dict[str, bytes | None] = {}
    for path, entry in files.items():
        if not isinstance(path, str) or normalise(path) != path:
            raise PatchError(f"the patch names a path that is not a clean relative path: {path!r}")
        out[path] = _content(path, entry)
    return summary[:4000], out


def _content(path: str, entry: object) -> bytes | None:
    if isinstance(entry, Mapping) and entry.get("deleted") is True and len(entry) == 1:
        return None
    ok = isinstance(entry, Mapping) and set(entry) == {"content_b64"}
    raw = entry.get("content_b64") if ok and isinstance(entry, Mapping) else None
    if not isinstance(raw, str):
        raise PatchError(f"the patch's entry for {path} is malformed")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PatchError(f"the patch's content for {path} is not base64") from exc


def apply(workspace: Workspace, files: Mapping[str, bytes | None]) -> list[str]:
    """Write ``files`` through the guarded workspace. Every path is checked before anything
    is written, so a patch with one forbidden path changes nothing."""
    for path in files:
        violation = workspace.write_violation(path)
        if violation is not None:
            raise PatchError(f"the patch touches a path the guard forbids: {violation}")
    for path, content in files.items():
        if content is None:
            target = workspace.root / path
            if target.is_file() and not target.is_symlink():
                target.unlink()
        else:
            workspace.write_bytes(path, content)
    return sorted(files)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (2, 3):
        print("usage: python -m selfheal.coder.patchfile ROOT OUT [SUMMARY]", file=sys.stderr)
        return 2
    out = Path(args[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(collect(Path(args[0]), args[2] if len(args) == 3 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
