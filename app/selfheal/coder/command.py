"""The ``command`` backend (LocalClaudeRouter): an external coding CLI run in the work tree.

The operator names the program in the coding agent's options (server settings, never a
repository's config): its argv, the environment variables passed through to it, its
timeout, how it takes a budget and reports a cost, and whether it may run unmetered.
A run:

- writes the task to the tool's standard input (the issue text quoted as untrusted data);
- runs it in the work tree, in its own process group, with an environment that holds only a
  few harmless basics (``PATH``, locale, a fresh ``HOME`` and ``TMPDIR``) plus the names the
  operator lists; every other variable, tokens and keys among them, is left out;
- passes the remaining budget with the tool's own cap flag (Claude Code's print mode takes
  ``--max-budget-usd``) and reads the cost the tool reports in its JSON result
  (``total_cost_usd``) into :meth:`RunControl.charge`;
- kills the whole process group when the timeout or the run's wall clock expires, or when
  the repository is halted (checked every ``POLL_SECONDS``);
- keeps at most ``max_output_bytes`` of each of stdout and stderr.

It runs as its own process, so :func:`selfheal.coder.runner.run_coder` removes secret files
from the work tree first and reviews every change with the path guard afterwards.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from selfheal.coder.interface import (
    BackendOptions,
    CoderResult,
    CodeTask,
    Limit,
    LimitReached,
    Outcome,
    RunControl,
)

if TYPE_CHECKING:
    from selfheal.coder.workspace import Workspace

POLL_SECONDS = 0.1
KILL_GRACE_SECONDS = 2.0
DEFAULT_TIMEOUT_SECONDS = 900.0
DEFAULT_MAX_OUTPUT = 1_000_000
MAX_SUMMARY = 4000
KILLED_NOTE = "the cost was not metered: the tool was stopped before it reported it"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
# What every run gets from the server's environment (nothing that authenticates anything).
BASE_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
# Never passed through, whatever the options say: the App's own settings and credentials.
FORBIDDEN_PREFIXES = ("SELFHEAL_",)
CLAUDE_CODE = {
    "command": ["claude", "-p", "--output-format", "json"],
    "budget_flag": "--max-budget-usd",
    "cost_field": "total_cost_usd",
}
PRESETS: Mapping[str, Mapping[str, object]] = {"claude-code": CLAUDE_CODE}
KNOWN_KEYS = frozenset(
    {"preset", "command", "env", "timeout_seconds", "allow_unmetered", "budget_flag",
     "cost_field", "summary_field", "max_output_bytes"}
)  # fmt: skip


def _strings(value: object, name: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"command coder: {name} must be a list of strings")
    return tuple(value)


def _number(value: object, name: str, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ValueError(f"command coder: {name} must be a number")
    if not low < value <= high:
        raise ValueError(f"command coder: {name} must be above {low:g} and at most {high:g}")
    return float(value)


def _optional_text(value: object, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or "\x00" in value or len(value) > 100:
        raise ValueError(f"command coder: {name} must be a short string")
    return value


@dataclass(frozen=True, slots=True)
class CommandConfig:
    """The operator's options for one ``command`` agent (see the module docstring)."""

    command: tuple[str, ...]
    env: tuple[str, ...] = ()
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    allow_unmetered: bool = False
    budget_flag: str = ""
    cost_field: str = ""
    summary_field: str = "result"
    max_output_bytes: int = DEFAULT_MAX_OUTPUT

    def __post_init__(self) -> None:
        if not self.command or not self.command[0].strip():
            raise ValueError("command coder: command names no program")
        if any("\x00" in part for part in self.command):
            raise ValueError("command coder: command contains a NUL character")
        for name in self.env:
            if not ENV_NAME.match(name):
                raise ValueError(f"command coder: {name!r} is not an environment variable name")
            if name.upper().startswith(FORBIDDEN_PREFIXES):
                raise ValueError(
                    f"command coder: {name} is one of selfheal's own settings and is never "
                    "passed to a coding tool"
                )

    @property
    def caps(self) -> bool:
        return bool(self.budget_flag)

    @property
    def reports(self) -> bool:
        return bool(self.cost_field)

    @classmethod
    def from_mapping(cls, options: Mapping[str, object]) -> CommandConfig:
        """Parse an agent's operator-owned options; ValueError says what is wrong."""
        unknown = sorted(set(options) - KNOWN_KEYS)
        if unknown:
            raise ValueError(f"command coder: unknown option(s): {', '.join(unknown)}")
        merged: dict[str, object] = {}
        preset = options.get("preset")
        if preset is not None:
            if not isinstance(preset, str) or preset not in PRESETS:
                raise ValueError(
                    f"command coder: preset must be one of {', '.join(sorted(PRESETS))}"
                )
            merged.update(PRESETS[preset])
        merged.update({k: v for k, v in options.items() if k != "preset"})
        if "command" not in merged:
            raise ValueError("command coder: the agent's options name no command")
        allow = merged.get("allow_unmetered", False)
        if not isinstance(allow, bool):
            raise ValueError("command coder: allow_unmetered must be true or false")
        return cls(
            command=_strings(merged["command"], "command"),
            env=_strings(merged.get("env", []), "env"),
            timeout_seconds=_number(merged.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS),
                                    "timeout_seconds", low=0, high=86400),
            allow_unmetered=allow,
            budget_flag=_optional_text(merged.get("budget_flag"), "budget_flag"),
            cost_field=_optional_text(merged.get("cost_field"), "cost_field"),
            summary_field=_optional_text(merged.get("summary_field", "result"), "summary_field"),
            max_output_bytes=int(_number(merged.get("max_output_bytes", DEFAULT_MAX_OUTPUT),
                                         "max_output_bytes", low=0, high=100_000_000)),
        )  # fmt: skip


