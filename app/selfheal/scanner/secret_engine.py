"""The community secret engine (Kingfisher) as a subprocess: find it, run it offline, read it.

Kingfisher (``kingfisher-bin`` on PyPI, Apache-2.0) is a Rust binary with ~490 provider rules
(its own plus the Betterleaks set). It runs here under these constraints, all enforced by the
argv and the environment built below, never by its defaults:

* no network: ``--no-update-check`` and ``--no-validate`` are always passed; the process gets
  a minimal environment (no tokens, no proxies) with ``HOME`` and the XDG folders pointing at
  our cache folder, so nothing it might write lands in the user's home;
* no git history: ``--git-history none`` (a working tree is read as it is, uncommitted edits
  included); a diff-sized scan names the files the pipeline chose, a whole-tree scan gives
  the root folder (its walk reads git-ignored and hidden files too). Kingfisher never reads
  ``node_modules`` or ``bower_components``, even when named: there our detector works alone.
  Archives are not unpacked;
* its inline ignore comments are off (``--no-ignore``): only our allow comment and the
  baseline suppress a finding;
* its compiled rule cache lives in the caller's ``cache_dir`` (the data directory), else in a
  private folder of this process removed at exit. Compiling takes ~8 s; the database file is
  named by a hash of the rules, so an empty cache is seeded with a copy from another cache
  this process already warmed (two workers, or many test servers, compile once);
* every occurrence is reported (``--no-dedup``): the pipeline merges by location itself.

Failures raise :class:`ScannerError` (the gate fails closed): an executable that cannot start,
a crash (an exit code other than 0 or 200-205), a timeout (the process group is killed) and
output that is not the JSON report. When the engine is not installed and was not asked for
by name, :func:`locate` answers None and the pipeline falls back to our own detector with a
warning in the scan report.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfheal.scanner import ScannerError
from selfheal.scanner.semgrep import execute_tool

AUTO = "auto"
KINGFISHER = "kingfisher"
BUILTIN = "builtin"
ENGINE_CHOICES = (AUTO, KINGFISHER, BUILTIN)
ENGINE_VARIABLE = "SELFHEAL_SECRET_ENGINE"
DEFAULT_TIMEOUT = 300.0
# Exit codes of a completed scan: 0 nothing found, 200 findings, 205 validated findings.
OK_EXIT_CODES = frozenset({0, *range(200, 206)})
ARGV_BUDGET = 100_000
# Kingfisher treats every path argument as an input of its own, with a fixed cost each
# (measured: 3,355 files as arguments 25 s, their folder as one argument 2.9 s). Above this
# many targets it walks the scan root instead; hits outside the targets are ignored by the
# merge.
EXPLICIT_TARGETS = 64
STDERR_CHARS = 300
FLAGS = (
    "--no-update-check",
    "--no-validate",
    "--git-history",
    "none",
    "--no-extract-archives",
    "--no-dedup",
    # Its inline ignore comments would let a change hide a secret from the gate; only our
    # own allow comment and the baseline suppress findings.
    "--no-ignore",
    "--format",
    "json",
    "--quiet",
)

_lock = threading.Lock()
_private: list[Path] = []
_warm: list[Path] = []  # caches that hold a compiled rule database, in this process
CACHE_PATTERN = "*.vscdb"


@dataclass(frozen=True, slots=True)
class EngineHit:
    """One secret the engine reported: where (1-based line, 0-based columns) and what."""

    path: str
    line: int
    column: int
    end_column: int
    secret: str
    rule_id: str
    title: str
    confidence: str


# --- helpers ---------------------------------------------------------------------------


def _packaged_binary() -> Path | None:
    """The binary inside the ``kingfisher-bin`` package (skips its Python wrapper script)."""
    try:
        spec = importlib.util.find_spec("kingfisher")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        binary = Path(folder) / "bin" / "kingfisher"
        if binary.is_file() and os.access(binary, os.X_OK):
            return binary
    return None


def _private_cache() -> Path:
    with _lock:
        if not _private:
            folder = Path(tempfile.mkdtemp(prefix="selfheal-kingfisher-"))  # mode 0700
            atexit.register(shutil.rmtree, folder, True)
            _private.append(folder)
        return _private[0]


def _seed(cache: Path) -> None:
    """Copy a compiled rule database into an empty ``cache`` from one this process warmed."""
    with _lock:
        if any(cache.glob(CACHE_PATTERN)):
            return
        for other in _warm:
            compiled = sorted(other.glob(CACHE_PATTERN))
            if not compiled:
                continue
            for source in compiled:
                partial = cache / f".{source.name}.partial"
                try:
                    shutil.copyfile(source, partial)
                    os.replace(partial, cache / source.name)
                except OSError:
                    partial.unlink(missing_ok=True)
                    return  # Kingfisher compiles its own; a copy is only a shortcut
            return


def _remember(cache: Path) -> None:
    with _lock:
        if cache not in _warm and any(cache.glob(CACHE_PATTERN)):
            _warm.append(cache)


def _environment(cache: Path) -> dict[str, str]:
    """A minimal environment: no credentials, no proxies, every home-ish folder ours."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(cache),
        "XDG_CACHE_HOME": str(cache),
        "XDG_CONFIG_HOME": str(cache),
        "XDG_DATA_HOME": str(cache),
        "KF_RULE_CACHE_DIR": str(cache),
        "TMPDIR": os.environ.get("TMPDIR", tempfile.gettempdir()),
    }


