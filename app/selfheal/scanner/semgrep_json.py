"""semgrep's JSON report, read into selfheal's terms: findings, per-file errors, fatal errors.

Pure functions over the decoded JSON; the runner in :mod:`app.scan.semgrep` does the I/O and
passes in a line reader (for snippets, which semgrep no longer includes without a login) and
the secret masker.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from selfheal.model.findings import Category, Finding, Severity, Source
from selfheal.scanner import ScannerError

SNIPPET_CHARS = 200
SNIPPET_LINES = 5
ERROR_CHARS = 300
SEVERITY_BY_SEMGREP = {"ERROR": Severity.HIGH, "WARNING": Severity.MEDIUM, "INFO": Severity.LOW}
CATEGORY_BY_NAME = {c.value: c for c in Category}
CWE_ID = re.compile(r"CWE-\d+")
OWASP_ID = re.compile(r"A\d{2}:\d{4}")
# (path, first line, last line) -> the source text of those lines.
LineReader = Callable[[str, int, int], str]


def _short(text: str, limit: int, mask: Callable[[str], str]) -> str:
    text = mask(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_text(error: Mapping[str, Any]) -> str:
    kind = error.get("type")
    name = kind[0] if isinstance(kind, list) and kind else str(kind or "error")
    detail = str(error.get("message") or error.get("long_msg") or error.get("short_msg") or "")
    return f"{name}: {detail.splitlines()[0] if detail else ''}".rstrip(": ")


def classify_errors(
    errors: Sequence[Mapping[str, Any]], mask: Callable[[str], str]
) -> tuple[list[str], list[str]]:
    """Split semgrep's error list into (fatal, per-file) messages."""
    fatal: list[str] = []
    per_file: list[str] = []
    for error in errors:
        path = error.get("path")
        text = _short(_error_text(error), ERROR_CHARS, mask)
        kind = str(error.get("type", "")).lower()
        if path and "rule" not in kind and "config" not in kind:
            per_file.append(f"{path}: {text}")
        else:
            fatal.append(text)
    return fatal, per_file


def parse_output(code: int, stdout: str, stderr: str) -> Mapping[str, Any]:
    try:
        report = json.loads(stdout)
    except ValueError:
        report = None
    if not isinstance(report, dict):
        tail = " ".join(stderr.strip().splitlines()[-3:])[:ERROR_CHARS]
        raise ScannerError(f"semgrep failed (exit {code}) without a JSON report: {tail}")
    return report


def _metadata_severity(metadata: Mapping[str, Any], semgrep_severity: str) -> Severity:
    override = metadata.get("selfheal-severity")
    if isinstance(override, str):
        try:
            return Severity.parse(override)
        except ValueError:
            pass
    return SEVERITY_BY_SEMGREP.get(semgrep_severity.upper(), Severity.MEDIUM)


def _ids(values: Any, pattern: re.Pattern[str]) -> tuple[str, ...]:
    items = values if isinstance(values, list) else [values] if isinstance(values, str) else []
    found: list[str] = []
    for item in items:
        match = pattern.search(str(item))
        if match and match.group(0) not in found:
            found.append(match.group(0))
    return tuple(found)


def _position(result: Mapping[str, Any], key: str) -> tuple[int, int]:
    spot = result.get(key) or {}
    return int(spot.get("line", 0) or 0), int(spot.get("col", 0) or 0)


def to_finding(
    result: Mapping[str, Any], source_lines: LineReader, mask: Callable[[str], str]
) -> Finding:
    """One semgrep JSON result as a Finding; snippet from ``source_lines``, cut and masked."""
    extra = result.get("extra") or {}
    metadata = extra.get("metadata") or {}
    path = str(result.get("path", "")).removeprefix("./")
    line, column = _position(result, "start")
    end_line, end_column = _position(result, "end")
    snippet = source_lines(path, line, min(end_line, line + SNIPPET_LINES - 1))
    if len(snippet) > SNIPPET_CHARS:
        snippet = snippet[: SNIPPET_CHARS - 1] + "…"
    properties = {"confidence": str(metadata.get("confidence", ""))}
    if isinstance(metadata.get("selfheal-scope"), str):
        properties["scope"] = metadata["selfheal-scope"]
    return Finding(
        rule_id=str(result.get("check_id", "")).rsplit(".", 1)[-1],
        category=CATEGORY_BY_NAME.get(str(metadata.get("category", "")), Category.OTHER),
        severity=_metadata_severity(metadata, str(extra.get("severity", ""))),
        path=path,
        line=line,
        message=" ".join(str(extra.get("message", "")).split()),
        source=Source.SEMGREP,
        snippet=mask(snippet),
        cwe=_ids(metadata.get("cwe"), CWE_ID),
        owasp=_ids(metadata.get("owasp"), OWASP_ID),
        column=column,
        end_line=end_line,
        end_column=end_column,
        properties=properties,
    )
