"""Which semgrep implementation runs a scan, and the one packed rule config both engines read.

The semgrep pip package ships two front ends behind the same ``semgrep`` command: the Python
wrapper ("pysemgrep", the default of ``semgrep scan``) and the OCaml implementation
("osemgrep", ``semgrep scan --experimental``). Both drive the same matching engine
(semgrep-core), but pysemgrep spends ~3 s starting up on every call, osemgrep ~0.3 s. On our
rules and fixtures both report identical findings (tests/test_semgrep_engines.py checks this).

Neither engine reads our rule files directly. osemgrep's YAML reader does not expand YAML
anchors and aliases the way PyYAML does (a rule with ``pattern-sanitizers: *shell-sanitizers``
fails with "Expected a list"), and semgrep parses and validates every ``--config`` separately
(one file instead of ~20 roughly halved pysemgrep's start-up: 25 s -> 14 s for one target on
the loaded 2-core machine). So the rule files are loaded with ``yaml.safe_load`` (aliases
resolved) and written as one JSON config into a private temporary folder, cached by the
content hash of the rule files (built once per process per rule set, rebuilt when a rule file
changes).

The engine comes from the ``engine`` argument, else the ``SELFHEAL_SEMGREP_ENGINE`` setting,
else osemgrep. Only when osemgrep was not asked for explicitly and is not installed does the
scan fall back to pysemgrep, with a logged warning; a scan error is never a reason to switch.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from selfheal.scanner import ScannerError

ENGINE_VARIABLE = "SELFHEAL_SEMGREP_ENGINE"
OSEMGREP = "osemgrep"
PYSEMGREP = "pysemgrep"
ENGINES = (OSEMGREP, PYSEMGREP)
DEFAULT_ENGINE = OSEMGREP
# Arguments after `semgrep scan` that select the engine (same executable for both).
ENGINE_FLAGS: Mapping[str, tuple[str, ...]] = {OSEMGREP: ("--experimental",), PYSEMGREP: ()}
PROBE_TIMEOUT = 60.0

log = logging.getLogger(__name__)
_lock = threading.Lock()
_available: dict[str, bool] = {}  # executable -> can it run osemgrep
_configs: dict[str, Path] = {}  # content hash of the rule files -> built JSON config
_folder: list[Path] = []  # the private folder, once created


# --- helpers ---------------------------------------------------------------------------


def _probe(executable: str, env: Mapping[str, str]) -> bool:
    """Does ``semgrep --experimental --version`` run? (It exits 2 without semgrep-core.)"""
    argv = [executable, "--experimental", "--disable-version-check", "--version"]
    try:
        done = subprocess.run(
            argv,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and bool(done.stdout.strip())


def _rules_of(path: Path, data: bytes) -> list[Any]:
    """The ``rules`` list of one rule file, YAML aliases and merge keys resolved."""
    try:
        loaded = yaml.safe_load(data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ScannerError(f"semgrep rule file {path.name} is not valid YAML: {exc}") from None
    if not isinstance(loaded, dict) or not isinstance(loaded.get("rules"), list):
        raise ScannerError(f"semgrep rule file {path.name} has no top-level `rules` list")
    rules: list[Any] = loaded["rules"]
    return rules


def _private_folder() -> Path:
    if not _folder:
        folder = Path(tempfile.mkdtemp(prefix="selfheal-osemgrep-"))  # mode 0700
        atexit.register(shutil.rmtree, folder, True)
        _folder.append(folder)
    return _folder[0]


# --- public ----------------------------------------------------------------------------


def osemgrep_available(executable: str, env: Mapping[str, str]) -> bool:
    """Whether ``executable`` can run osemgrep (probed once per process and executable)."""
    with _lock:
        if executable not in _available:
            _available[executable] = _probe(executable, env)
        return _available[executable]


def choose_engine(
    requested: str | None,
    executable: str,
    env: Mapping[str, str],
    *,
    preferred: str | None = None,
) -> str:
    """The engine to run: ``requested``, else ``preferred`` (the operator's
    SELFHEAL_SEMGREP_ENGINE setting, which the caller passes in), else osemgrep.

    An unknown name raises :class:`ScannerError`. osemgrep asked for by argument must be
    available (ScannerError otherwise); preferred or by default it falls back to pysemgrep
    with a warning when this semgrep installation cannot run it. The scanner never reads the
    setting from the process environment itself.
    """
    explicit = requested is not None
    name = (requested or preferred or DEFAULT_ENGINE).strip().lower()
    if name not in ENGINES:
        raise ScannerError(f"unknown semgrep engine {name!r}: use {' or '.join(ENGINES)}")
    if name == OSEMGREP and not osemgrep_available(executable, env):
        if explicit:
            raise ScannerError(f"osemgrep (semgrep --experimental) cannot run: {executable}")
        log.warning("osemgrep is not available in %s; using pysemgrep (slower start)", executable)
        return PYSEMGREP
    return name


def alias_free_config(files: Sequence[Path]) -> Path:
    """One JSON semgrep config holding every rule of ``files``, without YAML aliases.

    Cached by the content of the files; raises :class:`ScannerError` when a file cannot be
    read or is not a rule file (the scan fails closed, as semgrep itself would fail).
    """
    contents: list[tuple[Path, bytes]] = []
    digest = hashlib.sha256()
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ScannerError(f"cannot read semgrep rule file {path}: {exc}") from None
        digest.update(hashlib.sha256(data).digest())
        contents.append((path, data))
    key = digest.hexdigest()[:32]
    with _lock:
        built = _configs.get(key)
        if built is not None and built.is_file():
            return built
        rules = [rule for path, data in contents for rule in _rules_of(path, data)]
        try:
            text = json.dumps({"rules": rules}, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise ScannerError(f"semgrep rules cannot be written as JSON: {exc}") from None
        target = _private_folder() / f"rules-{key}.json"
        partial = target.with_suffix(".partial")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, target)
        _configs[key] = target
        return target
