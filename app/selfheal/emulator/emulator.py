"""The Emulator: one aiohttp server with the REST API, git smart HTTP and webhook sender,
plus the helpers tests use to set the world up (apps, repos, installations, people, faults)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web

from . import (
    events,
    gitdata,
    githttp,
    routes_actions,
    routes_apps,
    routes_checks,
    routes_comments,
    routes_forks,
    routes_git,
    routes_graphql,
    routes_issues,
    routes_labels,
    routes_orgs,
    routes_pulls,
    routes_repos,
    routes_reviews,
    routes_search,
    workflows,
)
from .auth import issue_installation_token, new_token
from .context import EMULATOR_KEY
from .faults import Faults
from .keys import generate_private_key, public_key_of
from .middleware import Exchange, api_middleware
from .people import Person
from .serializers import Render
from .state import App, CheckRun, Installation, Repo, Token, User, World
from .webhooks import Delivery, WebhookSender


class Emulator:
    """A stateful GitHub on 127.0.0.1. Create, ``await start()``, use, ``await stop()``."""

    def __init__(self, root: Path, *, private_key_pem: bytes | None = None) -> None:
        self.root = root
        self.world = World()
        self.faults = Faults()
        self.sender = WebhookSender()
        self.token_lifetime = 3600.0
        self._default_key = private_key_pem
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.render = Render("http://127.0.0.1", self.world.users)
        self.web_app = self._build()
        self.default_permissions: dict[str, str] = {}  # login -> permission on new repos
        self._push_locks: dict[int, asyncio.Lock] = {}
        self.record_exchanges = False
        self.exchanges: list[Exchange] = []
        self.run_states: dict[int, workflows.RunState] = {}  # run id -> inputs, artifacts, logs
        self.artifact_blobs: dict[int, bytes] = {}  # artifact id -> zip
        self.signed_blobs: dict[str, tuple[bytes, str, float]] = {}  # key -> body, type, expiry

    # -- server ----------------------------------------------------------------------------
    def _build(self) -> web.Application:
        app = web.Application(middlewares=[api_middleware(self)], client_max_size=100 * 1024**2)
        app[EMULATOR_KEY] = self
        for module in (
            routes_apps,
            routes_repos,
            routes_forks,
            routes_reviews,
            routes_git,
            routes_issues,
            routes_labels,
            routes_pulls,
            routes_checks,
            routes_comments,
            routes_search,
            routes_actions,
            routes_orgs,
            routes_graphql,
        ):
            module.setup(app.router)
        githttp.setup(app.router)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.web_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None
        sock = server.sockets[0]  # type: ignore[attr-defined]
        self.base_url = f"http://{host}:{sock.getsockname()[1]}"
        self.render = Render(self.base_url, self.world.users)
        await self.sender.start()
        return self.base_url

    async def stop(self) -> None:
        await self.sender.stop()
        if self._runner:
            await self._runner.cleanup()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def push_lock(self, repo: Repo) -> asyncio.Lock:
        return self._push_locks.setdefault(repo.id, asyncio.Lock())

    def routes(self) -> list[tuple[str, str]]:
        """Every (METHOD, path template) of the REST API the emulator implements, with
        GitHub's OpenAPI parameter names (git smart HTTP and control paths excluded)."""
        out: set[tuple[str, str]] = set()
        for route in self.web_app.router.routes():
            path = route.resource.canonical if route.resource else ""
            if route.method in ("HEAD", "*") or ".git" in path or path.startswith("/_emulator"):
                continue
            out.add((route.method, path))
        return sorted(out, key=lambda x: (x[1], x[0]))

    # -- apps and installations ------------------------------------------------------------
    @property
    def app(self) -> App:
        """The first (usually only) App."""
        return next(iter(self.world.apps.values()))

    def create_app(
        self,
        name: str = "selfheal",
        *,
        owner: str = "selfheal-dev",
        webhook_url: str | None = None,
        private_key_pem: bytes | None = None,
        webhook_secret: str | None = None,
    ) -> App:
        pem = private_key_pem or self._default_key or generate_private_key()
        self._default_key = self._default_key or pem
        slug = name.lower().replace(" ", "-")
        app_id = self.world.next_id()
        bot = self.world.user(f"{slug}[bot]", type="Bot")
        bot.email = bot.noreply_email
        app = App(
            id=app_id,
            slug=slug,
            name=name,
            owner=self.world.user(owner),
            bot=bot,
            public_key_pem=public_key_of(pem),
            private_key_pem=pem,
            webhook_secret=webhook_secret or secrets.token_hex(20),
            client_id=f"Iv1.{secrets.token_hex(8)}",
            client_secret=secrets.token_hex(20),
            webhook_url=webhook_url,
            hook_id=self.world.next_id(),
        )
        self.world.apps[app_id] = app
        return app

    def set_webhook_url(self, url: str | None, app: App | None = None) -> None:
        (app or self.app).webhook_url = url

    def app_jwt(self, app: App | None = None, *, lifetime: int = 540, iat_skew: int = 60) -> str:
        app = app or self.app
        now = int(time.time())
        claims = {"iat": now - iat_skew, "exp": now + lifetime, "iss": str(app.id)}
        return jwt.encode(claims, app.private_key_pem, algorithm="RS256")

    def installation_token(self, installation: Installation | None = None) -> str:
        """Mint an installation token directly (tests that do not exercise the JWT flow)."""
        inst = installation or next(iter(self.world.installations.values()))
        return issue_installation_token(self.world, inst, self.token_lifetime).token

    def install(
        self, repos: Iterable[Repo | str], *, app: App | None = None, account: str | None = None
    ) -> Installation:
        app = app or self.app
        names = [r.full_name if isinstance(r, Repo) else r for r in repos]
        owner = account or (names[0].split("/")[0] if names else app.owner.login)
        acct = self.world.user(owner)
        inst = Installation(id=self.world.next_id(), app=app, account=acct, repos=names)
        self.world.installations[inst.id] = inst
        events.installation(self, inst, "created", [self.repo(n) for n in names])
        return inst

    def add_installation_repos(self, inst: Installation, repos: Iterable[Repo]) -> None:
        added = [r for r in repos if r.full_name not in inst.repos]
        inst.repos.extend(r.full_name for r in added)
        events.installation_repositories(self, inst, "added", added)

    def remove_installation_repos(self, inst: Installation, repos: Iterable[Repo]) -> None:
        removed = [r for r in repos if r.full_name in inst.repos]
        inst.repos[:] = [n for n in inst.repos if n not in {r.full_name for r in removed}]
        events.installation_repositories(self, inst, "removed", removed)

    def uninstall(self, inst: Installation) -> None:
        events.installation(self, inst, "deleted", [self.repo(n) for n in inst.repos])
        del self.world.installations[inst.id]

    def register_manifest_code(self, code: str | None = None, **app_fields: Any) -> str:
        """A code for POST /app-manifests/{code}/conversions (the manifest flow)."""
        code = code or secrets.token_hex(10)
        self.world.manifest_codes[code] = dict(app_fields)
        return code

    # -- repositories and people -----------------------------------------------------------
    def repo(self, full_name: str) -> Repo:
        """The repository ``owner/name`` (KeyError if it does not exist)."""
        owner, name = full_name.split("/", 1)
        repo = self.world.repo(owner, name)
        if repo is None:
            raise KeyError(full_name)
        return repo

    def create_repo(
        self,
        full_name: str,
        files: Mapping[str, bytes | str] | None = None,
        *,
        default_branch: str = "main",
        private: bool = True,
        owner_type: str = "Organization",
    ) -> Repo:
        owner_login, name = full_name.split("/", 1)
        owner = self.world.user(owner_login, type=owner_type)
        path = self.root / "git" / owner_login / f"{name}.git"
        path.parent.mkdir(parents=True, exist_ok=True)
        gitdata.init_bare(
            path, default_branch, {"README.md": f"# {name}\n"} if files is None else files
        )
        repo = Repo(
            id=self.world.next_id(),
            owner=owner,
            name=name,
            path=path,
            default_branch=default_branch,
            private=private,
        )
        repo.collaborators.update(self.default_permissions)
        self.world.repos[full_name.lower()] = repo
        return repo

    def add_person(
        self, login: str, permission: str = "write", repos: Iterable[Repo] | None = None
    ) -> Token:
        """A user with ``permission`` on ``repos`` (default: every repo, present and future)
        and a personal token the emulator accepts. Prefer ``person()`` in tests."""
        user = self.world.user(login)
        user.email = user.email or f"{login}@example.invalid"
        for repo in self.world.repos.values() if repos is None else repos:
            repo.collaborators[login] = permission
        if repos is None:
            self.default_permissions[login] = permission
        token = Token(token=new_token("ghp"), expires_at=None, user=user)
        self.world.tokens[token.token] = token
        return token

    def person(
        self, login: str, permission: str = "write", repos: Iterable[Repo] | None = None
    ) -> Person:
        """A person acting through the REST API and git with their own token."""
        return Person(self, self.add_person(login, permission, repos))

    def add_team(self, org: str, slug: str, members: Mapping[str, str]) -> None:
        """A team ``org/slug`` with ``members`` (login -> "member" or "maintainer")."""
        self.world.teams[f"{org}/{slug}".lower()] = {k.lower(): v for k, v in members.items()}

    def require_checks(self, repo: Repo, branch: str, names: Iterable[str]) -> None:
        """Branch protection: ``names`` must have succeeded on a PR's head before merge."""
        repo.required_checks[branch] = list(names)

    # -- webhooks --------------------------------------------------------------------------
    @property
    def deliveries(self) -> list[Delivery]:
        return self.sender.deliveries

    def replay(self, delivery: Delivery) -> Delivery:
        return self.sender.replay(delivery)

    async def drain(self, timeout: float = 30.0) -> None:
        await self.sender.drain(timeout)

    # -- convenience actions ---------------------------------------------------------------
    def click_check_run_action(self, person: User, run: CheckRun, identifier: str) -> None:
        events.requested_action(self, person, run, identifier)

    def complete_workflow_run(
        self,
        repo: Repo,
        *,
        head_sha: str,
        head_branch: str,
        conclusion: str = "success",
        name: str = "CI",
        jobs: Iterable[str] = ("test",),
        actor: User | None = None,
        annotations: Mapping[str, list[dict[str, Any]]] | None = None,
        artifacts: Mapping[str, Mapping[str, bytes | str]] | None = None,
        logs: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Simulate a GitHub Actions run finishing: workflow_job completed per job, then
        workflow_run completed. Returns the workflow_run object sent. ``annotations``: job
        name -> the check-run annotations of that job (a test reporter's failing tests);
        ``artifacts``: name -> files the run uploaded (a JUnit report, say); ``logs``: job
        name -> its log."""
        return workflows.workflow_completed(
            self,
            repo,
            head_sha,
            head_branch,
            conclusion,
            name,
            list(jobs),
            actor or repo.owner,
            annotations,
            artifacts,
            logs,
        )

    def workflow_run(self, repo: Repo, run_id: int) -> dict[str, Any]:
        """The run ``run_id`` of ``repo`` as the REST API serves it (KeyError if none)."""
        return repo.workflow_runs[run_id]

    def dispatched_runs(self, repo: Repo, path: str | None = None) -> list[dict[str, Any]]:
        """The runs ``workflow_dispatch`` started on ``repo`` (of the workflow file ``path``,
        e.g. ``.github/workflows/selfheal-code.yml``), oldest first."""
        return [
            run
            for run in repo.workflow_runs.values()
            if run["event"] == "workflow_dispatch" and (path is None or run["path"] == path)
        ]

    def run_inputs(self, run_id: int) -> dict[str, Any]:
        """The inputs a dispatched run was given (declared defaults filled in)."""
        return dict(self.run_states[run_id].inputs)

    def start_workflow_run(
        self, repo: Repo, run_id: int, jobs: Iterable[str] = ("code",)
    ) -> list[dict[str, Any]]:
        """A runner picks a queued run up: workflow_job queued and in_progress for each job,
        then workflow_run in_progress. Returns the jobs."""
        return workflows.start(self, repo, repo.workflow_runs[run_id], list(jobs))

    def upload_artifact(
        self, repo: Repo, run_id: int, name: str, files: Mapping[str, bytes | str]
    ) -> dict[str, Any]:
        """Stand in for actions/upload-artifact (the Actions runtime, not REST): ``files``
        zipped as the artifact ``name`` of the running run ``run_id``."""
        return workflows.upload_artifact(self, repo, repo.workflow_runs[run_id], name, files)

    def expire_artifact(self, repo: Repo, artifact_id: int) -> None:
        """The artifact's retention ran out: listed as expired, its download is 410."""
        workflows.find_artifact(self, repo, artifact_id)["expired"] = True

    def finish_workflow_run(
        self,
        repo: Repo,
        run_id: int,
        conclusion: str = "success",
        logs: Mapping[str, str] | None = None,
    ) -> bool:
        """A started run ends: workflow_job completed per unfinished job (``logs``: job name ->
        its log text), then workflow_run completed. False when it was already over (a cancel
        got there first)."""
        return workflows.finish(self, repo, repo.workflow_runs[run_id], conclusion, logs or {})

    def refs_changed(
        self, repo: Repo, before: dict[str, str], after: dict[str, str], sender: User
    ) -> None:
        events.refs_changed(self, repo, before, after, sender)