def tool_environment(
    config: CommandConfig, environ: Mapping[str, str], home: str
) -> dict[str, str]:
    """The tool's whole environment: the basics, a fresh ``HOME``/``TMPDIR``, and the
    operator's names (unless one of them is ``HOME``, which then passes through too)."""
    env = {name: environ[name] for name in BASE_ENV if name in environ}
    env["HOME"] = home
    env["TMPDIR"] = home
    for name in config.env:
        if name in environ:
            env[name] = environ[name]
    return env


def prompt(task: CodeTask) -> str:
    """The task as the tool reads it on standard input."""
    lines = [
        f"You are making a {task.change_type} change to the repository in the current directory.",
        "Edit files only; do not commit, push or run anything that reaches the network.",
        "Never write under .github/workflows/, never read or write .env files, keys or "
        "credentials: such changes are refused and nothing of the run is kept.",
    ]
    if task.target_paths:
        lines.append("Change only these paths: " + ", ".join(task.target_paths))
    for finding in task.findings:
        lines.append(f"Finding: {finding.rule_id} at {finding.path}:{finding.line}")
    lines += ["", task.quoted_description(), ""]
    return "\n".join(lines)


class _Capped:
    """Reads a pipe to its end in a thread, keeping the first ``limit`` bytes."""

    def __init__(self, pipe: IO[bytes], limit: int) -> None:
        self.data = bytearray()
        self.truncated = False
        self._pipe, self._limit = pipe, limit
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while chunk := self._pipe.read(65536):
            room = self._limit - len(self.data)
            if room > 0:
                self.data += chunk[:room]
            if len(chunk) > max(room, 0):
                self.truncated = True

    def join(self, timeout: float) -> bytes:
        self._thread.join(timeout)
        return bytes(self.data)


def kill_group(proc: subprocess.Popen[bytes], grace: float = KILL_GRACE_SECONDS) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after ``grace``."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        try:  # the leader is gone; a member of its group may live on
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return


@dataclass(frozen=True, slots=True)
class ToolReport:
    """What the tool said in its JSON result: a cost (None: not reported) and a summary."""

    cost_usd: float | None
    summary: str
    error: bool = False


def read_report(stdout: bytes, config: CommandConfig) -> ToolReport:
    """The tool's JSON result: the whole of stdout, or else its last line that is JSON."""
    text = stdout.decode("utf-8", errors="replace").strip()
    candidates = [text, *reversed(text.splitlines())]
    result: object = None
    for candidate in candidates:
        try:
            result = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(result, dict):
            break
    if not isinstance(result, dict):
        return ToolReport(None, "")
    cost: float | None = None
    raw = result.get(config.cost_field) if config.cost_field else None
    if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        cost = float(raw) if raw >= 0 else None
    summary = result.get(config.summary_field) if config.summary_field else None
    text_summary = summary[:MAX_SUMMARY] if isinstance(summary, str) else ""
    return ToolReport(cost, text_summary, result.get("is_error") is True)


