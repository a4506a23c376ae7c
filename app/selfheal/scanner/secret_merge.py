"""Merge the community engine's secrets with our detector's: one finding per secret and place.

Pure: takes one file's text, our findings for it and the engine's hits for it, and returns
the merged findings. The engine's hits go through the same judgement as ours before they
count: documented example values (by hash), placeholder bodies (``xxxx``, ``${VAR}``,
``<your-key>``, low-entropy runs), the inline ``selfheal: allow-secret`` comment and the
changed-line restriction. A hit that overlaps one of our findings (same line, one secret
inside the other) is the same secret: our finding stays (its rule id and fingerprint keep
existing baselines valid) with the stricter severity of the two and the engine's rule named
in its properties. Snippets are our redacted line; no field ever holds the whole secret.
The baseline is applied later, by the pipeline, to all findings alike.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Iterable, Sequence

from selfheal.model.findings import Category, Finding, Severity, Source, redact
from selfheal.scanner import secret_filters as filters
from selfheal.scanner.secret_engine import EngineHit
from selfheal.scanner.secrets import (
    ALLOW_MARKER,
    CWE,
    MESSAGE,
    OWASP,
    mask_secrets,
    secret_fingerprint,
    secret_hash,
)

ENGINE_RULE_PREFIX = "secret-kingfisher-"
CONFIDENCE_SEVERITY = {"high": Severity.CRITICAL, "medium": Severity.HIGH, "low": Severity.MEDIUM}
_RULE_CHARS = re.compile(r"[^A-Za-z0-9_.\-]")
SNIPPET_MAX = 240


# --- helpers ---------------------------------------------------------------------------


def _is_fake(secret: str) -> bool:
    """A value the engine matched that our filters know to be an example or a stand-in."""
    if filters.is_known_example(secret) or filters.is_provider_placeholder(secret):
        return True
    body = secret.split("_", 1)[-1] if "_" in secret[:12] else secret
    return filters.is_provider_placeholder(body)


def _snippet(line_text: str, secret: str) -> str:
    if secret not in line_text:
        # Found in a decoded form (a base64 blob, say): the line itself would carry the
        # secret in that encoding, so only the redacted secret is shown.
        return f"{redact(secret)} (encoded on this line)"
    masked = mask_secrets(line_text.replace(secret, redact(secret))).rstrip()
    if len(masked) <= SNIPPET_MAX:
        return masked.strip()
    at = masked.find(redact(secret))
    lo = max(0, at - 80)
    return f"…{masked[lo : lo + SNIPPET_MAX - 1]}…" if lo else f"{masked[: SNIPPET_MAX - 1]}…"


def _finding(path: str, hit: EngineHit, line_text: str) -> Finding:
    rule_id = ENGINE_RULE_PREFIX + _RULE_CHARS.sub("-", hit.rule_id)
    digest = secret_hash(hit.secret)
    title = hit.title.replace("-", " ").strip() or "Secret"
    return Finding(
        rule_id=rule_id,
        category=Category.SECRET,
        severity=CONFIDENCE_SEVERITY.get(hit.confidence, Severity.HIGH),
        path=path,
        line=hit.line,
        message=MESSAGE.format(title=f"{title[0].upper()}{title[1:]} (found by Kingfisher)"),
        source=Source.SECRETS,
        snippet=_snippet(line_text, hit.secret),
        cwe=CWE,
        owasp=OWASP,
        column=hit.column + 1,
        end_line=hit.line,
        end_column=hit.end_column + 1,
        properties={"secret_hash": digest, "kind": hit.rule_id, "engines": ["kingfisher"]},
        fingerprint=secret_fingerprint(rule_id, digest),
    )


def _same_secret(ours: Finding, hit: EngineHit, digest: str) -> bool:
    if not ours.line <= hit.line <= max(ours.end_line, ours.line):
        return False
    if ours.properties.get("secret_hash") == digest:
        return True
    # Spans on the same line that overlap: one format's match inside another's.
    if ours.line == hit.line == ours.end_line and ours.column and ours.end_column:
        return ours.column - 1 < hit.end_column and hit.column < ours.end_column - 1
    return False


def _stricter(ours: Finding, hit: EngineHit) -> Finding:
    theirs = CONFIDENCE_SEVERITY.get(hit.confidence, Severity.HIGH)
    engines = list(ours.properties.get("engines", ["selfheal"]))
    matched = list(ours.properties.get("engine_rules", []))
    properties = {
        **ours.properties,
        "engines": sorted({*engines, "kingfisher"}),
        "engine_rules": sorted({*matched, hit.rule_id}),
    }
    return dataclasses.replace(ours, severity=max(ours.severity, theirs), properties=properties)


# --- public ----------------------------------------------------------------------------


def merge_file(
    path: str,
    text: str,
    ours: Sequence[Finding],
    hits: Iterable[EngineHit],
    lines: Collection[int] | None = None,
) -> list[Finding]:
    """Our findings for ``path`` with the engine's ``hits`` merged in (see the module doc)."""
    merged = list(ours)
    text_lines = text.splitlines()
    for hit in sorted(hits, key=lambda h: (h.line, h.column, -len(h.secret))):
        if lines is not None and hit.line not in lines:
            continue
        if hit.line > len(text_lines) or _is_fake(hit.secret):
            continue
        line_text = text_lines[hit.line - 1]
        if ALLOW_MARKER.search(line_text):
            continue
        digest = secret_hash(hit.secret)
        same = next((i for i, f in enumerate(merged) if _same_secret(f, hit, digest)), None)
        if same is not None:
            merged[same] = _stricter(merged[same], hit)
        else:
            merged.append(_finding(path, hit, line_text))
    return merged
