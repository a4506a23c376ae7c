"""``POST /api/code/security/scan``: scan files of a repository, at a branch or a commit.

The files come out of the repository's git objects (its cache clone, fetched with the
installation token), never from the server's file system, so nothing of the server's own can
be scanned, and a path that would leave the repository is refused (422) before anything is
read. A directory scans the files under it; the scan is bounded in files and bytes. The
answer is the scanner's JSON report (``docs/scanning.md``) plus the repository, the ref and
the commit that was scanned.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2

from selfheal.api import errors
from selfheal.git.clones import GitOpsError, branch_refspec, fetch
from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import split
from selfheal.report import Report
from selfheal.report.jsonfmt import report_object
from selfheal.scanner.engine import safe_relative_path, scan_targets
from selfheal.scanner.pipeline import ScanOptions, ScanTarget

MAX_FILES = 2000
MAX_BYTES = 32 * 1024 * 1024
SHA = re.compile(r"[0-9a-f]{40}")
WHOLE_TREE = "."


def confine(raw: str) -> str:
    """The path relative to the repository's root ('.' for all of it); 422 when it is
    absolute, climbs out, or names git's own directory (pure)."""
    text = raw.strip().rstrip("/") or WHOLE_TREE
    if text == WHOLE_TREE:
        return text
    rel = safe_relative_path(text)
    if rel is None or ".git" in rel.split("/"):
        raise errors.invalid("file_paths", f"{raw[:100]!r} is not a path inside the repository")
    return rel


@dataclass(frozen=True)
class Source:
    repository: str
    ref: str
    commit: str
    cache: Path


def _walk(tree: pygit2.Tree, prefix: str) -> Iterator[tuple[str, pygit2.Blob]]:
    for entry in tree:
        path = f"{prefix}{entry.name}"
        if entry.type_str == "tree":
            yield from _walk(entry, f"{path}/")  # type: ignore[arg-type]
        elif entry.type_str == "blob" and entry.filemode != pygit2.GIT_FILEMODE_LINK:
            yield path, entry  # type: ignore[misc]


def _wanted(path: str, asked: Sequence[str]) -> bool:
    return any(a == WHOLE_TREE or path == a or path.startswith(a + "/") for a in asked)


def collect(source: Source, asked: Sequence[str]) -> tuple[list[ScanTarget], list[str]]:
    """The asked files at the commit, and the asked paths that matched nothing."""
    repo = pygit2.Repository(str(source.cache))
    commit = repo.get(source.commit)
    if not isinstance(commit, pygit2.Commit):
        raise errors.invalid("ref", f"{source.ref!r} is not a commit")
    targets: list[ScanTarget] = []
    total = 0
    for path, blob in _walk(commit.tree, ""):
        if not _wanted(path, asked):
            continue
        total += blob.size
        if len(targets) >= MAX_FILES or total > MAX_BYTES:
            limit = f"{MAX_FILES} files or {MAX_BYTES // (1024 * 1024)} MiB"
            raise errors.invalid("file_paths", f"more than {limit}: scan less at once")
        targets.append(ScanTarget(path, blob.data))
    found = {t.path for t in targets}
    unmatched = [a for a in asked if a != WHOLE_TREE
                 and not any(p == a or p.startswith(a + "/") for p in found)]  # fmt: skip
    return targets, unmatched


async def locate(gh: GitHubAPI, data_dir: Path, repository: str, ref: str | None) -> Source:
    """Fetch the branch (default: the repository's default branch), or the default branch
    for a commit SHA, into the cache clone; 422 when the ref is not there."""
    owner, name = split(repository)
    info = await gh.call("repos.get", owner=owner, repo=name)
    default = str(info["default_branch"])
    wanted = ref or default
    branch = default if SHA.fullmatch(wanted) else wanted
    token = (await gh.credential.get())[1] if gh.credential is not None else None
    try:
        cache = await fetch(data_dir, repository, str(info["clone_url"]),
                            [branch_refspec(branch)], token)  # fmt: skip
    except GitOpsError:
        raise errors.invalid("ref", f"{wanted!r} cannot be fetched from {repository}") from None
    git = pygit2.Repository(str(cache))
    if SHA.fullmatch(wanted):
        commit = wanted if isinstance(git.get(wanted), pygit2.Commit) else None
    else:
        found = git.references.get(f"refs/remotes/origin/{branch}")
        commit = None if found is None else str(found.target)
    if commit is None:
        raise errors.invalid("ref", f"{wanted!r} is not a branch or a commit of {repository}")
    return Source(repository, wanted, commit, cache)


def run_scan(source: Source, asked: Sequence[str], engine: str | None) -> dict[str, Any]:
    targets, unmatched = collect(source, asked)
    contents = {t.path: t.content for t in targets}

    def read(path: str) -> str | None:
        data = contents.get(path)
        return None if data is None else data.decode("utf-8", errors="replace")

    report = scan_targets(targets, ScanOptions(semgrep_engine=engine), read=read)
    skipped = [*report.skipped, *((a, "no such path at this ref") for a in unmatched)]
    meta = {"files_scanned": str(report.files_scanned), "advisories": report.advisories}
    rendered = report_object(Report(report.findings, None, skipped, report.errors, meta))
    return {**rendered, "repository": source.repository, "ref": source.ref,
            "commit": source.commit}  # fmt: skip


async def scan(
    gh: GitHubAPI, data_dir: Path, repository: str, body: dict[str, Any], engine: str | None
) -> dict[str, Any]:
    asked = list(dict.fromkeys(confine(str(p)) for p in body["file_paths"]))
    source = await locate(gh, data_dir, repository, body.get("ref"))
    return await asyncio.to_thread(run_scan, source, asked, engine)
