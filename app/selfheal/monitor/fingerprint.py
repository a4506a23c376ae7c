"""Fingerprints (pure): which failures are the same bug.

A fingerprint is ``v1:`` and a digest of two parts:

- **the identity**: a test's node id; an endpoint's path with ids and the query removed, its
  method and its status class (``5xx``, ``4xx`` or ``timeout``); an agent's id and the
  exception type; a CI job's name; a security finding's rule and file;
- **the signature**: the exception type, then the innermost in-app frames of the stack trace
  as ``module:function`` (line numbers and absolute path prefixes dropped, library and
  standard library frames dropped, recursion collapsed), or the normalised message when there
  is no stack trace.

Message normalisation turns what differs between two sightings of one bug into placeholders:
URLs, e-mail addresses, UUIDs, timestamps, IP addresses and ports, temporary paths, quoted
values, hashes and hex ids, and numbers. ``selfheal monitor fingerprint`` prints what
:func:`fingerprint` returns, so grouping can be checked offline with the App's own code.
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from dataclasses import dataclass

from selfheal.monitor.events import FailureEvent

VERSION = "v1"
TOP_FRAMES = 5
MODULE_PARTS = 2  # path components kept of an in-app file: the parent and the file
# Directory names that start a machine's path rather than a project's layout.
MACHINE_DIRS = frozenset(
    {"home", "root", "srv", "opt", "usr", "var", "tmp", "mnt", "data", "workspace",
     "workspaces", "work", "runner", "builds", "users", "deploy", "code", "repo", "build"}
)  # fmt: skip

# Placeholders, applied in this order (a URL holds numbers, a quoted value may hold a path).
_NORMALISERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.I), "<url>"),
    (re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), "<email>"),
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
        "<uuid>",
    ),
    (
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
            r"|\b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?\b",
            re.I,
        ),
        "<time>",
    ),
    (re.compile(r"\[?\b(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}\]?(?::\d{1,5})?\b", re.I), "<ip>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b"), "<ip>"),
    (
        re.compile(
            r"(?:/tmp|/var/tmp|/private/var/folders|/var/folders|/dev/shm)/[^\s'\":,)]*"
            r"|[A-Z]:\\Users\\[^\\\s]+\\AppData\\Local\\Temp\\[^\s'\":,)]*",
            re.I,
        ),
        "<tmp>",
    ),
    (re.compile(r"'[^'\n]{0,200}'|\"[^\"\n]{0,200}\"|`[^`\n]{0,200}`"), "<str>"),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b", re.I), "<hex>"),
    # numbers, with a unit when one follows (30s, 1.5ms, 12MB, 80%)
    (
        re.compile(r"(?<![\w<])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?:[a-z]{1,3}\b|%)?(?![\w>])", re.I),
        "<n>",
    ),
)
_SPACES = re.compile(r"\s+")

# Frames: Python, then JavaScript (V8), then Java-like (dotted.Class.method(File.java:12)).
_PY_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line \d+, in (?P<func>\S+)', re.M)
_JS_FRAME = re.compile(
    r"^\s*at (?:(?P<func>[^\s(]+) \()?(?P<file>[^\s()]+?):\d+(?::\d+)?\)?\s*$", re.M
)
_JAVA_FRAME = re.compile(r"^\s*at (?P<func>[\w$.<>]+)\((?P<file>[\w$.]+):\d+\)\s*$", re.M)
_LIBRARY = re.compile(
    r"(?:^|/)(?:site-packages|dist-packages|node_modules|\.venv|venv|lib/python\d[\d.]*"
    r"|python\d[\d.]*/lib|usr/lib|usr/local/lib|internal/modules|node:internal)(?:/|$)"
    r"|^<[^>]*>$|^\[.*\]$|^node:",
    re.I,
)
_JAVA_LIBRARY = re.compile(r"^(?:java|javax|jdk|sun|com\.sun|kotlin|scala|org\.junit)\.")
_EXCEPTION_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning"
                             r"|Failure|Fault|Timeout|Panic))\b[:]?", re.M)  # fmt: skip
# endpoint path segments that are ids: numbers, UUIDs, hex, and long mixed tokens
_ID_SEGMENT = re.compile(
    r"^(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|(?=[0-9a-f]*\d)[0-9a-f]{7,}|(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_-]{16,})$",
    re.I,
)


@dataclass(frozen=True)
class Fingerprint:
    value: str  # "v1:<32 hex>"
    identity: str
    signature: str

    def __str__(self) -> str:
        return self.value


def normalise_message(message: str, limit: int = 500) -> str:
    """The message with its varying parts as placeholders, whitespace collapsed."""
    text = message[:4_000]
    for pattern, placeholder in _NORMALISERS:
        text = pattern.sub(placeholder, text)
    return _SPACES.sub(" ", text).strip()[:limit]


def _module(path: str) -> str:
    parts = [p for p in path.replace("\\", "/").split("/") if p and p not in (".", "..")]
    kept = parts[-MODULE_PARTS:]
    while len(kept) > 1 and (kept[0].lower() in MACHINE_DIRS or kept[0].endswith(":")):
        kept = kept[1:]  # a machine's prefix, not the project's layout
    if kept:
        kept[-1] = re.sub(r"\.(?:py|pyc|js|mjs|cjs|ts|tsx|jsx|rb|go|java|kt)$", "", kept[-1])
    return "/".join(kept)


def _raw_frames(trace: str) -> list[tuple[str, str, bool]]:
    """(file, function, innermost-last) for each frame found, outermost first."""
    py = [(m["file"], m["func"]) for m in _PY_FRAME.finditer(trace)]
    if py:
        return [(f, fn, False) for f, fn in py]
    js = [(m["file"], m["func"] or "<anonymous>") for m in _JS_FRAME.finditer(trace)]
    if js:  # V8 lists the innermost frame first
        return [(f, fn, False) for f, fn in reversed(js)]
    java = [(m["func"], m["file"]) for m in _JAVA_FRAME.finditer(trace)]
    return [(func, file, True) for func, file in reversed(java)]


def in_app_frames(trace: str) -> list[str]:
    """The in-app frames as ``module:function``, innermost first, recursion collapsed."""
    frames: list[str] = []
    for file, func, java in reversed(_raw_frames(trace)):
        if java:
            if _JAVA_LIBRARY.match(file):
                continue
            module, _, method = file.rpartition(".")
            name = f"{module}:{method}"
        else:
            if _LIBRARY.search(file.replace("\\", "/")):
                continue
            name = f"{_module(file)}:{func}"
        if name not in frames:  # a recursion or a cycle counts once
            frames.append(name)
    return frames


def exception_type(event: FailureEvent) -> str:
    """The event's exception type: given, or read from the trace's last exception line."""
    given = event.error_type.strip()
    if given:
        return given.removeprefix("builtins.")
    found = _EXCEPTION_LINE.findall(event.stack_trace) or _EXCEPTION_LINE.findall(event.message)
    return found[-1] if found else ""


def endpoint_path(url: str) -> str:
    """The path of ``url`` with ids as ``{id}`` and the query and fragment dropped."""
    parts = urllib.parse.urlsplit(url if "://" in url or url.startswith("/") else "/" + url)
    segments = [
        "{id}" if _ID_SEGMENT.match(s) else s.lower() for s in parts.path.split("/") if s != ""
    ]
    return "/" + "/".join(segments)


def status_class(status: int | None) -> str:
    return "timeout" if status is None else f"{status // 100}xx"


def identity(event: FailureEvent, kind: str) -> str:
    """What failed: the test, the endpoint, the agent and exception, the job or the finding."""
    if event.source == "endpoint" and event.endpoint is not None:
        ep = event.endpoint
        return f"endpoint:{ep.method} {endpoint_path(ep.url)} {status_class(ep.status)}"
    if event.source == "security":  # the rule, the file and the finding's own fingerprint
        return f"security:{kind}:{','.join(event.affected_files[:1])}:{event.test_id or ''}"
    if event.test_id:
        return f"test:{event.test_id}"
    if event.agent_id:
        return f"agent:{event.agent_id}:{kind}"
    return f"{event.source}:{kind}"


def signature(event: FailureEvent, kind: str) -> str:
    """How it failed: the exception type with the top in-app frames, or with the normalised
    message when there is no stack trace."""
    if event.stack_trace.strip():
        frames = in_app_frames(event.stack_trace)[:TOP_FRAMES]
        return f"{kind}|{'>'.join(frames)}"
    return f"{kind}|{normalise_message(event.message)}"


def fingerprint(event: FailureEvent) -> Fingerprint:
    kind = exception_type(event)
    ident, sig = identity(event, kind), signature(event, kind)
    digest = hashlib.sha256(f"{VERSION}\n{ident}\n{sig}".encode()).hexdigest()[:32]
    return Fingerprint(f"{VERSION}:{digest}", ident, sig)
