"""The tools a model-backed coder offers the model, carried out on the guarded workspace.

List files, read a file (a line range), search (a literal string), create a file, replace a
unique string, insert at a line, delete a file, and finish with a summary. There is no shell.
Every read and write goes through :class:`~selfheal.coder.workspace.Workspace`, so the path
guard decides; a refusal, a missing file or bad arguments come back to the model as a tool
error (:class:`ToolReply` with ``is_error``), never as an exception. Every reply is bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from selfheal.coder.guard import GuardError
from selfheal.coder.workspace import Workspace

MAX_REPLY_CHARS = 20_000
MAX_READ_LINES = 400
MAX_LIST = 500
MAX_MATCHES = 100
MAX_WRITE_BYTES = 256 * 1024
MAX_SUMMARY_CHARS = 4000
FINISH = "finish"


@dataclass(frozen=True, slots=True)
class ToolReply:
    text: str
    is_error: bool = False
    finished: str | None = None  # the summary, when the model finished


class ToolError(Exception):
    """Bad arguments or an impossible edit; the message goes back to the model."""


def _schema(properties: Mapping[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": dict(properties), "required": required}


_PATH = {"type": "string", "description": "a path relative to the repository's top"}
TOOLS: tuple[dict[str, Any], ...] = (
    {"name": "list_files", "description": "List the files under a folder (default: all).",
     "input_schema": _schema({"path": _PATH}, [])},
    {"name": "read_file", "description": "Read a file's lines, numbered; optionally a range.",
     "input_schema": _schema({"path": _PATH, "start_line": {"type": "integer", "minimum": 1},
                              "end_line": {"type": "integer", "minimum": 1}}, ["path"])},
    {"name": "search", "description": "Find lines containing a literal string.",
     "input_schema": _schema({"text": {"type": "string"}, "path": _PATH}, ["text"])},
    {"name": "create_file", "description": "Create a new file with the given content.",
     "input_schema": _schema({"path": _PATH, "content": {"type": "string"}},
                             ["path", "content"])},
    {"name": "replace", "description": "Replace a string that occurs exactly once in a file.",
     "input_schema": _schema({"path": _PATH, "old": {"type": "string"},
                              "new": {"type": "string"}}, ["path", "old", "new"])},
    {"name": "insert", "description": "Insert text before a line (last line + 1 appends).",
     "input_schema": _schema({"path": _PATH, "line": {"type": "integer", "minimum": 1},
                              "text": {"type": "string"}}, ["path", "line", "text"])},
    {"name": "delete_file", "description": "Delete a file.",
     "input_schema": _schema({"path": _PATH}, ["path"])},
    {"name": FINISH, "description": "Stop, with a summary of the change for the pull request.",
     "input_schema": _schema({"summary": {"type": "string"}}, ["summary"])},
)  # fmt: skip


def _bounded(text: str, limit: int = MAX_REPLY_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n[... cut: {len(text) - limit} more characters]"


def _str(args: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    value = args.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ToolError(f"{name} must be a string")
    return value


def _int(args: Mapping[str, Any], name: str, default: int | None = None) -> int:
    value = args.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ToolError(f"{name} must be a whole number of at least 1")
    return value


class ToolBox:
    """The tools on one workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace
        self.handlers: dict[str, Callable[[Mapping[str, Any]], str]] = {
            "list_files": self.list_files,
            "read_file": self.read_file,
            "search": self.search,
            "create_file": self.create_file,
            "replace": self.replace,
            "insert": self.insert,
            "delete_file": self.delete_file,
        }

    def call(self, name: str, args: object) -> ToolReply:
        if not isinstance(args, Mapping):
            return ToolReply("the tool input must be an object", is_error=True)
        if name == FINISH:
            summary = args.get("summary")
            if not isinstance(summary, str) or not summary.strip():
                return ToolReply("finish needs a summary", is_error=True)
            return ToolReply("finished", finished=summary.strip()[:MAX_SUMMARY_CHARS])
        handler = self.handlers.get(name)
        if handler is None:
            return ToolReply(f"there is no tool named {name[:80]!r}", is_error=True)
        try:
            return ToolReply(_bounded(handler(args)))
        except GuardError as exc:
            return ToolReply(_bounded(f"refused: {exc}"), is_error=True)
        except FileNotFoundError:
            return ToolReply("no such file", is_error=True)
        except UnicodeDecodeError:
            return ToolReply("the file is not UTF-8 text", is_error=True)
        except (ToolError, OSError) as exc:
            return ToolReply(_bounded(f"error: {exc}"), is_error=True)

    # -- reads -------------------------------------------------------------------------------

    def list_files(self, args: Mapping[str, Any]) -> str:
        path = _str(args, "path", required=False).strip().strip("/")
        files, notes = self.ws.files([path] if path else [])
        shown = files[:MAX_LIST]
        lines = [*shown, *notes]
        if len(files) > MAX_LIST:
            lines.append(f"[... {len(files) - MAX_LIST} more files]")
        return "\n".join(lines) or "(no files)"

    def read_file(self, args: Mapping[str, Any]) -> str:
        lines = self.ws.read_text(_str(args, "path")).splitlines()
        start = _int(args, "start_line", 1)
        end = min(_int(args, "end_line", len(lines) or 1), len(lines), start + MAX_READ_LINES - 1)
        if start > max(len(lines), 1):
            raise ToolError(f"the file has {len(lines)} lines")
        body = [f"{n:>6}\t{lines[n - 1]}" for n in range(start, end + 1)]
        more = f"\n[lines {end + 1}-{len(lines)} not shown]" if end < len(lines) else ""
        return "\n".join(body) + more

    def search(self, args: Mapping[str, Any]) -> str:
        needle = _str(args, "text")
        if not needle:
            raise ToolError("text must not be empty")
        path = _str(args, "path", required=False).strip().strip("/")
        files, _ = self.ws.files([path] if path else [])
        found: list[str] = []
        for name in files:
            try:
                text = self.ws.read_text(name)
            except (GuardError, OSError, UnicodeDecodeError):
                continue
            for number, line in enumerate(text.splitlines(), 1):
                if needle in line:
                    found.append(f"{name}:{number}: {line[:200]}")
                    if len(found) >= MAX_MATCHES:
                        return "\n".join([*found, "[... more matches not shown]"])
        return "\n".join(found) or "no matches"

    # -- writes ------------------------------------------------------------------------------

    def _content(self, text: str) -> str:
        if len(text.encode("utf-8", "surrogatepass")) > MAX_WRITE_BYTES:
            raise ToolError(f"content larger than {MAX_WRITE_BYTES} bytes")
        return text

    def create_file(self, args: Mapping[str, Any]) -> str:
        path = _str(args, "path")
        if self.ws.exists(path):
            raise ToolError("the file exists; use replace or insert")
        self.ws.write_text(path, self._content(_str(args, "content")))
        return f"created {path}"

    def replace(self, args: Mapping[str, Any]) -> str:
        path, old, new = _str(args, "path"), _str(args, "old"), _str(args, "new")
        if not old:
            raise ToolError("old must not be empty")
        text = self.ws.read_text(path)
        count = text.count(old)
        if count != 1:
            raise ToolError(f"old occurs {count} times in {path}; it must occur exactly once")
        self.ws.write_text(path, self._content(text.replace(old, new, 1)))
        return f"replaced one occurrence in {path}"

    def insert(self, args: Mapping[str, Any]) -> str:
        path, line, addition = _str(args, "path"), _int(args, "line"), _str(args, "text")
        lines = self.ws.read_text(path).splitlines(keepends=True)
        if line > len(lines) + 1:
            raise ToolError(f"line must be at most {len(lines) + 1}")
        if lines and not lines[-1].endswith("\n") and line == len(lines) + 1:
            lines[-1] += "\n"
        if not addition.endswith("\n"):
            addition += "\n"
        lines.insert(line - 1, addition)
        self.ws.write_text(path, self._content("".join(lines)))
        return f"inserted before line {line} of {path}"

    def delete_file(self, args: Mapping[str, Any]) -> str:
        path = _str(args, "path")
        self.ws.delete(path)
        return f"deleted {path}"
