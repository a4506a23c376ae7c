"""Secret detection: turn the secrets in a file's text into redacted findings.

Public API:

* :func:`scan_secrets` — findings for one file (``lines`` restricts them to changed lines);
* :func:`mask_secrets` — the same text with every detected secret redacted (for logs and the
  snippets of other scanners);
* :func:`secret_hash` — the SHA-256 that identifies a secret in findings and baselines.

Detection itself lives in :mod:`app.scan.secret_detect` (formats in
:mod:`app.scan.secret_patterns`, placeholder and entropy tests in
:mod:`app.scan.secret_filters`). A line containing ``selfheal: allow-secret`` (in any
comment syntax) produces no finding. No field of a finding ever holds a whole secret: the
snippet is the line with each secret replaced by :func:`app.findings.redact`, and the
fingerprint is derived from the rule and the secret's hash, so it survives moved lines.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Collection, Sequence

from selfheal.model.findings import Category, Finding, Source, redact
from selfheal.scanner.secret_detect import Hit, find_hits
from selfheal.scanner.secret_filters import is_config_path

ALLOW_MARKER = re.compile(r"selfheal:[ \t]*allow-secret")
CWE = ("CWE-798",)
OWASP = ("A07:2021",)
# Snippets longer than this (minified files, long lines) are cut around the secret.
SNIPPET_MAX = 240
SNIPPET_CONTEXT = 80
MESSAGE = (
    "{title} committed in plain text. Revoke or rotate it, then load it from the "
    "environment or a secret store."
)


def secret_hash(secret: str) -> str:
    """SHA-256 (hex) of a secret value: how findings and baselines identify a secret."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def secret_fingerprint(rule_id: str, digest: str) -> str:
    """A finding fingerprint from the rule and the secret's hash: stable across line moves."""
    return hashlib.sha256(f"{rule_id}\x1f{digest}".encode()).hexdigest()[:32]


class _Lines:
    """Maps offsets to 1-based line numbers and back, computed once per text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0, *(m.end() for m in re.finditer("\n", text))]

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def bounds(self, line: int) -> tuple[int, int]:
        start = self.starts[line - 1]
        end = self.starts[line] - 1 if line < len(self.starts) else len(self.text)
        if end > start and self.text[end - 1] == "\r":
            end -= 1
        return start, end


def _on_line(hits: Sequence[Hit], ends: Sequence[int], lo: int, hi: int) -> Sequence[Hit]:
    """The hits overlapping ``[lo, hi)``; ``hits`` are sorted and disjoint, ``ends`` theirs."""
    first = bisect.bisect_right(ends, lo)
    last = first
    while last < len(hits) and hits[last].start < hi:
        last += 1
    return hits[first:last]


def _snippet(text: str, lo: int, hi: int, hits: Sequence[Hit], focus: Hit) -> str:
    """``text[lo:hi]`` (one line) with every secret in ``hits`` redacted, cut around ``focus``."""
    parts: list[str] = []
    cursor = lo
    focus_at = 0
    for hit in hits:
        parts.append(text[cursor : max(cursor, hit.start)])
        if hit is focus:
            focus_at = sum(len(p) for p in parts)
        parts.append(redact(hit.secret))
        cursor = max(cursor, min(hit.end, hi))
    parts.append(text[cursor:hi])
    line = "".join(parts).rstrip()
    if focus.start >= hi:  # a key block: the secret starts below its BEGIN line
        focus_at = len(line) + 1
        line = f"{line} {redact(focus.secret)}"
    if len(line) <= SNIPPET_MAX:
        return line
    cut_lo = max(0, focus_at - SNIPPET_CONTEXT)
    cut_hi = min(len(line), focus_at + len(redact(focus.secret)) + SNIPPET_CONTEXT)
    head = "…" if cut_lo > 0 else ""
    tail = "…" if cut_hi < len(line) else ""
    return f"{head}{line[cut_lo:cut_hi]}{tail}"


def _finding(path: str, index: _Lines, hit: Hit, line: int, on_line: Sequence[Hit]) -> Finding:
    lo, hi = index.bounds(line)
    digest = secret_hash(hit.secret)
    anchor_line = index.line_of(hit.anchor)
    column = (hit.anchor if line == anchor_line else lo) - lo + 1
    end_line = index.line_of(max(hit.start, hit.end - 1))
    end_column = hit.end - index.bounds(end_line)[0] + 1
    return Finding(
        rule_id=hit.rule_id,
        category=Category.SECRET,
        severity=hit.severity,
        path=path,
        line=line,
        message=MESSAGE.format(title=hit.title),
        source=Source.SECRETS,
        snippet=_snippet(index.text, lo, hi, on_line, hit),
        cwe=CWE,
        owasp=OWASP,
        column=column,
        end_line=max(end_line, line),
        end_column=end_column,
        properties={"secret_hash": digest, "kind": hit.kind},
        fingerprint=secret_fingerprint(hit.rule_id, digest),
    )


def scan_secrets(path: str, text: str, lines: Collection[int] | None = None) -> list[Finding]:
    """Findings for the secrets in ``text`` (the content of ``path``).

    ``lines`` are 1-based line numbers that may produce findings (``None``: all). A secret
    spanning several lines (a key block) is reported when any of its lines is allowed, on
    its ``BEGIN`` line or else on the first allowed line.
    """
    if not text or (lines is not None and not lines):
        return []
    hits = find_hits(text, config_like=is_config_path(path))
    if not hits:
        return []
    allowed = None if lines is None else frozenset(lines)
    index = _Lines(text)
    ends = [hit.end for hit in hits]
    findings: list[Finding] = []
    for hit in hits:
        first = index.line_of(hit.anchor)
        line = first
        if allowed is not None:
            last = index.line_of(max(hit.start, hit.end - 1))
            line = next((n for n in range(first, last + 1) if n in allowed), 0)
            if not line:
                continue
        lo, hi = index.bounds(first)
        if ALLOW_MARKER.search(text, lo, hi):
            continue
        lo, hi = index.bounds(line)
        findings.append(_finding(path, index, hit, line, _on_line(hits, ends, lo, hi)))
    return findings


def mask_secrets(text: str) -> str:
    """``text`` with every detected secret replaced by its redacted form.

    Unquoted ``name=value`` pairs count (as in a log line or an env dump); inline
    ``allow-secret`` markers are ignored: a suppressed secret is still not printed.
    """
    if not text:
        return text
    hits = find_hits(text, config_like=True)
    if not hits:
        return text
    parts: list[str] = []
    cursor = 0
    for hit in hits:
        parts.append(text[cursor : hit.start])
        parts.append(redact(hit.secret))
        cursor = hit.end
    parts.append(text[cursor:])
    return "".join(parts)
