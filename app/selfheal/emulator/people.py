"""Acting as people: a Person calls the emulator's REST API and git smart HTTP with their own
personal token, exactly as the app would, so scenarios read like user stories::

    alice = github.person("alice", permission="write")
    issue = await alice.open_issue(repo, "Crash on save", labels=["selfheal:request"])
    sha = await alice.push(repo, "feature", {"app.py": "print('hi')\\n"})

A pull request from a fork (``mallory`` needs no permission on a public ``repo``)::

    fork = await mallory.fork(repo)
    await mallory.push(fork, "patch", {"app.py": "print('pwned')\\n"})
    pr = await mallory.open_pr(repo, f"{fork.owner.login}:patch", "Tidy up")
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import pygit2

from . import gitdata
from .state import CheckRun, Repo, Token, User

if TYPE_CHECKING:
    from .emulator import Emulator


class PersonError(Exception):
    """A non-2xx answer to a person's request (status and GitHub's error body)."""

    def __init__(self, status: int, data: Any) -> None:
        super().__init__(f"HTTP {status}: {data}")
        self.status = status
        self.data = data


@dataclass
class Person:
    emulator: Emulator
    credentials: Token

    @property
    def user(self) -> User:
        return self.credentials.user

    @property
    def login(self) -> str:
        return self.user.login

    @property
    def token(self) -> str:
        return self.credentials.token

    # -- raw API ---------------------------------------------------------------------------
    async def api(self, method: str, path: str, data: Any = None) -> tuple[int, Any]:
        """One REST call; returns (status, decoded JSON or None)."""
        headers = {
            "Authorization": f"token {self.token}",
            "Accept": "application/vnd.github+json",
            "User-Agent": f"person/{self.login}",
        }
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, self.emulator.base_url + path, json=data, headers=headers
            ) as resp,
        ):
            payload = await resp.json() if resp.content_type == "application/json" else None
            return resp.status, payload

    async def call(self, method: str, path: str, data: Any = None) -> Any:
        status, payload = await self.api(method, path, data)
        if status >= 300:
            raise PersonError(status, payload)
        return payload

    # -- issues ----------------------------------------------------------------------------
    async def open_issue(
        self, repo: Repo, title: str, body: str | None = None, labels: list[str] | None = None
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"title": title, "body": body}
        if labels:
            data["labels"] = labels
        result: dict[str, Any] = await self.call("POST", f"/repos/{repo.full_name}/issues", data)
        return result

    async def add_labels(self, repo: Repo, number: int, *labels: str) -> list[dict[str, Any]]:
        path = f"/repos/{repo.full_name}/issues/{number}/labels"
        result: list[dict[str, Any]] = await self.call("POST", path, {"labels": list(labels)})
        return result

    async def remove_label(self, repo: Repo, number: int, label: str) -> None:
        name = urllib.parse.quote(label, safe="")  # a label may hold "/" (selfheal:state/x)
        await self.call("DELETE", f"/repos/{repo.full_name}/issues/{number}/labels/{name}")

    async def comment(self, repo: Repo, number: int, body: str) -> dict[str, Any]:
        path = f"/repos/{repo.full_name}/issues/{number}/comments"
        result: dict[str, Any] = await self.call("POST", path, {"body": body})
        return result

    async def close(self, repo: Repo, number: int, reason: str = "completed") -> dict[str, Any]:
        path = f"/repos/{repo.full_name}/issues/{number}"
        result: dict[str, Any] = await self.call(
            "PATCH", path, {"state": "closed", "state_reason": reason}
        )
        return result

    async def react(self, repo: Repo, number: int, content: str = "+1") -> dict[str, Any]:
        path = f"/repos/{repo.full_name}/issues/{number}/reactions"
        result: dict[str, Any] = await self.call("POST", path, {"content": content})
        return result

    # -- pull requests ---------------------------------------------------------------------
    async def open_pr(
        self,
        repo: Repo,
        head: str,
        title: str,
        body: str | None = None,
        *,
        base: str | None = None,
        draft: bool = False,
        head_repo: str | None = None,
    ) -> dict[str, Any]:
        """``head`` is a branch of ``repo`` or ``owner:branch`` of a fork (``head_repo`` names
        the fork when its owner has several in the network)."""
        data: dict[str, Any] = {
            "head": head,
            "base": base or repo.default_branch,
            "title": title,
            "body": body,
            "draft": draft,
        }
        if head_repo is not None:
            data["head_repo"] = head_repo
        result: dict[str, Any] = await self.call("POST", f"/repos/{repo.full_name}/pulls", data)
        return result

    async def merge(self, repo: Repo, number: int, method: str = "merge") -> dict[str, Any]:
        path = f"/repos/{repo.full_name}/pulls/{number}/merge"
        result: dict[str, Any] = await self.call("PUT", path, {"merge_method": method})
        return result

    async def review(
        self, repo: Repo, number: int, event: str = "APPROVE", body: str | None = None
    ) -> dict[str, Any]:
        """Submit a review (APPROVE, REQUEST_CHANGES or COMMENT) on pull request ``number``."""
        path = f"/repos/{repo.full_name}/pulls/{number}/reviews"
        result: dict[str, Any] = await self.call("POST", path, {"event": event, "body": body})
        return result

    async def click_check_run_action(self, run: CheckRun | int, identifier: str) -> None:
        """Press a check run's action button: sends check_run.requested_action to its app."""
        run_id = run if isinstance(run, int) else run.id
        for repo in self.emulator.world.repos.values():
            if run_id in repo.check_runs:
                self.emulator.click_check_run_action(self.user, repo.check_runs[run_id], identifier)
                return
        raise KeyError(run_id)

    # -- repositories ----------------------------------------------------------------------
    async def fork(
        self,
        repo: Repo,
        *,
        organization: str | None = None,
        name: str | None = None,
        default_branch_only: bool = False,
    ) -> Repo:
        """Fork ``repo`` into this person's account (or ``organization``) through the API;
        returns the fork, which ``push`` and ``open_pr`` accept like any repository."""
        data: dict[str, Any] = {"default_branch_only": default_branch_only}
        if organization is not None:
            data["organization"] = organization
        if name is not None:
            data["name"] = name
        result = await self.call("POST", f"/repos/{repo.full_name}/forks", data)
        return self.emulator.repo(str(result["full_name"]))

    async def delete_repo(self, repo: Repo) -> None:
        await self.call("DELETE", f"/repos/{repo.full_name}")

    # -- git -------------------------------------------------------------------------------
    def clone_url(self, repo: Repo) -> str:
        return f"{self.emulator.base_url}/{repo.full_name}.git"

    async def push(
        self,
        repo: Repo,
        branch: str,
        files: Mapping[str, str | bytes | None],
        message: str = "Update files",
        *,
        base: str | None = None,
        force: bool = False,
    ) -> str:
        """Commit ``files`` (None deletes a path) on ``branch`` (started from ``base`` or the
        default branch when new) and push it over smart HTTP with pygit2. Returns the sha.
        Raises pygit2.GitError when the server refuses the push."""
        workdir = self.emulator.root / "people" / self.login / uuid.uuid4().hex
        return await asyncio.to_thread(
            _push_sync,
            self.clone_url(repo),
            self.login,
            self.token,
            str(workdir),
            branch,
            base or repo.default_branch,
            dict(files),
            message,
            self.user,
            force,
        )

    async def fetch(self, repo: Repo, ref: str) -> str:
        """Fetch ``ref`` (e.g. ``refs/pull/1/head``) from ``repo``'s clone URL with pygit2 into
        a new scratch repository; returns the fetched commit's sha. Raises pygit2.GitError
        when the fetch fails, KeyError when the server has no such ref."""
        workdir = self.emulator.root / "people" / self.login / uuid.uuid4().hex
        return await asyncio.to_thread(
            _fetch_sync, self.clone_url(repo), self.login, self.token, str(workdir), ref
        )


