"""Git content of emulated repositories, read and written with pygit2 on real bare repositories.

The REST API reads refs, commits and trees from here on every request, so whatever a
``git push`` over smart HTTP changed is what the API reports, and refs created through the API
are what ``git fetch`` sees.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2

PULL_REFS = "refs/pull/"  # read-only refs GitHub keeps in the base repository of each PR
STATUS_NAMES = {"A": "added", "D": "removed", "M": "modified", "R": "renamed", "T": "changed"}


@dataclass(frozen=True)
class FileChange:
    filename: str
    status: str
    additions: int
    deletions: int
    patch: str
    sha: str | None
    previous_filename: str | None = None


def _signature(name: str, email: str, when: float | None = None) -> pygit2.Signature:
    return pygit2.Signature(name, email, int(when if when is not None else time.time()), 0)


def init_bare(path: Path, default_branch: str, files: Mapping[str, bytes | str]) -> str | None:
    """Create a bare repository; commit ``files`` (if any) on ``default_branch``."""
    repo = pygit2.init_repository(str(path), bare=True, initial_head=default_branch)
    if not files:
        return None
    tree = write_files(repo, files)
    sig = _signature("GitHub Emulator", "noreply@github.invalid")
    oid = repo.create_commit(f"refs/heads/{default_branch}", sig, sig, "Initial commit", tree, [])
    return str(oid)


def write_files(
    repo: pygit2.Repository,
    files: Mapping[str, bytes | str | None],
    base: pygit2.Tree | None = None,
) -> pygit2.Oid:
    """A new tree: ``base`` (default: empty) with ``files`` written (None deletes a path)."""
    index = pygit2.Index()
    if base is not None:
        index.read_tree(base)
    for name, content in files.items():
        if content is None:
            index.remove(name)
            continue
        data = content.encode() if isinstance(content, str) else content
        index.add(pygit2.IndexEntry(name, repo.create_blob(data), pygit2.enums.FileMode.BLOB))
    return index.write_tree(repo)


def open_repo(path: Path) -> pygit2.Repository:
    return pygit2.Repository(str(path))


def copy_repo(source: Path, path: Path, default_branch: str, *, only_default: bool) -> None:
    """A new bare repository at ``path`` holding the branches (all, or only the default
    branch) and tags of ``source``, as a fork starts. PR refs are not copied."""
    repo = pygit2.init_repository(str(path), bare=True, initial_head=default_branch)
    heads = f"refs/heads/{default_branch}" if only_default else "refs/heads/*"
    specs = [f"+{heads}:{heads}"] + ([] if only_default else ["+refs/tags/*:refs/tags/*"])
    repo.remotes.create_anonymous(str(source)).fetch(specs)


def import_commit(repo: pygit2.Repository, source: Path, sha: str) -> None:
    """Copy commit ``sha`` and everything it reaches from the repository at ``source`` into
    ``repo`` (a local fetch by object id; no ref is created)."""
    if lookup(repo, sha) is None:
        repo.remotes.create_anonymous(str(source)).fetch([sha])


def pull_head_ref(number: int) -> str:
    return f"{PULL_REFS}{number}/head"


def remove_repo(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def refs(repo: pygit2.Repository) -> dict[str, str]:
    """All refs under refs/heads and refs/tags, name -> target sha (tags peeled to objects)."""
    out: dict[str, str] = {}
    for name in repo.references:
        if not name.startswith(("refs/heads/", "refs/tags/")):
            continue
        ref = repo.references[name]
        if ref.type == pygit2.enums.ReferenceType.DIRECT:
            out[name] = str(ref.target)
    return out


def resolve(repo: pygit2.Repository, ref: str) -> pygit2.Commit | None:
    """A branch name, tag, full ref name or (abbreviated) sha -> commit, or None."""
    for name in (ref, f"refs/heads/{ref}", f"refs/tags/{ref}"):
        if name.startswith("refs/") and name in repo.references:
            target = repo.references[name].peel(pygit2.Commit)
            return target if isinstance(target, pygit2.Commit) else None
    try:
        obj = repo.revparse_single(ref)
    except (KeyError, ValueError, pygit2.GitError):
        return None
    try:
        peeled = obj.peel(pygit2.Commit)
    except (pygit2.GitError, ValueError):
        return None
    return peeled if isinstance(peeled, pygit2.Commit) else None


def lookup(repo: pygit2.Repository, sha: str) -> pygit2.Object | None:
    try:
        return repo[sha]
    except (KeyError, ValueError):
        return None


def entry_at(repo: pygit2.Repository, commit: pygit2.Commit, path: str) -> pygit2.Object | None:
    """The blob or tree at ``path`` in ``commit`` ('' = root tree)."""
    path = path.strip("/")
    if not path:
        return commit.tree
    try:
        entry = commit.tree[path]
    except KeyError:
        return None
    return repo[entry.id]


def create_tree(
    repo: pygit2.Repository, base_tree: str | None, entries: list[Mapping[str, Any]]
) -> str:
    """POST /git/trees semantics: entries with path/mode/type and sha or content (sha None =
    delete), applied over ``base_tree``."""
    index = pygit2.Index()
    if base_tree:
        tree = repo[base_tree]
        assert isinstance(tree, pygit2.Tree)
        index.read_tree(tree)
    for entry in entries:
        path = str(entry["path"]).strip("/")
        if "content" in entry and entry["content"] is not None:
            oid = repo.create_blob(str(entry["content"]).encode())
        elif entry.get("sha") is None:
            if path in index:
                index.remove(path)
            else:
                index.remove_directory(path)
            continue
        else:
            oid = pygit2.Oid(hex=str(entry["sha"]))
        if entry.get("type") == "tree":
            for stale in [e.path for e in index if e.path.startswith(path + "/")]:
                index.remove(stale)
            sub = repo[oid]
            assert isinstance(sub, pygit2.Tree)
            for item in _walk(repo, sub, path):
                index.add(item)
            continue
        mode = pygit2.enums.FileMode(int(str(entry.get("mode", "100644")), 8))
        index.add(pygit2.IndexEntry(path, oid, mode))
    return str(index.write_tree(repo))


def _walk(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str) -> list[pygit2.IndexEntry]:
    out: list[pygit2.IndexEntry] = []
    for entry in tree:
        path = f"{prefix}/{entry.name}"
        obj = repo[entry.id]
        if isinstance(obj, pygit2.Tree):
            out.extend(_walk(repo, obj, path))
        else:
            out.append(pygit2.IndexEntry(path, entry.id, entry.filemode))
    return out


def create_commit(
    repo: pygit2.Repository,
    message: str,
    tree: str,
    parents: list[str],
    author: Mapping[str, Any],
    committer: Mapping[str, Any] | None = None,
) -> str:
    a = _signature(str(author["name"]), str(author["email"]))
    c = _signature(str((committer or author)["name"]), str((committer or author)["email"]))
    oid = repo.create_commit(
        None, a, c, message, pygit2.Oid(hex=tree), [pygit2.Oid(hex=p) for p in parents]
    )
    return str(oid)


def set_ref(repo: pygit2.Repository, name: str, sha: str) -> None:
    repo.references.create(name, pygit2.Oid(hex=sha), force=True)


def delete_ref(repo: pygit2.Repository, name: str) -> None:
    repo.references.delete(name)


def is_ancestor(repo: pygit2.Repository, ancestor: str, descendant: str) -> bool:
    if ancestor == descendant:
        return True
    return bool(repo.descendant_of(pygit2.Oid(hex=descendant), pygit2.Oid(hex=ancestor)))


def merge_base(repo: pygit2.Repository, a: str, b: str) -> str | None:
    oid = repo.merge_base(pygit2.Oid(hex=a), pygit2.Oid(hex=b))
    return str(oid) if oid else None


def commits_between(repo: pygit2.Repository, base: str, head: str) -> list[pygit2.Commit]:
    """Commits reachable from head and not from base, oldest first."""
    walker = repo.walk(pygit2.Oid(hex=head), pygit2.enums.SortMode.TOPOLOGICAL)
    walker.hide(pygit2.Oid(hex=base))
    return list(reversed(list(walker)))


def diff_files(repo: pygit2.Repository, base: str, head: str) -> list[FileChange]:
    a, b = repo[base], repo[head]
    assert isinstance(a, pygit2.Commit) and isinstance(b, pygit2.Commit)
    diff = repo.diff(a.tree, b.tree)
    diff.find_similar()
    out: list[FileChange] = []
    for patch in diff:
        delta = patch.delta
        _, adds, dels = patch.line_stats
        text = patch.text or ""
        hunk_at = text.find("@@")
        status = STATUS_NAMES.get(delta.status_char(), "modified")
        removed = status == "removed"
        out.append(
            FileChange(
                filename=delta.new_file.path if not removed else delta.old_file.path,
                status=status,
                additions=adds,
                deletions=dels,
                patch=text[hunk_at:] if hunk_at >= 0 else "",
                sha=str(delta.new_file.id) if not removed else None,
                previous_filename=delta.old_file.path if status == "renamed" else None,
            )
        )
    return out


def mergeable(repo: pygit2.Repository, base: str, head: str) -> bool:
    index = repo.merge_commits(pygit2.Oid(hex=base), pygit2.Oid(hex=head))
    return index.conflicts is None


def merge(
    repo: pygit2.Repository,
    base: str,
    head: str,
    method: str,
    message: str,
    author: Mapping[str, Any],
) -> str | None:
    """Merge ``head`` into ``base`` (merge | squash | rebase); the new base sha or None on
    conflict. Does not move any ref."""
    if method == "rebase":
        return head if is_ancestor(repo, base, head) else None
    index = repo.merge_commits(pygit2.Oid(hex=base), pygit2.Oid(hex=head))
    if index.conflicts is not None:
        return None
    tree = str(index.write_tree(repo))
    parents = [base, head] if method == "merge" else [base]
    return create_commit(repo, message, tree, parents, author)
