"""Structured logging with secret redaction.

:func:`setup_logging` installs one handler on the ``app`` logger tree (and the root logger):
JSON lines when the stream is not a terminal, a readable one-line format when it is. Every
record passes through :func:`mask`, which removes configured secret values, anything
``app.scan.secrets.mask_secrets`` recognises, GitHub tokens, bearer/token Authorization
values and PEM blocks. Extra fields whose *name* looks sensitive (``token``, ``authorization``,
``secret``, ``password``, ``private_key`` ...) are replaced entirely.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

MASK = "[REDACTED]"
SENSITIVE_KEY = re.compile(
    r"(authorization|token|secret|password|passwd|private[_-]?key|api[_-]?key|cookie|jwt)",
    re.IGNORECASE,
)
PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S),
    re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b"),
    re.compile(r"\b(sk-ant-[A-Za-z0-9_\-]{10,})"),
    # A credential after "token"/"bearer": 20+ characters, or 8+ with a digit in them, so
    # prose ("token refreshed", "bearer authentication") is left alone.
    re.compile(
        r"(?i)\b(bearer|token)\s+(?:[A-Za-z0-9._\-~+/]{20,}"
        r"|(?=[A-Za-z._\-~+/]*[0-9])[A-Za-z0-9._\-~+/]{8,})=*"
    ),
    # JWT; the header segment is bounded, or `eyJ-eyJ-...` costs quadratic time
    re.compile(r"\beyJ[A-Za-z0-9_\-]{8,2048}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)(x-access-token:)[^@\s]+"),
)
# Credentials after a prefix that is kept (every repetition before the secret is bounded, so
# no input makes these quadratic): ``Basic <base64>``, a URL's ``user:password@``, and
# a quoted JSON value under a sensitive key (a token response or a header dump in a message).
KEEP_PREFIX: tuple[re.Pattern[str], ...] = (
    re.compile(r"(?i)(\bbasic\s+)[A-Za-z0-9+/]{8,}=*"),
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]{0,31}://[^:/@\s]{0,256}:)[^@\s/]{1,512}(?=@)"),
    re.compile(
        r"(?i)(\"[\w-]{0,40}(?:authorization|token|secret|password|passwd|private[_-]?key"
        r"|api[_-]?key|cookie|jwt)[\w-]{0,40}\"\s{0,8}:\s{0,8}\")(?:[^\"\\]|\\.)+"
    ),
)
STANDARD_ATTRS = frozenset(
    logging.LogRecord("x", 0, "x", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)

_configured_secrets: list[str] = []
# What _mask removes first, in order: each configured secret (longest first, so that one
# containing another is masked whole), then each line of it of 16+ characters (a multi-line key
# logged partially). Built when a secret is registered, not on every log line.
_secret_fragments: list[str] = []


@functools.cache
def _external_masker() -> Callable[[str], str]:
    """``app.scan.secrets.mask_secrets``: the scanner's secret formats (imported on first use,
    so processes that never log do not load the detectors)."""
    from selfheal.scanner.secrets import mask_secrets

    return mask_secrets


def add_secret_values(values: Iterable[str]) -> None:
    """Register literal values (webhook secret, key, tokens) that must never be logged."""
    for value in values:
        if value and len(value) >= 6 and value not in _configured_secrets:
            _configured_secrets.append(value)
    _configured_secrets.sort(key=len, reverse=True)
    _secret_fragments[:] = [
        fragment
        for value in _configured_secrets
        for fragment in (value, *(line for line in value.splitlines() if len(line) >= 16))
    ]
    _mask_short.cache_clear()  # a remembered answer may predate this secret


def mask(text: str) -> str:
    """Remove every known or recognisable secret from ``text``."""
    if len(text) <= CACHED_TEXT_CHARS:
        return _mask_short(text)
    return _mask(text)


# Field names, event names and ids repeat on every log line, and each mask runs the full
# secret detector (~30 us): short texts are remembered (394 -> ~130 us per webhook log line).
CACHED_TEXT_CHARS = 200


@functools.lru_cache(maxsize=4096)
def _mask_short(text: str) -> str:
    return _mask(text)


def _mask(text: str) -> str:
    for fragment in _secret_fragments:
        if fragment in text:
            text = text.replace(fragment, MASK)
    for pattern in PATTERNS:
        text = pattern.sub(_replacement, text)
    for pattern in KEEP_PREFIX:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    try:
        text = _external_masker()(text)
    except Exception:  # noqa: S110 - a broken detector must not break logging
        pass
    return text


def _replacement(match: re.Match[str]) -> str:
    prefix = match.group(1) if match.lastindex else ""
    if prefix and prefix.lower() in ("bearer", "token", "x-access-token:"):
        return f"{prefix} {MASK}" if not prefix.endswith(":") else f"{prefix}{MASK}"
    return MASK


def mask_value(key: str, value: Any) -> Any:
    """Mask a structured field: by key name first, then by content."""
    if SENSITIVE_KEY.search(key) and value not in (None, "", 0, False):
        return MASK
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, Mapping):
        return {mask(str(k)): mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(key, v) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return mask(repr(value))


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        mask(k): mask_value(k, v)
        for k, v in record.__dict__.items()
        if k not in STANDARD_ATTRS and not k.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, extra fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask(record.getMessage()),
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exc"] = mask(self.formatException(record.exc_info))
        # Every field was masked above, before JSON escaping could hide a secret's shape, so
        # the serialised line needs no second pass (each pass runs the full secret detector).
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Readable output for a terminal: time level logger: message key=value ..."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{stamp} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if extras:
            line += f"  {extras}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return mask(line)


def setup_logging(
    level: str = "INFO",
    *,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
    json_lines: bool | None = None,
) -> logging.Handler:
    """Configure the root logger once for the process and return the installed handler."""
    add_secret_values(secrets)
    out = stream if stream is not None else sys.stderr
    if json_lines is None:
        json_lines = not (hasattr(out, "isatty") and out.isatty())
    handler = logging.StreamHandler(out)
    # Both formatters mask every field themselves (message, extras, traceback).
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    handler.set_name("selfheal")
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == "selfheal":
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return handler