def _chunks(targets: Sequence[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    size = 0
    for target in targets:
        if chunk and size + len(target) + 1 > ARGV_BUDGET:
            yield chunk
            chunk, size = [], 0
        chunk.append(target)
        size += len(target) + 1
    if chunk:
        yield chunk


def _execute(argv: list[str], root: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    returncode, stdout, stderr = execute_tool("kingfisher", argv, root, env, timeout)
    if returncode not in OK_EXIT_CODES:
        tail = " ".join(stderr.strip().splitlines()[-2:])[:STDERR_CHARS]
        raise ScannerError(f"kingfisher failed (exit {returncode}): {tail}")
    return returncode, stdout


def _hit(item: Any, root: Path) -> EngineHit | None:
    """One entry of the report's ``findings`` list, or None when it has no usable location."""
    if not isinstance(item, dict):
        raise ScannerError("kingfisher report: a finding is not an object")
    rule, found = item.get("rule"), item.get("finding")
    if not isinstance(rule, dict) or not isinstance(found, dict):
        raise ScannerError("kingfisher report: a finding lacks 'rule' or 'finding'")
    path, line, secret = found.get("path"), found.get("line"), found.get("snippet")
    if not isinstance(path, str) or not isinstance(secret, str) or not secret:
        return None
    if not isinstance(line, int) or isinstance(line, bool) or line < 1:
        return None
    rel = Path(path)
    if rel.is_absolute():
        try:
            rel = rel.relative_to(root)
        except ValueError:
            return None
    start, end = found.get("column_start"), found.get("column_end")
    column = start if isinstance(start, int) and start >= 0 else 0
    return EngineHit(
        path=rel.as_posix(),
        line=line,
        column=column,
        end_column=end if isinstance(end, int) and end > column else column + len(secret),
        secret=secret,
        rule_id=str(rule.get("id") or rule.get("name") or "unknown"),
        title=str(rule.get("name") or rule.get("id") or "secret"),
        confidence=str(found.get("confidence") or "medium").lower(),
    )


# --- public ----------------------------------------------------------------------------


def locate(engine: str | None, executable: Path | None = None) -> Path | None:
    """The Kingfisher executable to run, or None to use only our detector.

    ``engine``: ``auto``/None (Kingfisher where installed), ``kingfisher`` (required:
    ScannerError when missing) or ``builtin`` (never). ``executable`` overrides the search.
    """
    name = (engine or AUTO).strip().lower()
    if name not in ENGINE_CHOICES:
        raise ScannerError(f"unknown secret engine {name!r}: use {', '.join(ENGINE_CHOICES)}")
    if name == BUILTIN:
        return None
    found: Path | None = executable
    if found is None:
        beside = Path(sys.executable).parent / "kingfisher"
        on_path = shutil.which("kingfisher")
        found = _packaged_binary() or (beside if beside.is_file() else None)
        found = found or (Path(on_path) if on_path else None)
    if found is not None and found.is_file() and os.access(found, os.X_OK):
        return found
    if name == KINGFISHER or executable is not None:
        raise ScannerError(f"the kingfisher secret engine is not installed ({found or 'PATH'})")
    return None


def command(executable: Path, cache: Path, targets: Sequence[str]) -> list[str]:
    argv = [str(executable), "scan", *FLAGS, "--rule-cache-dir", str(cache)]
    # "--" ends the options: a file named like an option stays a target.
    return [*argv, "--", *targets]


def parse_report(stdout: str, root: Path) -> list[EngineHit]:
    """The hits of Kingfisher's JSON report; ScannerError when it is not that report."""
    try:
        report = json.loads(stdout)
    except ValueError:
        raise ScannerError("kingfisher output is not valid JSON") from None
    if not isinstance(report, dict) or not isinstance(report.get("findings"), list):
        raise ScannerError("kingfisher output has no 'findings' list")
    hits = (_hit(item, root) for item in report["findings"])
    return [hit for hit in hits if hit is not None]


def run_kingfisher(
    executable: Path,
    root: Path,
    targets: Sequence[str],
    *,
    cache_dir: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[EngineHit]:
    """Scan ``targets`` (relative to ``root``) with Kingfisher, offline; raises ScannerError."""
    if not targets:
        return []
    cache = cache_dir if cache_dir is not None else _private_cache()
    try:
        cache.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ScannerError(f"cannot create the kingfisher cache {cache}: {exc.strerror}") from None
    _seed(cache)
    env = _environment(cache)
    inputs = list(targets) if len(targets) <= EXPLICIT_TARGETS else ["."]
    deadline = time.monotonic() + timeout
    hits: list[EngineHit] = []
    for chunk in _chunks(inputs):
        left = deadline - time.monotonic()
        _, stdout = _execute(command(executable, cache, chunk), root, env, left)
        hits.extend(parse_report(stdout, root))
    _remember(cache)
    return hits
