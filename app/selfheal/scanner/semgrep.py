"""Run the semgrep CLI over files on disk and turn its JSON report into :class:`Finding` objects.

semgrep runs as a subprocess (an argv list, never a shell), offline: metrics and version checks
off, only local rule files. Rule files are the ``*.yaml``/``*.yml`` files under the config
folder (the test files next to them are not rules), packed into one JSON config.

Targets are always passed to semgrep explicitly, so a ``.semgrepignore`` or ``.gitignore``
inside the scanned repository cannot hide files from the gate, and ``nosemgrep`` comments are
ignored (``--disable-nosem``): suppressions go through selfheal's baseline instead.

Failure modes: a missing binary, a broken rule, a timeout, an unexpected exit code or
unreadable output raise :class:`ScannerError` (the gate fails closed). A single file semgrep
cannot parse is not fatal; it is listed in :attr:`SemgrepResult.errors`.

Engine: osemgrep (``semgrep scan --experimental``, ~10x faster start-up) by default;
pysemgrep on request. Both get the same packed, alias-free JSON copy of the rules (see
:mod:`app.scan.semgrep_engine`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selfheal.model.findings import Finding
from selfheal.resources import rules_dir
from selfheal.scanner import ScannerError
from selfheal.scanner.secrets import mask_secrets
from selfheal.scanner.semgrep_engine import (
    ENGINE_FLAGS,
    PYSEMGREP,
    alias_free_config,
    choose_engine,
)
from selfheal.scanner.semgrep_json import ERROR_CHARS, classify_errors, parse_output, to_finding

RULE_SUFFIXES = (".yaml", ".yml")
# Test files for YAML rules are named <rule>.test.yaml (semgrep's convention); not rules.
RULE_TEST_SUFFIXES = (".test.yaml", ".test.yml")
# Extensions our rules' languages use; for a whole-tree scan without explicit targets.
SCANNED_SUFFIXES = frozenset(
    {".py", ".pyi", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts", ".sh", ".bash"}
    | {".yml", ".yaml"}
)
SHEBANG = re.compile(rb"^#!.*\b(ba|da|k|z)?sh\b|^#!.*\b(python[0-9.]*|node)\b")
SKIP_DIRS = frozenset({".git", ".hg", ".svn"})
# Characters of target paths per semgrep invocation (the kernel limit is far higher).
ARGV_BUDGET = 100_000
# A diff-sized scan runs faster in one semgrep job: with two, each job pays the rule set's
# set-up again (measured on 10 changed files, osemgrep, all rules: 2.7 s with one job, 4.0 s
# with two). Whole-tree scans keep semgrep's default parallelism.
SINGLE_JOB_TARGETS = 64
# Environment variables that would make semgrep talk to semgrep.dev or load other rules.
DROPPED_ENV = ("SEMGREP_APP_TOKEN", "SEMGREP_RULES", "SEMGREP_REPO_URL", "SEMGREP_BRANCH")


@dataclass
class SemgrepResult:
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # per-file problems (not fatal)
    scanned: int = 0  # files semgrep reports as scanned
    engine: str = ""  # "osemgrep" or "pysemgrep": which implementation ran


# --- helpers ---------------------------------------------------------------------------


def find_semgrep() -> str:
    """The semgrep executable: next to this Python interpreter (a venv) first, then PATH."""
    beside = Path(sys.executable).parent / "semgrep"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("semgrep")
    if found is None:
        raise ScannerError("semgrep is not installed (looked next to python and on PATH)")
    return found


def rule_files(config: Path) -> list[Path]:
    """The rule files of ``config``: the file itself, or every *.yaml/*.yml below a folder."""
    if config.is_file():
        return [config]
    if not config.is_dir():
        raise ScannerError(f"semgrep rules not found: {config}")
    files = sorted(
        path
        for path in config.rglob("*")
        if path.suffix in RULE_SUFFIXES
        and not path.name.endswith(RULE_TEST_SUFFIXES)
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(config).parts)
    )
    if not files:
        raise ScannerError(f"no semgrep rule files (*.yaml) in {config}")
    return files


def _is_scannable(path: Path) -> bool:
    if path.suffix in SCANNED_SUFFIXES:
        return True
    if path.suffix:
        return False
    try:
        with path.open("rb") as handle:
            return bool(SHEBANG.match(handle.readline(200)))
    except OSError:
        return False


def tree_targets(root: Path) -> list[str]:
    """Every file under ``root`` our rules can apply to, relative, ignore files ignored."""
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(files):
            path = Path(folder, name)
            if path.is_file() and not path.is_symlink() and _is_scannable(path):
                found.append(path.relative_to(root).as_posix())
    return found


def chunked(targets: Sequence[str], budget: int = ARGV_BUDGET) -> Iterator[list[str]]:
    chunk: list[str] = []
    size = 0
    for target in targets:
        if chunk and size + len(target) + 1 > budget:
            yield chunk
            chunk, size = [], 0
        chunk.append(target)
        size += len(target) + 1
    if chunk:
        yield chunk


def command(
    executable: str, rules: Sequence[Path], targets: Sequence[str], engine: str = PYSEMGREP
) -> list[str]:
    argv = [executable, "scan", *ENGINE_FLAGS[engine], "--json", "--metrics=off"]
    argv += ["--disable-version-check"]
    argv += ["--no-rewrite-rule-ids", "--disable-nosem", "--no-git-ignore"]
    argv += ["--max-target-bytes=0", "--timeout=30", "--quiet"]
    if len(targets) <= SINGLE_JOB_TARGETS:
        argv.append("--jobs=1")
    for rule in rules:
        argv += ["--config", str(rule)]
    # "--" ends the options: a file named like "--config" stays a target.
    return [*argv, "--", *targets]


def semgrep_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env["SEMGREP_ENABLE_VERSION_CHECK"] = "0"
    env["SEMGREP_SEND_METRICS"] = "off"
    return env


def execute_semgrep(argv: list[str], root: Path, timeout: float) -> tuple[int, str, str]:
    """Run semgrep in its own process group so a timeout also stops semgrep-core."""
    return execute_tool("semgrep", argv, root, semgrep_environment(), timeout)


def execute_tool(
    name: str, argv: list[str], root: Path, env: dict[str, str], timeout: float
) -> tuple[int, str, str]:
    """Run a scanner's program in its own process group (so a timeout stops its children
    too); returns the exit status, stdout and stderr. An argv list, never a shell: target
    names cannot inject commands."""
    try:
        process = subprocess.Popen(
            argv,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        raise ScannerError(f"cannot start {name}: {exc.strerror or exc}") from None
    try:
        stdout, stderr = process.communicate(timeout=max(timeout, 0.1))
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise ScannerError(f"{name} did not finish within {timeout:.0f} s") from None
    return process.returncode, stdout, stderr


class _Lines:
    """Reads each scanned file at most once, for snippets."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cache: dict[str, list[str]] = {}

    def get(self, path: str, first: int, last: int) -> str:
        if path not in self.cache:
            try:
                text = (self.root / path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            self.cache[path] = text.splitlines()
        lines = self.cache[path][max(first, 1) - 1 : max(last, first)]
        return "\n".join(line.rstrip() for line in lines).strip()


def _run_chunk(
    executable: str,
    rules: Sequence[Path],
    root: Path,
    chunk: Sequence[str],
    deadline: float,
    engine: str = PYSEMGREP,
) -> Mapping[str, Any]:
    code, stdout, stderr = execute_semgrep(
        command(executable, rules, chunk, engine), root, deadline - time.monotonic()
    )
    report = parse_output(code, stdout, stderr)
    fatal, _ = classify_errors(report.get("errors") or [], mask_secrets)
    if code not in (0, 1) or fatal:
        reason = "; ".join(fatal) or " ".join(stderr.strip().splitlines()[-2:])
        raise ScannerError(f"semgrep failed (exit {code}): {reason[: ERROR_CHARS * 2]}")
    return report


# --- public ----------------------------------------------------------------------------


def run_semgrep(
    root: Path,
    targets: Sequence[str] | None = None,
    *,
    config: Path | None = None,
    timeout: float = 600.0,
    engine: str | None = None,
    preferred_engine: str | None = None,
) -> SemgrepResult:
    """Scan ``targets`` (paths relative to ``root``; None = the whole tree) with our rules.

    ``config`` is a rule file or a folder of them (default: the bundled ``rules/``).
    ``timeout`` bounds the whole run. ``engine`` is "osemgrep" or "pysemgrep" (default:
    ``preferred_engine``, the operator's setting, else osemgrep). Raises
    :class:`ScannerError` when semgrep cannot run.
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise ScannerError(f"scan root is not a folder: {root}")
    files = rule_files(Path(config) if config is not None else rules_dir())
    executable = find_semgrep()
    chosen = choose_engine(engine, executable, semgrep_environment(), preferred=preferred_engine)
    rules = [alias_free_config(files)]
    result = SemgrepResult(engine=chosen)
    wanted = tree_targets(root) if targets is None else list(dict.fromkeys(targets))
    present: list[str] = []
    for target in wanted:
        if (root / target).is_file():
            present.append(target)
        else:
            result.errors.append(f"{target}: not a file under the scan root; not scanned")
    lines = _Lines(root)
    deadline = time.monotonic() + timeout
    for chunk in chunked(present):
        report = _run_chunk(executable, rules, root, chunk, deadline, chosen)
        _, per_file = classify_errors(report.get("errors") or [], mask_secrets)
        result.errors.extend(per_file)
        result.scanned += len((report.get("paths") or {}).get("scanned") or [])
        result.findings.extend(
            to_finding(item, lines.get, mask_secrets) for item in report.get("results") or []
        )
    return result
