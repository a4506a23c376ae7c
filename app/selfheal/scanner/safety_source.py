"""Optional advisory source: the ``safety`` CLI (``--cve-source safety``).

It needs the ``safety`` extra and network access, so every step is bounded: the package is
looked for first, connectivity is probed with a short timeout (in a thread, so a slow DNS
lookup cannot hang us either), and safety itself runs under a subprocess timeout. Any
problem raises :class:`ScannerError` with a message that says what to do; the default OSV
source works offline.

Dependencies are parsed by our own parsers; only exact pins are sent to safety (as a
temporary requirements file), and its answers are mapped back to the declaring lines.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from selfheal.model.findings import Category, Finding, Severity, Source
from selfheal.scanner import ScannerError
from selfheal.scanner.advisories import AdvisoryDB, normalize_name
from selfheal.scanner.depfiles import Dependency
from selfheal.scanner.deps import CWE, OWASP, RULE_ID, analyse_dependencies, error_finding
from selfheal.scanner.secrets import mask_secrets

PROBE_ENV = "SELFHEAL_SAFETY_PROBE"  # "host:port" to probe instead of the default
DEFAULT_PROBE = ("pyup.io", 443)
PROBE_TIMEOUT = 3.0
NOT_INSTALLED = (
    "safety is not installed; install the extra with `pip install 'selfheal[safety]'` "
    "or use the default OSV source (--cve-source osv)"
)
OFFLINE = "safety needs network access ({detail}); the default OSV source works offline"
SEVERITY_WORDS = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "low": Severity.LOW,
}


def safety_command() -> list[str] | None:
    """The argv prefix that runs safety, or None when it is not installed."""
    if importlib.util.find_spec("safety") is None:
        return None
    return [sys.executable, "-m", "safety"]


def probe_address(env: Mapping[str, str] | None = None) -> tuple[str, int]:
    value = (os.environ if env is None else env).get(PROBE_ENV, "")
    host, _, port = value.rpartition(":")
    if host and port.isdigit():
        return host, int(port)
    return DEFAULT_PROBE


def probe_network(address: tuple[str, int], timeout: float = PROBE_TIMEOUT) -> str:
    """ "" when a TCP connection to ``address`` succeeds within ``timeout``, else why not."""
    outcome: list[str] = []

    def attempt() -> None:
        try:
            with socket.create_connection(address, timeout=timeout):
                outcome.append("")
        except OSError as exc:
            outcome.append(f"cannot reach {address[0]}:{address[1]}: {exc.strerror or exc}")

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout + 1.0)
    return outcome[0] if outcome else f"no answer from {address[0]}:{address[1]} in {timeout}s"


def _vulnerabilities(output: str) -> list[dict[str, Any]]:
    """Normalise safety's JSON (v3 object with "vulnerabilities", or v2 list of lists)."""
    start = output.find("{") if output.lstrip().startswith("{") else output.find("[")
    try:
        data = json.loads(output[start:]) if start >= 0 else None
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("vulnerabilities"), list):
        return [v for v in data["vulnerabilities"] if isinstance(v, dict)]
    if isinstance(data, list):
        return [
            {
                "package_name": v[0],
                "analyzed_version": v[2],
                "advisory": v[3],
                "vulnerability_id": v[4],
            }
            for v in data
            if isinstance(v, list) and len(v) >= 5
        ]
    raise ScannerError("safety returned output that is not its JSON report")


