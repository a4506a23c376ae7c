"""SARIF 2.1.0 for GitHub code scanning and any SARIF viewer.

One run, ``tool.driver`` "selfheal" with one reporting descriptor per rule found (tags
``security``, the CWE and OWASP ids, a numeric ``security-severity`` that GitHub maps to
critical/high/medium/low, and a ``precision``). Results point at repository-relative URIs
under ``%SRCROOT%``; a finding without a line (line 0) points at line 1. Our stable
fingerprint goes into ``partialFingerprints["selfheal/v1"]``. Scanner errors set
``invocations[0].executionSuccessful`` to false with one error notification each; skipped
files become note-level notifications.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from selfheal import __version__
from selfheal.model.findings import Finding, Severity, sort_findings
from selfheal.report.summary import Report

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://github.com/selfheal/selfheal"
FINGERPRINT_KEY = "selfheal/v1"
# GitHub: over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
}
LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
PRECISIONS = frozenset({"very-high", "high", "medium", "low"})
MAX_SKIPPED_NOTIFICATIONS = 1000
CATEGORY_DESCRIPTIONS = {
    "secret": "A secret (key, token, password) committed in plain text.",
    "injection": "Untrusted data reaches an interpreter (SQL, shell, code, markup).",
    "dangerous-code": "A dangerous construct that needs a careful look.",
    "crypto": "Weak cryptography or randomness.",
    "insecure-config": "An insecure configuration.",
    "vulnerable-dependency": "A dependency version with a known vulnerability.",
    "scanner-error": "A file or dependency that could not be checked.",
}


def _artifact_uri(path: str) -> str:
    return quote(path.lstrip("/"), safe="/-._~")


def _cwe_uri(cwe: str) -> str | None:
    number = cwe.upper().removeprefix("CWE-").split(":")[0].strip()
    return f"https://cwe.mitre.org/data/definitions/{number}.html" if number.isdigit() else None


def _rule_name(rule_id: str) -> str:
    """A readable identifier (``python.sql-injection`` -> ``PythonSqlInjection``)."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", rule_id))


def _text(value: Any, fallback: str) -> str:
    text = str(value).strip() if value else ""
    return text or fallback


def _rule(finding: Finding, messages: set[str]) -> dict[str, Any]:
    """The reporting descriptor, from the rule's most severe finding; ``messages`` are all
    messages seen for this rule."""
    severity, props = finding.severity, finding.properties
    name = _text(props.get("rule_name") or props.get("title"), finding.rule_id)
    # A rule whose findings all say the same thing is described by that message; one whose
    # messages vary per finding (a dependency advisory, say) by its category.
    generic = CATEGORY_DESCRIPTIONS.get(finding.category.value, finding.category.value)
    fallback = finding.message if len(messages) == 1 else generic
    full = _text(props.get("description"), fallback)
    tags = [
        "security",
        finding.category.value,
        *finding.cwe,
        *(f"OWASP-{o}" for o in finding.owasp),
    ]
    precision = str(props.get("precision") or props.get("confidence") or "high").lower()
    rule_props: dict[str, Any] = {
        "tags": list(dict.fromkeys(tags)),
        "precision": precision if precision in PRECISIONS else "high",
    }
    if severity in SECURITY_SEVERITY:
        rule_props["security-severity"] = SECURITY_SEVERITY[severity]
    rule: dict[str, Any] = {
        "id": finding.rule_id,
        "shortDescription": {"text": name},
        "fullDescription": {"text": full},
        "defaultConfiguration": {"level": LEVELS[severity]},
        "properties": rule_props,
    }
    name_id = _rule_name(finding.rule_id)
    if name_id and name_id != finding.rule_id:
        rule["name"] = name_id
    help_uri = props.get("help_uri") or next(filter(None, map(_cwe_uri, finding.cwe)), None)
    if help_uri:
        rule["helpUri"] = str(help_uri)
    rule["help"] = {"text": f"{full} ({', '.join(finding.cwe + finding.owasp) or 'no CWE'})"}
    return rule


def _artifact(path: str) -> dict[str, Any]:
    return {"artifactLocation": {"uri": _artifact_uri(path), "uriBaseId": "%SRCROOT%"}}


def _region(finding: Finding) -> dict[str, Any]:
    start = max(finding.line, 1)
    region: dict[str, Any] = {"startLine": start}
    end = max(finding.end_line, start)
    if end > start:
        region["endLine"] = end
    if finding.line > 0 and finding.column > 0:
        region["startColumn"] = finding.column
        if finding.end_column > 0 and (end > start or finding.end_column > finding.column):
            region["endColumn"] = finding.end_column
    if finding.snippet:
        region["snippet"] = {"text": finding.snippet}
    return region


def _result(finding: Finding, index: int) -> dict[str, Any]:
    return {
        "ruleId": finding.rule_id,
        "ruleIndex": index,
        "level": LEVELS[finding.severity],
        "message": {"text": _text(finding.message, finding.rule_id)},
        "locations": [
            {"physicalLocation": {**_artifact(finding.path), "region": _region(finding)}}
        ],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        "properties": {"severity": finding.severity.label, "source": finding.source.value},
    }


def _invocation(errors: Sequence[str], skipped: Sequence[tuple[str, str]]) -> dict[str, Any]:
    notes: list[dict[str, Any]] = [
        {"level": "error", "message": {"text": error}} for error in errors
    ]
    for path, reason in list(skipped)[:MAX_SKIPPED_NOTIFICATIONS]:
        notes.append(
            {
                "level": "note",
                "message": {"text": f"not scanned: {reason}"},
                "locations": [{"physicalLocation": _artifact(path)}],
            }
        )
    invocation: dict[str, Any] = {"executionSuccessful": not errors}
    if notes:
        invocation["toolExecutionNotifications"] = notes
    return invocation


def sarif_log(report: Report) -> dict[str, Any]:
    """The SARIF log as a dict (``render_sarif`` serialises it)."""
    findings, verdict, meta = report.findings, report.verdict, report.meta
    ordered = sort_findings(findings)
    # A rule's default level comes from the most severe finding of that rule.
    worst: dict[str, Finding] = {}
    for finding in ordered:
        worst.setdefault(finding.rule_id, finding)
    rule_ids = sorted(worst)
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    messages: dict[str, set[str]] = {}
    for finding in ordered:
        messages.setdefault(finding.rule_id, set()).add(finding.message)
    rules = [_rule(worst[r], messages[r]) for r in rule_ids]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "selfheal",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }
        },
        "invocations": [_invocation(report.errors, report.skipped)],
        "results": [_result(f, index[f.rule_id]) for f in ordered],
        "columnKind": "unicodeCodePoints",
    }
    if meta.get("root_uri"):
        run["originalUriBaseIds"] = {"%SRCROOT%": {"uri": meta["root_uri"]}}
    props: dict[str, Any] = {k: v for k, v in meta.items() if k != "root_uri"}
    if verdict is not None:
        props["decision"] = verdict.decision.value
        props["risk"] = verdict.risk.value
        props["reasons"] = list(verdict.reasons)
    if props:
        run["properties"] = props
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def render_sarif(report: Report) -> str:
    log = sarif_log(report)
    return json.dumps(log, indent=2, ensure_ascii=False, default=str) + "\n"
