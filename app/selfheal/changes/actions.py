"""The ``actions`` executor: a request coded on the repository's own Actions runners.

Instead of coding in the App's worker, the executor dispatches the repository's
``selfheal-code.yml`` (``workflow_dispatch`` with the request id, type, targets and text as
inputs), follows the run, and takes back the patch the run uploaded as an artifact (the
"safe output": the runner needs no write access to contents). The patch is written into the
App's own work tree through the path guard, then reviewed, committed and pushed by the App
exactly as any other backend's work (docs/actions.md).

The run is followed through its ``workflow_run`` and ``workflow_job`` webhooks: the
handlers here record each status in the ledger (:mod:`selfheal.ledger.action_runs`) and the
executor reads it there; the REST API is asked once at the start, when the webhooks say the
run completed, and every ``rest_seconds`` in case a delivery was lost.

It is a coder backend like the others (:class:`ActionsCoder`), so the runner's guard,
review and scrubbing apply unchanged. Its GitHub calls are async and the coder runs in a
worker thread: :class:`Bridge` carries each call to the server's event loop. A halt of the
repository, or the run's wall clock, cancels the dispatched run through the API; nothing
is applied or pushed after that. A run that fails, is cancelled or times out on GitHub's
side fails the request with the conclusion and the tail of the failed job's log.
"""

from __future__ import annotations

import asyncio
import io
import math
import time
import zipfile
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import gidgethub
from gidgethub import routing
from gidgethub.sansio import Event

from selfheal.coder.interface import (
    BackendFactory,
    BackendOptions,
    CoderResult,
    CodeTask,
    Limit,
    LimitReached,
    Outcome,
    RunControl,
)
from selfheal.coder.patchfile import PatchError, apply, parse
from selfheal.github.protocol import GitHubAPI
from selfheal.github.repo import split
from selfheal.halt import is_halted
from selfheal.ledger import action_runs
from selfheal.runtime.context import JobContext

if TYPE_CHECKING:
    from selfheal.coder.workspace import Workspace

T = TypeVar("T")
WORKFLOW = "selfheal-code.yml"
ARTIFACT = "selfheal-patch"
PATCH_FILE = "selfheal-patch.json"
MAX_ARTIFACT_BYTES = 20_000_000
MAX_LOG_BYTES = 200_000
LOG_TAIL = 1500
MAX_TASK_INPUT = 20_000
KNOWN_KEYS = frozenset({"workflow", "backend", "poll_seconds", "find_seconds", "rest_seconds"})
TIMINGS = (("poll_seconds", 1.0), ("find_seconds", 30.0), ("rest_seconds", 30.0))

router = routing.Router()


def _object(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``data[key]`` when it is a JSON object, else an empty one (a payload is untrusted)."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


@router.register("workflow_run")
async def on_workflow_run(event: Event, ctx: JobContext) -> None:
    """Record a dispatched run's status (other runs are the monitor's business)."""
    run, repository = _object(event.data, "workflow_run"), _object(event.data, "repository")
    repo = str(repository.get("full_name") or "")
    run_id, status = run.get("id"), run.get("status")
    if run.get("event") != "workflow_dispatch" or not isinstance(run_id, int) or not repo:
        return
    if not isinstance(status, str):
        return
    conclusion = run.get("conclusion") if isinstance(run.get("conclusion"), str) else None
    path = str(run.get("path") or "")
    await ctx.ledger.awrite(
        lambda c: action_runs.record_run(c, run_id, repo, path, status, conclusion)
    )


@router.register("workflow_job")
async def on_workflow_job(event: Event, ctx: JobContext) -> None:
    """Record a job of a recorded run."""
    job = _object(event.data, "workflow_job")
    run_id, name, status = job.get("run_id"), job.get("name"), job.get("status")
    if not isinstance(run_id, int) or not isinstance(name, str) or not isinstance(status, str):
        return
    conclusion = job.get("conclusion") if isinstance(job.get("conclusion"), str) else None
    await ctx.ledger.awrite(lambda c: action_runs.record_job(c, run_id, name, status, conclusion))


@dataclass(frozen=True, slots=True)
class ActionsConfig:
    """The operator's options for an agent that codes on Actions: the workflow file, the
    backend the runner uses, how often the run is polled."""

    workflow: str = WORKFLOW
    backend: str = "rules"
    poll_seconds: float = 1.0
    find_seconds: float = 30.0
    rest_seconds: float = 30.0

    @classmethod
    def from_mapping(cls, options: Mapping[str, object]) -> ActionsConfig:
        unknown = sorted(set(options) - KNOWN_KEYS)
        if unknown:
            raise ValueError(f"actions executor: unknown option(s): {', '.join(unknown)}")
        workflow = options.get("workflow", WORKFLOW)
        backend = options.get("backend", "rules")
        if not isinstance(workflow, str) or "/" in workflow or not workflow.endswith(".yml"):
            raise ValueError("actions executor: workflow must be a file name ending in .yml")
        if not isinstance(backend, str) or not backend.isidentifier():
            raise ValueError("actions executor: backend must be a backend name")
        numbers = {}
        for key, default in TIMINGS:
            value = options.get(key, default)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 < value <= 600
            ):
                raise ValueError(f"actions executor: {key} must be above 0 and at most 600")
            numbers[key] = float(value)
        return cls(workflow, backend, **numbers)


