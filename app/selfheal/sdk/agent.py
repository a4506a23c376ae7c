"""``BaseAgent``: the seed's agent methods, as a mixin over a :class:`SelfHealClient`.

An agent class mixes it in and sets ``selfheal`` (a client) and ``agent_id`` (its name, as
the monitor will group its failures by it)::

    class MyAgent(BaseAgent):
        agent_id = "my_agent"

        def __init__(self, client: SelfHealClient) -> None:
            self.selfheal = client

``request_self_improvement`` targets the agent's own source file, found from its class and
given relative to ``source_root`` (default: the current directory), which should be the root
of the repository the token covers.
"""

from __future__ import annotations

import inspect
import os
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from selfheal.sdk.client import SelfHealClient
from selfheal.sdk.types import Created

SEVERITIES = ("low", "medium", "high", "critical")


class BaseAgent:
    selfheal: SelfHealClient
    agent_id: str = ""
    source_root: str | os.PathLike[str] | None = None
    run_id: str | None = None

    def _agent_name(self) -> str:
        return self.agent_id or type(self).__name__

    def own_source_file(self) -> str:
        """The file that defines this agent's class, relative to ``source_root``, with '/'."""
        found = inspect.getsourcefile(type(self))
        if found is None:
            raise ValueError(f"{type(self).__name__} has no source file")
        root = Path(self.source_root or Path.cwd()).resolve()
        path = Path(found).resolve()
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            raise ValueError(f"{path} is not under the source root {root}") from None

    async def request_code_change(
        self,
        description: str,
        reason: str,
        target_files: Sequence[str] = (),
        priority: int = 5,
        change_type: str = "fix-bug",
    ) -> Created:
        """Ask for a change on the agent's behalf (the reason goes into the context)."""
        return await self.selfheal.request_change(
            description, change_type=change_type, target_files=target_files, priority=priority,
            context={"reason": reason, "agent": self._agent_name()},
            requester_id=self._agent_name(),
        )  # fmt: skip

    async def request_self_improvement(
        self, improvement_description: str, priority: int = 5
    ) -> Created:
        """Ask for a change to the agent's own source file."""
        return await self.selfheal.request_change(
            improvement_description, change_type="self-improvement",
            target_files=[self.own_source_file()], priority=priority,
            context={"agent": self._agent_name()}, requester_id=self._agent_name(),
        )  # fmt: skip

    async def report_bug_for_fix(
        self,
        error_message: str | BaseException,
        stack_trace: str | None = None,
        affected_files: Sequence[str] = (),
        *,
        severity: str = "medium",
        error_type: str | None = None,
    ) -> int:
        """Report a failure to the monitor (``POST /api/monitor/events``). Given an exception,
        its type and traceback are taken from it."""
        if severity not in SEVERITIES:
            raise ValueError(f"severity is one of {', '.join(SEVERITIES)}")
        event: dict[str, Any] = {
            "source": "agent",
            "agent_id": self._agent_name(),
            "severity": severity,
            "affected_files": list(affected_files),
            "timestamp": datetime.now(UTC).isoformat(),
        }
        if isinstance(error_message, BaseException):
            exc = error_message
            event["error_type"] = error_type or type(exc).__name__
            event["message"] = str(exc)
            event["stack_trace"] = stack_trace or "".join(traceback.format_exception(exc))
        else:
            event["message"] = error_message
            if error_type is not None:
                event["error_type"] = error_type
            if stack_trace:
                event["stack_trace"] = stack_trace
        if self.run_id is not None:
            event["run_id"] = self.run_id
        return await self.selfheal.report_events([event])
