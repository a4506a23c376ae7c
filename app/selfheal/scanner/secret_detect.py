"""Find secret candidates in a text: provider tokens, key blocks, JWTs, connection strings
and generic ``name = "value"`` assignments.

Pure and I/O-free. :func:`find_hits` returns :class:`Hit` objects holding the exact span of
each secret; :mod:`app.scan.secrets` turns them into findings (line numbers, suppression,
redacted snippets) or masks them (:func:`app.scan.secrets.mask_secrets`).

Work is proportional to the text: each detector first checks cheap literal keywords with
``str`` searches and only then runs its (bounded, non-nested) regex; generic assignments are
found by locating keyword occurrences and matching the value right after the name.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import re
import string
import urllib.parse
from dataclasses import dataclass

from selfheal.model.findings import Severity
from selfheal.scanner import secret_filters as filters
from selfheal.scanner import secret_patterns as patterns

# Literal keywords (lower case) that can start a generic secret name.
GENERIC_KEYWORDS = ("pass", "pwd", "secret", "token", "key", "auth", "cred")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_MAX_NAME = 100
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_NAME_TAIL = re.compile(r"[A-Za-z0-9_.\-]{0,100}")
# Cheap check that an assignment operator follows a name, before any other work.
_ASSIGN_AHEAD = re.compile(r"[\"'\]]{0,2}[ \t]{0,4}[:=]")
_VALUE = re.compile(
    r"""["']?\]?[ \t]{0,4}"""
    r"""(?::[ \t]{0,4}[A-Za-z_][\w\[\], .|]{0,40}?[ \t]{0,4}(?==))?"""  # type annotation
    r"""(?P<op>:=|=>|\?\?=|\|\|=|=(?!=)|:(?![:=]))[ \t]{0,8}"""
    r"""(?:[rRbBuUfF]{1,2}(?=["'`]))?"""
    r"""(?:"(?P<dq>[^"\r\n]{1,256})"|'(?P<sq>[^'\r\n]{1,256})'|`(?P<bq>[^`\r\n]{1,256})`"""
    r"""|(?P<bare>[^\s"'`;,&=]{1,256}={0,3}))"""  # "=" only as base64 padding
)
_AUTH_PREFIX = re.compile(r"(?i)(?:bearer|basic|token|bot)\s{1,3}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_EMBEDDED_BEFORE = frozenset(";?&\"'")
_SPACE = re.compile(r"\s")
_EXPRESSION = re.compile(r"[(\[{]")
_DOTTED = re.compile(r"[A-Za-z_]\w{0,100}(?:\.[A-Za-z_]\w{0,100}){1,10}")
_AWS_SECRET = re.compile(r"[A-Za-z0-9/+]{40}")
_KEY_BODY = re.compile(r"(?:[A-Za-z0-9+/=\s]|\\[nr]){0," + f"{patterns.PRIVATE_KEY_MAX_BODY}}}")
_BASE64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+")


@dataclass(frozen=True, slots=True)
class Hit:
    """One secret: ``text[start:end] == secret``; ``anchor`` is where it is reported (the
    ``BEGIN`` line of a key block, else ``start``)."""

    rule_id: str
    kind: str
    title: str
    severity: Severity
    start: int
    end: int
    secret: str
    anchor: int


def _hit(rule: tuple[str, str, str, Severity], start: int, secret: str, anchor: int = -1) -> Hit:
    rule_id, kind, title, severity = rule
    end = start + len(secret)
    return Hit(rule_id, kind, title, severity, start, end, secret, start if anchor < 0 else anchor)


def _providers(text: str) -> list[Hit]:
    hits: list[Hit] = []
    roots = {root: root in text for root in patterns.KEYWORD_ROOTS}
    for rule in patterns.PROVIDER_RULES:
        if rule.root and not roots[rule.root]:
            continue
        if not any(k in text for k in rule.keywords):
            continue
        for m in rule.regex.finditer(text):
            secret = m.group("secret")
            if filters.is_provider_placeholder(secret[rule.prefix_len :]):
                continue
            meta = (rule.rule_id, rule.kind, rule.title, rule.severity)
            hits.append(_hit(meta, m.start("secret"), secret))
    return hits