class Bridge:
    """GitHub calls from the coder's thread, run on the server's event loop."""

    def __init__(
        self, ctx: JobContext, gh: GitHubAPI, loop: asyncio.AbstractEventLoop, repo: str, ref: str
    ) -> None:
        self.ctx, self.gh, self.loop, self.ref, self.repo = ctx, gh, loop, ref, repo
        self.owner, self.name = split(repo)

    def _run(self, coro: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, call: str, /, data: Any = None, **params: Any) -> Any:
        return self._run(self.gh.call(call, owner=self.owner, repo=self.name, data=data, **params))

    def download(self, call: str, max_bytes: int, /, **params: Any) -> bytes:
        coro = self.gh.download(call, owner=self.owner, repo=self.name, max_bytes=max_bytes,
                                **params)  # fmt: skip
        return self._run(coro)

    def halted(self) -> bool:
        return self._run(is_halted(self.ctx, self.repo, gh=self.gh))

    def recorded(self, run_id: int) -> action_runs.ActionRun | None:
        """The run as its webhooks reported it so far."""
        return self._run(self.ctx.ledger.aread(lambda c: action_runs.get(c, run_id)))


def _inputs(task: CodeTask, backend: str, budget: float) -> dict[str, str]:
    return {
        "request": task.id,
        "backend": backend,
        "type": task.change_type,
        "targets": "\n".join(task.target_paths),
        "task": task.description[:MAX_TASK_INPUT],
        "budget": f"{math.floor(max(budget, 0.0) * 100) / 100:.2f}",
    }


