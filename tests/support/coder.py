"""Work trees for the coder tests: real files, committed with pygit2 (no git subprocess)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pygit2

SIGNATURE = pygit2.Signature("Test Person", "test@example.com", 1_700_000_000, 0)

VULNERABLE_CODE = """\
import subprocess

import requests
import yaml


def read_config(text):
    return yaml.load(text)


def fetch(url):
    return requests.get(url, verify=False, timeout=5)


def housekeeping():
    subprocess.run(["git", "gc", "--prune=now"], shell=True, check=True)


def session_without_checks(session):
    session.verify = False
    return session
"""

FIXED_CODE = """\
import subprocess

import requests
import yaml


def read_config(text):
    return yaml.safe_load(text)


def fetch(url):
    return requests.get(url, timeout=5)


def housekeeping():
    subprocess.run(["git", "gc", "--prune=now"], check=True)


def session_without_checks(session):
    session.verify = False
    return session
"""


def write_tree(root: Path, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def make_worktree(root: Path, files: Mapping[str, str]) -> pygit2.Repository:
    """A repository at ``root`` on branch main whose first commit holds ``files`` (a
    ``.gitignore`` among them applies)."""
    root.mkdir(parents=True, exist_ok=True)
    repo = pygit2.init_repository(str(root), bare=False, initial_head="main")
    write_tree(root, files)
    repo.index.add_all()
    repo.index.write()
    tree = repo.index.write_tree()
    repo.create_commit("HEAD", SIGNATURE, SIGNATURE, "initial", tree, [])
    return repo


def committed_files(repo: pygit2.Repository, rev: str = "HEAD") -> dict[str, bytes]:
    """Path -> content of every blob in ``rev``'s tree."""
    found: dict[str, bytes] = {}

    def walk(tree: pygit2.Tree, prefix: str) -> None:
        for entry in tree:
            path = f"{prefix}{entry.name}"
            obj = repo[entry.id]
            if isinstance(obj, pygit2.Tree):
                walk(obj, path + "/")
            else:
                found[path] = obj.read_raw()

    walk(repo.revparse_single(rev).peel(pygit2.Commit).tree, "")
    return found