class _Callbacks(pygit2.RemoteCallbacks):
    """Credentials, and a refused ref update (e.g. a hidden ref) raised as pygit2.GitError:
    pygit2 would otherwise report success."""

    def push_update_reference(self, refname: str, message: str | None) -> None:
        if message is not None:
            raise pygit2.GitError(f"{refname}: {message}")


def _callbacks(login: str, token: str) -> _Callbacks:
    return _Callbacks(credentials=pygit2.UserPass(login, token))


def _fetch_sync(url: str, login: str, token: str, workdir: str, ref: str) -> str:
    repo = pygit2.init_repository(workdir, bare=True)
    target = "refs/fetched/head"
    remote = repo.remotes.create_anonymous(url)
    remote.fetch([f"+{ref}:{target}"], callbacks=_callbacks(login, token))
    if target not in repo.references:
        raise KeyError(ref)
    commit = repo.references[target].peel(pygit2.Commit)
    return str(commit.id)


def _push_sync(
    url: str,
    login: str,
    token: str,
    workdir: str,
    branch: str,
    base: str,
    files: dict[str, str | bytes | None],
    message: str,
    user: User,
    force: bool,
) -> str:
    callbacks = _callbacks(login, token)
    repo = pygit2.clone_repository(url, workdir, bare=True, callbacks=callbacks)
    remote = f"refs/remotes/origin/{branch}"
    start_ref = remote if remote in repo.references else f"refs/remotes/origin/{base}"
    start = repo.references[start_ref].peel(pygit2.Commit)
    tree = gitdata.write_files(repo, files, start.tree)
    sig = pygit2.Signature(
        user.name or login, user.email or f"{login}@example.invalid", int(time.time()), 0
    )
    oid = repo.create_commit(None, sig, sig, message, tree, [start.id])
    repo.references.create(f"refs/heads/{branch}", oid, force=True)
    spec = f"{'+' if force else ''}refs/heads/{branch}:refs/heads/{branch}"
    repo.remotes["origin"].push([spec], callbacks=callbacks)
    return str(oid)