@dataclass
class ActionsCoder:
    """The ``actions`` backend for one request (see the module docstring)."""

    config: ActionsConfig
    bridge: Bridge
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    name: str = "actions"
    needs_model_key: bool = False
    own_process: bool = True

    def refusal(self, task: CodeTask) -> str | None:
        return None

    def run(self, workspace: Workspace, task: CodeTask, control: RunControl) -> CoderResult:
        run_id = self._dispatch(task, control.limits.budget_usd - control.spent_usd)
        try:
            run = self._follow(run_id, control)
        except LimitReached:
            self._cancel(run_id)
            raise
        if run.get("conclusion") != "success":
            raise ValueError(self._failure(run))
        summary, files = self._patch(run_id)
        control.check()  # a halt that came while downloading: nothing is applied
        if not files:
            return CoderResult.nothing_to_do(summary or "the run changed nothing")
        try:
            apply(workspace, files)
        except PatchError as exc:
            return CoderResult.refused(str(exc))
        text = summary or f"coded on GitHub Actions (run {run_id})"
        return CoderResult(Outcome.CHANGED, text, notes=(f"Actions run {run_id}",),
                           cost_metered=False)  # fmt: skip

    def _dispatch(self, task: CodeTask, budget: float) -> int:
        data = {"ref": self.bridge.ref, "inputs": _inputs(task, self.config.backend, budget),
                "return_run_details": True}  # fmt: skip
        answer = self.bridge.call("actions.create_workflow_dispatch", data=data,
                                  workflow_id=self.config.workflow)  # fmt: skip
        if isinstance(answer, dict) and isinstance(answer.get("workflow_run_id"), int):
            return int(answer["workflow_run_id"])
        return self._find(task.id)

    def _find(self, request_id: str) -> int:
        """A server that answers the dispatch with 204: the run whose title names the
        request (the workflow's ``run-name``), looked for within ``find_seconds``."""
        deadline = self.clock() + self.config.find_seconds
        while self.clock() < deadline:
            page = self.bridge.call("actions.list_workflow_runs", workflow_id=self.config.workflow,
                                    event="workflow_dispatch", per_page=30)  # fmt: skip
            for run in page.get("workflow_runs", []) if isinstance(page, dict) else []:
                if request_id in str(run.get("display_title", "")).split():
                    return int(run["id"])
            self.sleep(self.config.poll_seconds)
        raise ValueError(f"the dispatched run of {self.config.workflow} was not found")

    def _follow(self, run_id: int, control: RunControl) -> dict[str, Any]:
        asked = -math.inf
        while True:
            control.check()
            if self.bridge.halted():
                raise LimitReached(Limit.HALT, "the repository was halted")
            seen = self.bridge.recorded(run_id)
            done = seen is not None and seen.status == "completed"
            if done or self.clock() - asked >= self.config.rest_seconds:
                asked = self.clock()
                run: dict[str, Any] = self.bridge.call("actions.get_workflow_run", run_id=run_id)
                if run.get("status") == "completed":
                    return run
            self.sleep(min(self.config.poll_seconds, max(control.remaining(), 0.01)))

    def _cancel(self, run_id: int) -> None:
        try:
            self.bridge.call("actions.cancel_workflow_run", run_id=run_id)
        except gidgethub.BadRequest as exc:
            if exc.status_code != 409:  # 409: it had ended on its own
                raise

    def _failure(self, run: Mapping[str, Any]) -> str:
        reason = f"the Actions run {run.get('id')} ended {run.get('conclusion') or 'unfinished'}"
        jobs = self.bridge.call("actions.list_jobs_for_workflow_run", run_id=run["id"])
        failed = [j for j in jobs.get("jobs", []) if j.get("conclusion") not in ("success", None)]
        if not failed:
            return reason
        try:
            log = self.bridge.download("actions.download_job_logs_for_workflow_run",
                                       MAX_LOG_BYTES, job_id=failed[0]["id"])  # fmt: skip
        except gidgethub.GitHubException:
            return f"{reason} (job {failed[0].get('name')})"
        tail = log.decode("utf-8", errors="replace")[-LOG_TAIL:]
        return f"{reason} (job {failed[0].get('name')}); the log ends:\n{tail}"

    def _patch(self, run_id: int) -> tuple[str, dict[str, bytes | None]]:
        listed = self.bridge.call("actions.list_workflow_run_artifacts", run_id=run_id,
                                  name=ARTIFACT)  # fmt: skip
        artifacts = [a for a in listed.get("artifacts", []) if a.get("name") == ARTIFACT]
        if not artifacts:
            return "the run uploaded no patch", {}
        blob = self.bridge.download(
            "actions.download_artifact", MAX_ARTIFACT_BYTES,
            artifact_id=artifacts[0]["id"], archive_format="zip",
        )  # fmt: skip
        try:
            with zipfile.ZipFile(io.BytesIO(blob)) as archive:
                info = archive.getinfo(PATCH_FILE)
                if info.file_size > MAX_ARTIFACT_BYTES:
                    raise ValueError(f"the patch is larger than {MAX_ARTIFACT_BYTES} bytes")
                data = archive.read(info)
        except (zipfile.BadZipFile, KeyError) as exc:
            raise ValueError(f"the run's artifact holds no readable {PATCH_FILE}") from exc
        try:
            return parse(data)
        except PatchError as exc:
            raise ValueError(str(exc)) from None


@dataclass(frozen=True)
class ActionsExecutor:
    """The backend registry's ``actions`` entry. Its coder needs the request's GitHub client
    and event loop, so the lifecycle binds it (:func:`bind`) first; the agent's
    operator-owned options (``BackendOptions.agent_options``) give its :class:`ActionsConfig`,
    unless ``config`` fixes one."""

    config: ActionsConfig | None = None

    def __call__(self, options: BackendOptions) -> ActionsCoder:
        raise ValueError("the actions executor must be bound to a request before it runs")


def bind(
    factory: BackendFactory, ctx: JobContext, gh: GitHubAPI, repo: str, ref: str
) -> BackendFactory:
    """``factory`` itself, or, for the actions executor, one that builds its coder for this
    request (call it on the event loop the bridge is to use)."""
    if not isinstance(factory, ActionsExecutor):
        return factory
    bridge = Bridge(ctx, gh, asyncio.get_running_loop(), repo, ref)
    fixed = factory.config

    def build(options: BackendOptions) -> ActionsCoder:
        config = fixed or ActionsConfig.from_mapping(options.agent_options)
        return ActionsCoder(config, bridge)

    return build


def actions_executor(options: Mapping[str, object] | None = None) -> ActionsExecutor:
    """The executor with fixed options (ValueError when they are wrong); None: the agent's."""
    return ActionsExecutor(None if options is None else ActionsConfig.from_mapping(options))