def _private_keys(text: str) -> list[Hit]:
    if "PRIVATE KEY" not in text:
        return []
    hits: list[Hit] = []
    for m in patterns.PRIVATE_KEY_BEGIN.finditer(text):
        limit = m.end() + patterns.PRIVATE_KEY_MAX_BODY
        end = text.find(patterns.PRIVATE_KEY_END, m.end(), limit)
        if end < 0:
            body_match = _KEY_BODY.match(text, m.end())
            end = body_match.end() if body_match else m.end()
        raw = text[m.start() : end]
        body = text[m.end() : end]
        secret = _strip_escapes(body)
        lead = body.find(secret) if secret else 0
        compact = secret.replace("\\n", "").replace("\\r", "")
        if sum(c in _BASE64_CHARS for c in compact) < patterns.PRIVATE_KEY_MIN_BODY:
            continue
        if "..." in raw or filters.is_provider_placeholder("".join(compact.split())):
            continue
        hits.append(_hit(patterns.PRIVATE_KEY_RULE, m.end() + lead, secret, m.start()))
    return hits


def _strip_escapes(body: str) -> str:
    """A key body without surrounding whitespace or escaped newlines (JSON ``\\n``)."""
    secret = body.strip()
    while secret.startswith(("\\n", "\\r")):
        secret = secret[2:].lstrip()
    while secret.endswith(("\\n", "\\r")):
        secret = secret[:-2].rstrip()
    return secret


def _b64json(segment: str) -> object:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        return json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def _jwts(text: str) -> list[Hit]:
    if "eyJ" not in text:
        return []
    hits: list[Hit] = []
    for m in patterns.JWT_REGEX.finditer(text):
        token = m.group("secret")
        header_segment, payload_segment, _ = token.split(".")
        header = _b64json(header_segment)
        if not isinstance(header, dict) or not ({"alg", "typ", "enc", "kid"} & header.keys()):
            continue
        payload = _b64json(payload_segment)
        # The example token of RFC 7519 / jwt.io ("John Doe", sub 1234567890) is documentation.
        if isinstance(payload, dict) and payload.get("name") == "John Doe":
            continue
        hits.append(_hit(patterns.JWT_RULE, m.start("secret"), token))
    return hits


def _documentation_url(password: str) -> bool:
    """A placeholder password, or a percent-encoded phrase ("a%20secret"): an illustration,
    not a credential. (The host is not a reason: a real password aimed at a documentation
    host such as db.example.com is still a leaked password.)"""
    if filters.is_placeholder(password):
        return True
    decoded = urllib.parse.unquote(password)
    return decoded != password and bool(_SPACE.search(decoded) or filters.is_placeholder(decoded))


def _connection_strings(text: str) -> list[Hit]:
    hits: list[Hit] = []
    pos = text.find("://")
    while pos >= 0:
        start = pos
        while start > 0 and pos - start < 30 and text[start - 1] in _SCHEME_CHARS:
            start -= 1
        m = patterns.CONNECTION_REGEX.match(text, start)
        if m and not _documentation_url(m.group("secret")):
            hits.append(_hit(patterns.CONNECTION_RULE, m.start("secret"), m.group("secret")))
        pos = text.find("://", pos + 3)
    return hits


def _name_span(text: str, index: int) -> tuple[int, int]:
    start = index
    while start > 0 and index - start < _MAX_NAME and text[start - 1] in _NAME_CHARS:
        start -= 1
    tail = _NAME_TAIL.match(text, index)
    return start, tail.end() if tail else index


def _judge(name: str, kind: str, m: re.Match[str], config_like: bool) -> Hit | None:
    """The hit for the value that ``m`` (a ``_VALUE`` match) assigns to ``name``, if any."""
    literal = _literal(m, config_like)
    if literal is None:
        return None
    value, start = literal
    if not value or _SPACE.search(value) or "://" in value:
        return None
    if filters.is_placeholder(value) or filters.is_label_value(name, value):
        return None
    rule = _value_rule(set(filters.name_words(name)), kind, value)
    return _hit(rule, start, value) if rule else None


