"""A scripted Anthropic Messages API on 127.0.0.1: the model of ``selfheal demo``.

It answers ``POST /v1/messages`` in the API's wire format, so the real ``anthropic`` SDK and
the real ``anthropic`` coder (its tool loop, budget meter and path guard) run against it
unchanged: a ``message`` object with ``content`` blocks (``text``, ``tool_use``), a
``stop_reason`` and a ``usage`` with the cache fields (``cache_creation_input_tokens``, its
``cache_creation`` split by TTL, ``cache_read_input_tokens``); or an error object
(``{"type": "error", "error": {...}}``) with its status, such as 529 ``overloaded_error``.

The replies come from a script, in order: a :class:`Turn`, a :class:`Failure`, or a function
of the request body that returns one. It checks what the real API would refuse (the key,
the required fields, alternating roles, tool results answering the tool uses) and records
every request and the usage it reported, so the cost a run metered can be checked against
what this "vendor" billed. Nothing here reaches the network.

It runs its own event loop on a thread, so synchronous callers (the SDK's sync client) and
asynchronous ones use it the same way.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from selfheal.model.prices import ModelPrice, Usage, cost_usd

MAX_WAIT = 10.0


def demo_key() -> str:
    """A key of the real key's shape, made for one run (never a real credential)."""
    return "sk-ant-api03-demo" + secrets.token_hex(32) + "AA"


@dataclass
class Turn:
    """One successful reply: ``tools`` are (name, input) pairs, sent as tool_use blocks.
    ``input_tokens`` None: the request's size in bytes over 4, as a real count would be about
    (so a scripted usage never exceeds what the prompt could cost)."""

    text: str = ""
    tools: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    input_tokens: int | None = 100
    output_tokens: int = 50
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0

    def usage(self, request_bytes: int = 0, max_tokens: int | None = None) -> dict[str, Any]:
        sent = self.input_tokens if self.input_tokens is not None else request_bytes // 4 + 1
        # The API stops at max_tokens; it never reports more output than that.
        out = self.output_tokens if max_tokens is None else min(self.output_tokens, max_tokens)
        return {
            "input_tokens": sent,
            "output_tokens": out,
            "cache_creation_input_tokens": self.cache_write_5m + self.cache_write_1h,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_write_5m,
                "ephemeral_1h_input_tokens": self.cache_write_1h,
            },
        }


@dataclass
class Failure:
    """An error reply: the status and the API's error type and message."""

    status: int = 529
    kind: str = "overloaded_error"
    message: str = "Overloaded"


Reply = Turn | Failure
# A script step: a reply, a function of the request body that returns one, or a kind of step a
# subclass resolves (see ScriptedMessagesAPI.resolve).
Step = Reply | Callable[[dict[str, Any]], Reply] | object


def finish(summary: str, input_tokens: int | None = 100, output_tokens: int = 50) -> Turn:
    """The coder's ``finish`` tool: the run is done, with ``summary``."""
    return Turn(tools=[("finish", {"summary": summary})], input_tokens=input_tokens,
                output_tokens=output_tokens)  # fmt: skip


def _tool_uses(message: dict[str, Any]) -> set[str]:
    content = message.get("content")
    if not isinstance(content, list):
        return set()
    return {
        str(b.get("id")) for b in content if isinstance(b, dict) and b.get("type") == "tool_use"
    }


def wire_problem(body: Any) -> str | None:
    """What the real API would refuse in a request (the parts a tool loop can get wrong):
    the required fields, alternating roles starting with the user, and every tool_use
    answered by a tool_result with its id in the next user message, and no other ids."""
    if not isinstance(body, dict) or not body.get("model") or not body.get("messages"):
        return "model and messages are required"
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        return "max_tokens: a positive integer is required"
    messages = body["messages"]
    if not isinstance(messages, list):
        return "messages: a list is required"
    for index, message in enumerate(messages):
        want = "user" if index % 2 == 0 else "assistant"
        if not isinstance(message, dict) or message.get("role") != want:
            return f"messages.{index}: roles must alternate, starting with user"
        if want == "user" and index > 0:
            content = message.get("content")
            blocks = content if isinstance(content, list) else []
            answered = {str(b.get("tool_use_id")) for b in blocks
                        if isinstance(b, dict) and b.get("type") == "tool_result"}  # fmt: skip
            if answered != _tool_uses(messages[index - 1]):
                return f"messages.{index}: tool_result ids must match the tool_use ids before"
    return None