def _finding(dep: Dependency, vuln: Mapping[str, Any]) -> Finding:
    vid = str(vuln.get("vulnerability_id") or "unknown")
    cve = vuln.get("CVE") or vuln.get("cve")
    aliases = [str(cve)] if cve else []
    fixed = [str(f) for f in vuln.get("fixed_versions") or ()]
    sev = vuln.get("severity")
    level = Severity.HIGH
    if isinstance(sev, Mapping):
        word = str(
            sev.get("cvssv3", {}).get("base_severity", "")
            if isinstance(sev.get("cvssv3"), Mapping)
            else ""
        ).lower()
        level = SEVERITY_WORDS.get(word, Severity.HIGH)
    first = fixed[0] if fixed else "no fixed version"
    summary = " ".join(str(vuln.get("advisory") or "").split())[:240]
    alias_text = ", ".join(aliases) or "no aliases"
    material = "\x1f".join((RULE_ID, dep.path, dep.name, str(dep.pinned), vid))
    return Finding(
        rule_id=RULE_ID,
        category=Category.DEPENDENCY,
        severity=level,
        path=dep.path,
        line=dep.line,
        source=Source.DEPENDENCIES,
        snippet=mask_secrets(dep.declared),
        cwe=CWE,
        owasp=OWASP,
        message=f"{dep.name} {dep.pinned} is vulnerable: safety {vid} ({alias_text}); "
        f"{'fixed in ' + first if fixed else first}. {summary}".strip(),
        properties={
            "advisory": f"safety-{vid}",
            "aliases": aliases,
            "package": dep.name,
            "version": dep.pinned,
            "fixed": fixed,
            "first_fixed": first,
            "match": "pinned",
            "advisory_data": "safety (pyup.io)",
        },
        fingerprint=hashlib.sha256(material.encode()).hexdigest()[:32],
    )


def scan_with_safety(
    paths: Sequence[str],
    read: Callable[[str], str | None],
    *,
    changed_lines: Mapping[str, Collection[int]] | None = None,
    timeout: float = 120.0,
    probe: tuple[str, int] | None = None,
    command: Sequence[str] | None = None,
) -> list[Finding]:
    """Check the exact pins in ``paths`` with safety. Raises ScannerError on any problem.

    ``command`` replaces the safety argv prefix (default: ``python -m safety`` when the
    package is importable); ``probe`` replaces the connectivity probe address.
    """
    argv = list(command) if command is not None else safety_command()
    if argv is None:
        raise ScannerError(NOT_INSTALLED)
    problem = probe_network(probe or probe_address())
    if problem:
        raise ScannerError(OFFLINE.format(detail=problem))
    empty = AdvisoryDB([], source="safety")
    parsed = analyse_dependencies(paths, read, empty, changed_lines=changed_lines)
    pins = [d for d in parsed.dependencies if d.pinned and not d.unknown]
    # parse errors, and the info findings for URL/VCS dependencies (no advisories here)
    findings = [error_finding(e) for e in parsed.errors] + parsed.findings
    if not pins:
        return findings
    report = _run_safety(argv, pins, timeout)
    findings.extend(_pin_findings(pins, _vulnerabilities(report)))
    return findings


def _run_safety(argv: Sequence[str], pins: Sequence[Dependency], timeout: float) -> str:
    """Run ``safety check`` on the pins (as a temporary requirements file); its JSON output."""
    with tempfile.TemporaryDirectory(prefix="selfheal-safety-") as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text("".join(sorted({f"{d.name}=={d.pinned}\n" for d in pins})), "utf-8")
        try:
            done = subprocess.run(
                [*argv, "check", "--output", "json", "-r", str(req)],
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ScannerError(f"safety did not finish within {timeout:g}s") from None
        except OSError as exc:
            raise ScannerError(f"safety could not be started: {exc}") from None
    if done.returncode not in (0, 64, 255) and not done.stdout.strip():
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise ScannerError(f"safety failed (exit {done.returncode}): {tail[0][:200]}")
    return done.stdout


def _pin_findings(
    pins: Sequence[Dependency], vulnerabilities: Sequence[Mapping[str, Any]]
) -> list[Finding]:
    """A finding for each pin a vulnerability names: same package and, when the answer
    gives one, the same version."""
    by_name: dict[str, list[Dependency]] = {}
    for dep in pins:
        by_name.setdefault(dep.name, []).append(dep)
    findings: list[Finding] = []
    for vuln in vulnerabilities:
        name = normalize_name(str(vuln.get("package_name", "")))
        version = str(vuln.get("analyzed_version", ""))
        for dep in by_name.get(name, ()):
            if not version or dep.pinned == version:
                findings.append(_finding(dep, vuln))
    return findings
