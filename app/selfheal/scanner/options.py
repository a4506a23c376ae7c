"""What a scan is asked to do (pure: a value, read by the pipeline and handed around by the
coders and the gate, so that they need not import the pipeline itself)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ALL_SCANNERS = frozenset({"semgrep", "secrets", "dependencies"})
DEFAULT_MAX_FILE_SIZE = 1_048_576  # bytes: a larger file is skipped, and the report says so


@dataclass
class ScanOptions:
    rules: Path | None = None  # semgrep config; None = the bundled rules/
    advisories: Path | None = None  # None = updated local copy, else the bundled snapshot
    cve_source: str = "osv"  # "osv" (offline advisory data) or "safety"
    baseline: Path | None = None
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    scanners: frozenset[str] = ALL_SCANNERS
    include_vendored: bool = False
    exclude: tuple[str, ...] = ()
    # The operator's SELFHEAL_SEMGREP_ENGINE setting (None: osemgrep where it can run).
    semgrep_engine: str | None = None
    # The operator's SELFHEAL_SECRET_ENGINE setting: "auto"/None (Kingfisher where installed,
    # else our detector alone, with a warning), "kingfisher" (required) or "builtin".
    secret_engine: str | None = None
    secret_engine_executable: Path | None = None  # tests: a stand-in binary
    secret_engine_cache: Path | None = None  # None: a private folder of this process
    secret_engine_timeout: float = 300.0
    # Hardening and configuration rules also report in test code (tests/, test_*.py ...).
    include_tests: bool = False