def turns_taken(body: dict[str, Any]) -> int:
    """How many assistant turns the conversation in a request body already has."""
    return sum(1 for m in body.get("messages", ()) if isinstance(m, dict)
               and m.get("role") == "assistant")  # fmt: skip


class ScriptedMessagesAPI:
    """The Messages API, answering from ``script`` (see the module's docstring). When the
    script runs out it answers with ``default`` (a function of the request body), or else a
    text-only turn, which ends a tool loop."""

    def __init__(
        self,
        script: list[Step] | None = None,
        *,
        key: str,
        default: Callable[[dict[str, Any]], Reply] | None = None,
    ) -> None:
        self.script: list[Step] = list(script or [])
        self.key = key
        self.default = default
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.reported: list[dict[str, Any]] = []  # the usage of every successful reply
        self.failures = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # -- scripting ------------------------------------------------------------------------

    def add(self, *steps: Step) -> None:
        with self._lock:
            self.script.extend(steps)

    def _next(self, body: dict[str, Any]) -> object:
        with self._lock:
            step = self.script.pop(0) if self.script else None
        if step is None:
            return self.default(body) if self.default else Turn(text="(the script ran out)")
        return step(body) if callable(step) else step

    async def resolve(self, step: object) -> Reply:
        """The reply a scripted step stands for (a subclass may add kinds of step)."""
        if isinstance(step, Turn | Failure):
            return step
        raise TypeError(f"not a scripted reply: {step!r}")

    # -- the API --------------------------------------------------------------------------

    def _message(self, body: dict[str, Any], turn: Turn, size: int) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if turn.text:
            content.append({"type": "text", "text": turn.text})
        for name, args in turn.tools:
            content.append({"type": "tool_use", "id": f"toolu_{next(self._ids):04d}",
                            "name": name, "input": args})  # fmt: skip
        limit = body.get("max_tokens")
        usage = turn.usage(size, limit if isinstance(limit, int) else None)
        self.reported.append(usage)
        return {"id": f"msg_{next(self._ids):06d}", "type": "message", "role": "assistant",
                "model": str(body.get("model")), "content": content,
                "stop_reason": "tool_use" if turn.tools else "end_turn",
                "stop_sequence": None, "usage": usage}  # fmt: skip

    @staticmethod
    def _error(status: int, kind: str, message: str) -> web.Response:
        body = {"type": "error", "error": {"type": kind, "message": message}}
        headers = {"request-id": "req_scripted", "retry-after-ms": "5"}
        return web.json_response(body, status=status, headers=headers)

    async def _messages(self, request: web.Request) -> web.Response:
        self.headers.append(dict(request.headers))
        # The SDK sends the key as x-api-key, or (2.x) as a bearer token: either is accepted.
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not secrets.compare_digest(self.key, request.headers.get("x-api-key") or bearer):
            return self._error(401, "authentication_error", "invalid API key")
        raw = await request.read()
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            return self._error(400, "invalid_request_error", "the body is not JSON")
        problem = wire_problem(body)
        if problem is not None:
            return self._error(400, "invalid_request_error", problem)
        self.requests.append(body)
        step = await self.resolve(self._next(body))
        if isinstance(step, Failure):
            self.failures += 1
            return self._error(step.status, step.kind, step.message)
        message = self._message(body, step, len(raw))
        return web.json_response(message, headers={"request-id": "req_scripted"})

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> ScriptedMessagesAPI:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_post("/v1/messages", self._messages)
            self._runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.base_url = f"http://127.0.0.1:{port}"
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="scripted-messages-api", daemon=True)
        self._thread.start()
        if not ready.wait(MAX_WAIT):
            raise RuntimeError("the scripted Messages API did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(MAX_WAIT)

    # -- what a caller reads --------------------------------------------------------------

    def prompts(self) -> str:
        """Everything the model was sent, as one text (to look for leaks)."""
        return json.dumps(self.requests)

    def billed_usd(self, price: ModelPrice) -> float:
        """What the usage this API reported costs at ``price``: what the vendor would bill."""
        total = 0.0
        for u in self.reported:
            split = u["cache_creation"]
            usage = Usage(u["input_tokens"], u["output_tokens"],
                          split["ephemeral_5m_input_tokens"], split["ephemeral_1h_input_tokens"],
                          u["cache_read_input_tokens"])  # fmt: skip
            total += cost_usd(price, usage)
        return total

    def key_sent(self, index: int = 0) -> str:
        headers = self.headers[index]
        return headers.get("x-api-key") or headers.get("Authorization", "").removeprefix("Bearer ")
