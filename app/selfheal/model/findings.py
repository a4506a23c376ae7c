"""The finding model shared by every scanner, the reviewer and every report format.

Pure data: no I/O here. Scanners produce :class:`Finding` objects; the reviewer turns a list
of them into a :class:`Verdict`; ``app.report`` renders either as text, JSON, SARIF, markdown
or GitHub workflow annotations.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.IntEnum):
    """Ordered severities; comparisons work (``Severity.HIGH > Severity.LOW``)."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, value: str) -> Severity:
        try:
            return cls[value.strip().upper()]
        except KeyError:
            names = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {value!r} (expected one of: {names})") from None

    @property
    def label(self) -> str:
        return self.name.lower()


class Category(enum.StrEnum):
    """What kind of problem a finding is. Used by the decision rules in ``app.review``."""

    SECRET = "secret"  # noqa: S105 (a category name, not a password)
    INJECTION = "injection"
    DANGEROUS_CODE = "dangerous-code"
    CRYPTO = "crypto"
    CONFIG = "insecure-config"
    DEPENDENCY = "vulnerable-dependency"
    PROTECTED_PATH = "protected-path"
    REVIEW_PATH = "review-path"
    SENSITIVE_CHANGE = "sensitive-change"  # policy, CODEOWNERS or workflow edits
    SCANNER_ERROR = "scanner-error"  # a scanner failed: the gate fails closed
    SKIPPED = "skipped"  # a file was not scanned (too large, binary, unreadable)
    OTHER = "other"


class Source(enum.StrEnum):
    """Which engine produced the finding."""

    SEMGREP = "semgrep"
    SECRETS = "secrets"
    DEPENDENCIES = "dependencies"
    POLICY = "policy"
    ENGINE = "engine"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at one place.

    ``snippet`` must already be redacted by the scanner that produced it: no report format
    ever sees a whole secret. ``line`` is 1-based; 0 means "the whole file" (for example a
    protected path or a vulnerable dependency whose line is unknown).
    """

    rule_id: str
    category: Category
    severity: Severity
    path: str
    line: int
    message: str
    source: Source
    snippet: str = ""
    cwe: tuple[str, ...] = ()  # e.g. ("CWE-798",)
    owasp: tuple[str, ...] = ()  # e.g. ("A07:2021",)
    column: int = 0
    end_line: int = 0
    end_column: int = 0
    # Extra machine-readable facts (advisory ids, installed and fixed versions, owners ...).
    properties: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # Stable identity of the thing found, independent of line numbers where possible
    # (e.g. a hash of the secret). Filled in by :func:`fingerprint` when left empty.
    fingerprint: str = ""

    def __post_init__(self) -> None:
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", fingerprint(self))

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "category": self.category.value,
            "severity": self.severity.label,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line or self.line,
            "message": self.message,
            "snippet": self.snippet,
            "cwe": list(self.cwe),
            "owasp": list(self.owasp),
            "source": self.source.value,
            "fingerprint": self.fingerprint,
            "properties": dict(self.properties),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        return cls(
            rule_id=str(data["rule_id"]),
            category=Category(data["category"]),
            severity=Severity.parse(str(data["severity"])),
            path=str(data["path"]),
            line=int(data.get("line", 0)),
            message=str(data["message"]),
            source=Source(data["source"]),
            snippet=str(data.get("snippet", "")),
            cwe=tuple(data.get("cwe", ())),
            owasp=tuple(data.get("owasp", ())),
            column=int(data.get("column", 0)),
            end_line=int(data.get("end_line", 0)),
            properties=dict(data.get("properties", {})),
            fingerprint=str(data.get("fingerprint", "")),
        )


def fingerprint(finding: Finding) -> str:
    """A stable id for a finding: rule, path and the (redacted) snippet, not the line."""
    material = "\x1f".join((finding.rule_id, finding.path, finding.snippet.strip()))
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Most severe first, then by path and line: the order every report uses."""
    return sorted(findings, key=lambda f: (-int(f.severity), f.path, f.line, f.rule_id))


def redact(secret: str, keep: int = 4) -> str:
    """Show at most ``keep`` leading characters of a secret and mask the rest.

    Short values are masked entirely, so no report ever prints a whole secret.
    """
    if len(secret) <= keep * 3:
        return "*" * min(len(secret), 8)
    return secret[:keep] + "*" * 8 + f"({len(secret)} chars)"


class Decision(enum.StrEnum):
    APPROVE = "approve"
    NEEDS_APPROVAL = "needs_approval"
    BLOCK = "block"


class Risk(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The reviewer's answer: a decision, a risk level, why, and the findings behind it."""

    decision: Decision
    risk: Risk
    reasons: tuple[str, ...]
    findings: tuple[Finding, ...]
    # Files that were not scanned and why (size limit, binary, unreadable ...).
    skipped: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision.value,
            "risk": self.risk.value,
            "reasons": list(self.reasons),
            "findings": [f.to_dict() for f in sort_findings(self.findings)],
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
        }