@dataclass
class CommandCoder:
    """The backend; ``environ`` is where passed-through variables come from (the server's
    environment unless a test gives another)."""

    config: CommandConfig
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    name: str = "command"
    needs_model_key: bool = False
    own_process: bool = True

    def refusal(self, task: CodeTask) -> str | None:
        if self.config.caps or self.config.reports or self.config.allow_unmetered:
            return None
        return (
            "the command coder's tool neither caps nor reports its cost, and the operator "
            "has not allowed unmetered runs for this agent"
        )

    def argv(self, control: RunControl) -> list[str]:
        argv = list(self.config.command)
        if self.config.budget_flag:
            remaining = control.limits.budget_usd - control.spent_usd
            if remaining <= 0:
                raise LimitReached(Limit.BUDGET, "no budget is left for the command coder")
            argv += [self.config.budget_flag, f"{math.floor(remaining * 100) / 100:.2f}"]
        return argv

    def run(self, workspace: Workspace, task: CodeTask, control: RunControl) -> CoderResult:
        argv = self.argv(control)
        with tempfile.TemporaryDirectory(prefix="selfheal-tool-home-") as home:
            env = tool_environment(self.config, self.environ, home)
            try:
                code, stdout = self._execute(argv, env, workspace, task, control)
            except OSError as exc:  # the program is missing or not executable
                return CoderResult.refused(f"the coding tool could not start: {exc.strerror}")
            except LimitReached as exc:  # killed: whatever it spent, it never said
                return CoderResult(
                    Outcome.LIMIT_REACHED, f"stopped: {exc.detail}", cost_usd=control.spent_usd,
                    cost_metered=False, reason=exc.detail, limit=exc.limit, notes=(KILLED_NOTE,),
                )  # fmt: skip
        report = read_report(stdout, self.config)
        notes: list[str] = []
        if report.cost_usd is not None:
            control.charge(report.cost_usd)
            metered = True
        else:
            metered = False
            notes.append(self._unmetered_note(control))
        if code != 0 or report.error:
            reason = f"the coding tool failed (exit status {code})"
            return CoderResult(Outcome.REFUSED, f"refused: {reason}", reason=reason,
                               cost_usd=control.spent_usd, cost_metered=metered,
                               notes=tuple(notes))  # fmt: skip
        summary = report.summary or f"{self.config.command[0]} edited the work tree"
        return CoderResult(Outcome.CHANGED, summary, cost_usd=control.spent_usd,
                           cost_metered=metered, notes=tuple(notes))  # fmt: skip

    def _unmetered_note(self, control: RunControl) -> str:
        if self.config.caps:
            return (
                f"the cost was not metered: the tool capped it at "
                f"{control.limits.budget_usd - control.spent_usd:.2f} USD but did not report it"
            )
        return "the cost was not metered: the tool neither caps nor reports it"

    def _execute(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        workspace: Workspace,
        task: CodeTask,
        control: RunControl,
    ) -> tuple[int, bytes]:
        limit = self.config.max_output_bytes
        deadline = time.monotonic() + min(self.config.timeout_seconds, control.remaining())
        proc = subprocess.Popen(
            list(argv), cwd=workspace.root, env=dict(env), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        out, err = _Capped(proc.stdout, limit), _Capped(proc.stderr, limit)
        feeder = threading.Thread(target=_feed, args=(proc.stdin, prompt(task)), daemon=True)
        feeder.start()
        try:
            while True:
                control.check()
                if time.monotonic() >= deadline:
                    seconds = min(self.config.timeout_seconds, control.limits.wall_clock_seconds)
                    raise LimitReached(Limit.TIME, f"the coding tool ran past {seconds:g} s")
                try:
                    proc.wait(timeout=POLL_SECONDS)  # returns as soon as the tool exits
                    break
                except subprocess.TimeoutExpired:
                    continue
        except LimitReached:
            kill_group(proc)
            raise
        finally:
            if proc.poll() is None:
                kill_group(proc)
        kill_group(proc, grace=0.5)  # nothing of the tool outlives it
        err.join(5.0)
        return proc.returncode, out.join(5.0)


def _feed(pipe: IO[bytes], text: str) -> None:
    try:
        pipe.write(text.encode("utf-8"))
        pipe.close()
    except (BrokenPipeError, OSError):
        return


def command_backend(options: BackendOptions) -> CommandCoder:
    """The registry's factory: the agent's operator-owned options (ValueError if they do
    not describe a command)."""
    return CommandCoder(CommandConfig.from_mapping(options.agent_options))