def _literal(m: re.Match[str], config_like: bool) -> tuple[str, int] | None:
    """The assigned value and its offset, after any auth scheme (``Bearer ...``); None when
    it is code rather than a literal."""
    group = next((g for g in ("dq", "sq", "bq", "bare") if m.group(g) is not None), "bare")
    if group == "bare" and not config_like:
        return None
    value, start = m.group(group), m.start(group)
    if group == "bare":  # YAML flow mappings, INI lists: "{password: x}", "pwd=x;"
        value = value.rstrip(",;)}]")
        if _EXPRESSION.search(value) or _DOTTED.fullmatch(value):
            return None  # code (a call, an index, settings.X), not a literal
    prefix = _AUTH_PREFIX.match(value)
    if prefix:
        value, start = value[prefix.end() :], start + prefix.end()
    return value, start


def _value_rule(words: set[str], kind: str, value: str) -> tuple[str, str, str, Severity] | None:
    """The rule a literal ``value`` breaks, given its name's ``words`` and ``kind``."""
    if ("aws" in words or {"access", "key"} <= words) and "secret" in words:
        if _AWS_SECRET.fullmatch(value):
            return ("secret-aws-secret-access-key", "aws-secret-access-key",
                    "AWS secret access key", Severity.CRITICAL)  # fmt: skip
    if kind == "password":
        return ("secret-generic-password", "password", "Hard-coded password", Severity.HIGH)
    if _UUID.fullmatch(value) and not ("secret" in words or "apikey" in words or "api" in words):
        return None  # request ids and idempotency tokens, unless the name says "secret"
    if filters.looks_random(value):
        return ("secret-generic-high-entropy", "high-entropy", "High-entropy secret value",
                Severity.HIGH)  # fmt: skip
    return None


def _keyword_positions(lower: str) -> list[int]:
    positions: list[int] = []
    for keyword in GENERIC_KEYWORDS:
        pos = lower.find(keyword)
        while pos >= 0:
            positions.append(pos)
            pos = lower.find(keyword, pos + 1)
    positions.sort()
    return positions


def _generic(text: str, config_like: bool) -> list[Hit]:
    lower = text.lower()
    if len(lower) != len(text):  # "İ".lower() is two characters: keep offsets aligned
        lower = text.translate(_ASCII_LOWER)
    if not any(k in lower for k in GENERIC_KEYWORDS):
        return []
    hits: list[Hit] = []
    done = 0  # text before this offset is a name or a value already looked at
    for pos in _keyword_positions(lower):
        if pos < done:
            continue  # a keyword inside an earlier name or value is not a new assignment
        start, end = _name_span(text, pos)
        done = end
        if not _ASSIGN_AHEAD.match(text, end):
            continue
        name = text[start:end]
        kind = filters.classify_name(name)
        m = _VALUE.match(text, end) if kind else None
        if kind is None or m is None:
            continue
        done = m.end()
        # Inside a string literal ("Server=db;Password=x;", "?token=x&") values are bare;
        # those formats put "=" right after the name and the value right after "=".
        embedded = (
            start > 0
            and text[start - 1] in _EMBEDDED_BEFORE
            and text[end : end + 1] == "="
            and not text[end + 1 : end + 2].isspace()
        )
        hit = _judge(name, kind, m, config_like or embedded)
        if hit:
            hits.append(hit)
    return hits


def find_hits(text: str, *, config_like: bool = False) -> list[Hit]:
    """Every secret in ``text``, in order, without overlaps (specific formats win).

    ``config_like`` allows unquoted values (``.env``, YAML, INI): in code an unquoted value
    is an expression, not a literal.
    """
    chosen: list[Hit] = []
    starts: list[int] = []  # sorted starts of ``chosen`` (kept in step for bisect)
    detectors = (
        _providers(text),
        _private_keys(text),
        _jwts(text),
        _connection_strings(text),
        _generic(text, config_like),
    )
    for found in detectors:
        for hit in found:
            if filters.is_known_example(hit.secret):
                continue
            i = bisect.bisect_left(starts, hit.start)
            if i < len(chosen) and chosen[i].start < hit.end:
                continue  # overlaps the next chosen hit
            if i > 0 and chosen[i - 1].end > hit.start:
                continue  # overlaps the previous one
            chosen.insert(i, hit)
            starts.insert(i, hit.start)
    return chosen
