"""A baseline: known findings that are accepted and no longer reported.

The file is JSON and never holds a secret, only its SHA-256::

    {
      "version": 1,
      "generated_by": "selfheal",
      "entries": [
        {"rule_id": "secret-github-token", "path": "config/dev.py",
         "secret_hash": "<sha256 hex of the secret>", "kind": "github-token"},
        {"rule_id": "python-sql-injection", "path": "app/db.py",
         "fingerprint": "<Finding.fingerprint>"}
      ]
    }

A secret finding is suppressed by an entry with the same rule, path and secret hash (so a
secret that moves to another line stays suppressed, while a different secret on the same
line does not); any other finding by the same rule, path and fingerprint.
``selfheal scan --write-baseline`` writes one from the current findings.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfheal.model.findings import Finding

BASELINE_VERSION = 1
_SHA256 = re.compile(r"[0-9a-f]{64}")


class BaselineError(ValueError):
    """The baseline file cannot be read or is not a valid baseline (a configuration error)."""


@dataclass(frozen=True, slots=True, order=True)
class BaselineEntry:
    """One accepted finding: by secret hash when it is a secret, else by fingerprint."""

    rule_id: str
    path: str
    secret_hash: str = ""
    fingerprint: str = ""
    kind: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.rule_id, self.path, self.secret_hash or f"fp:{self.fingerprint}")

    def to_dict(self) -> dict[str, str]:
        data = {"rule_id": self.rule_id, "path": self.path}
        if self.secret_hash:
            data["secret_hash"] = self.secret_hash
        else:
            data["fingerprint"] = self.fingerprint
        if self.kind:
            data["kind"] = self.kind
        return data


def _norm_path(path: str) -> str:
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def _entry_key(finding: Finding) -> tuple[str, str, str]:
    digest = finding.properties.get("secret_hash")
    material = str(digest) if digest else f"fp:{finding.fingerprint}"
    return (finding.rule_id, _norm_path(finding.path), material)


def _parse_entry(item: Any, where: str) -> BaselineEntry:
    if not isinstance(item, Mapping):
        raise BaselineError(f"{where}: expected an object")
    for key in ("rule_id", "path"):
        if not isinstance(item.get(key), str) or not item[key]:
            raise BaselineError(f"{where}: missing or invalid {key!r}")
    digest = item.get("secret_hash", "")
    fingerprint = item.get("fingerprint", "")
    kind = item.get("kind", "")
    if not isinstance(digest, str) or (digest and not _SHA256.fullmatch(digest)):
        raise BaselineError(f"{where}: 'secret_hash' must be a lower-case sha256 hex digest")
    if not isinstance(fingerprint, str) or not isinstance(kind, str):
        raise BaselineError(f"{where}: 'fingerprint' and 'kind' must be strings")
    if not digest and not fingerprint:
        raise BaselineError(f"{where}: needs 'secret_hash' or 'fingerprint'")
    return BaselineEntry(item["rule_id"], _norm_path(item["path"]), digest, fingerprint, kind)


class Baseline:
    """A set of accepted findings; see the module docstring for the file format."""

    def __init__(self, entries: Iterable[BaselineEntry] = ()) -> None:
        self._entries = {entry.key: entry for entry in entries}

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def entries(self) -> list[BaselineEntry]:
        return sorted(self._entries.values())

    @classmethod
    def from_findings(cls, findings: Iterable[Finding]) -> Baseline:
        entries = []
        for finding in findings:
            digest = str(finding.properties.get("secret_hash", "") or "")
            entries.append(
                BaselineEntry(
                    rule_id=finding.rule_id,
                    path=_norm_path(finding.path),
                    secret_hash=digest,
                    fingerprint="" if digest else finding.fingerprint,
                    kind=str(finding.properties.get("kind", "")) if digest else "",
                )
            )
        return cls(entries)

    @classmethod
    def load(cls, path: Path) -> Baseline:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise BaselineError(f"{path}: cannot read baseline: {exc.strerror}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BaselineError(f"{path}: not a JSON baseline: {exc}") from None
        if not isinstance(data, dict):
            raise BaselineError(f"{path}: expected a JSON object")
        version = data.get("version")
        if version != BASELINE_VERSION or isinstance(version, bool):
            raise BaselineError(
                f"{path}: unsupported baseline version {version!r} (expected {BASELINE_VERSION})"
            )
        items = data.get("entries")
        if not isinstance(items, list):
            raise BaselineError(f"{path}: 'entries' must be a list")
        return cls(_parse_entry(item, f"{path}: entries[{i}]") for i, item in enumerate(items))

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": BASELINE_VERSION,
            "generated_by": "selfheal",
            "entries": [entry.to_dict() for entry in self.entries],
        }

    def save(self, path: Path) -> None:
        """Write the baseline atomically (a temporary file renamed over ``path``)."""
        path = Path(path)
        text = json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".baseline-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def suppresses(self, finding: Finding) -> bool:
        return _entry_key(finding) in self._entries

    def filter(self, findings: Iterable[Finding]) -> list[Finding]:
        """The findings that this baseline does not suppress, in their original order."""
        return [finding for finding in findings if not self.suppresses(finding)]
