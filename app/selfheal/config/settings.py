"""Process settings for the GitHub App server (``selfheal serve``).

Settings come from the environment, with a ``.env`` file as a fallback. Parsing is a pure
function over a mapping (:func:`parse_settings`); :func:`load_settings` is the only place that
reads ``os.environ`` or the ``.env`` file, and only when called (never at import time).

The server refuses to start without a webhook secret: gidgethub accepts *unsigned* events when
no secret is given, and selfheal never allows that. Secrets are wrapped in :class:`Secret`, whose
``repr``/``str`` never show the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selfheal.config.coding import CodingSettings, CodingSettingsError, parse_coding_settings
from selfheal.config.secret import Secret as Secret
from selfheal.github.auth import AuthError, load_private_key
from selfheal.github.client import DEFAULT_API_URL
from selfheal.model.notifications import Target, TargetError, parse_targets
from selfheal.scanner.secret_engine import ENGINE_CHOICES as SECRET_ENGINES
from selfheal.scanner.secret_engine import ENGINE_VARIABLE as SECRET_ENGINE_VARIABLE
from selfheal.scanner.semgrep_engine import ENGINE_VARIABLE, ENGINES

MAX_KEY_BYTES = 64 * 1024  # an RSA-4096 PEM is about 3.3 KiB
DEFAULT_DB = "selfheal.db"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MIN_SECRET_LENGTH = 16


class SettingsError(Exception):
    """A setting is missing or invalid; the message says which and how to fix it."""


@dataclass(frozen=True)
class MonitorOptions:
    """The operator's monitor settings (the monitor settings); a repository's
    ``monitor:`` config may only tighten them."""

    threshold: int = 3
    window_days: float = 7.0
    cooldown_hours: float = 24.0
    hourly_cap: int = 5
    max_attempts: int = 3
    # Hosts (exact names, or ``*.example.com``) the App may probe for ``monitor.endpoints``;
    # empty: no probes from the App server (see docs/monitor.md on SSRF).
    probe_hosts: tuple[str, ...] = ()
    tick_seconds: float = 30.0  # how often the worker's scheduler looks for due probes
    scan_hours: float = 24.0  # scheduled security scans of each default branch (0: no scans)


def monitor_options(env: Mapping[str, str]) -> MonitorOptions:
    hosts = tuple(
        h.strip().lower() for h in env.get("SELFHEAL_MONITOR_PROBE_HOSTS", "").split(",")
        if h.strip()
    )  # fmt: skip
    for host in hosts:
        bare = host.removeprefix("*.")
        if not bare or any(c in bare for c in "/:@*? "):
            raise SettingsError(
                f"SELFHEAL_MONITOR_PROBE_HOSTS: {host!r} is not a host name (or *.domain)"
            )
    return MonitorOptions(
        threshold=_int(env, "SELFHEAL_MONITOR_THRESHOLD", 3, 1),
        window_days=_float(env, "SELFHEAL_MONITOR_WINDOW_DAYS", 7.0, 0.00001),
        cooldown_hours=_float(env, "SELFHEAL_MONITOR_COOLDOWN_HOURS", 24.0, 0.0),
        hourly_cap=_int(env, "SELFHEAL_MONITOR_HOURLY_CAP", 5, 1),
        max_attempts=_int(env, "SELFHEAL_MONITOR_MAX_ATTEMPTS", 3, 1),
        probe_hosts=hosts,
        tick_seconds=_float(env, "SELFHEAL_MONITOR_TICK_SECONDS", 30.0, 0.05),
        scan_hours=_float(env, "SELFHEAL_MONITOR_SCAN_HOURS", 24.0, 0.0),
    )


@dataclass(frozen=True)
class Settings:
    """Everything the server process needs; see docs/operations.md for the table."""

    app_id: int
    private_key: Secret
    webhook_secret: Secret
    db_path: Path = Path(DEFAULT_DB)
    api_url: str = DEFAULT_API_URL
    log_level: str = "INFO"
    workers: int = 2
    job_max_attempts: int = 5
    job_lease_seconds: float = 60.0
    job_backoff_base: float = 2.0
    job_backoff_max: float = 600.0
    poll_interval: float = 0.5
    cancel_grace_seconds: float = 5.0
    shutdown_grace_seconds: float = 10.0
    job_timeout_seconds: float = 1800.0
    plugins: tuple[str, ...] = ()
    data_dir: Path | None = None  # SELFHEAL_DATA_DIR (None: selfheal-data next to the ledger)
    semgrep_engine: str | None = None  # SELFHEAL_SEMGREP_ENGINE (None: the scanner's default)
    max_open_prs: int = 3  # SELFHEAL_MAX_OPEN_PRS: the bot's open PRs per repository
    max_new_prs_per_hour: int = 5  # SELFHEAL_MAX_NEW_PRS_PER_HOUR, per repository
    notify_targets: tuple[Target, ...] = ()  # SELFHEAL_NOTIFY_URLS
    notify_secret: Secret | None = None  # SELFHEAL_NOTIFY_SECRET
    secret_engine: str | None = None  # SELFHEAL_SECRET_ENGINE (None: auto)
    coding: CodingSettings = field(default_factory=CodingSettings)  # agents, key, prices, budget
    api_rate: float = 10.0  # SELFHEAL_API_RATE: API calls per second per token, sustained
    api_burst: int = 20  # SELFHEAL_API_BURST: calls a token may make at once above the rate
    api_concurrency: int = 4  # SELFHEAL_API_CONCURRENCY: calls per token in flight at once
    metrics_token: Secret | None = None  # SELFHEAL_METRICS_TOKEN: /metrics wants this bearer
    monitor: MonitorOptions = field(default_factory=MonitorOptions)  # the monitor settings

    def secret_values(self) -> tuple[str, ...]:
        """The configured secret values, for the log redaction filter (the notification
        URLs too: a webhook URL often carries a token in its path; the model API key and
        the metrics token)."""
        extra = (self.notify_secret.get(),) if self.notify_secret is not None else ()
        urls = tuple(t.url for t in self.notify_targets)
        key = self.coding.api_key.get() if self.coding.api_key is not None else ""
        metrics = () if self.metrics_token is None else (self.metrics_token.get(),)
        return (self.private_key.get(), self.webhook_secret.get(), *extra, *urls,
                *((key,) if key else ()), *metrics)  # fmt: skip


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _private_key(env: Mapping[str, str]) -> str:
    inline = env.get("SELFHEAL_PRIVATE_KEY", "").strip()
    path = env.get("SELFHEAL_PRIVATE_KEY_PATH", "").strip()
    if inline:
        # .env files often carry the PEM on one line with literal "\n" escapes.
        pem = inline.replace("\\n", "\n")
        where = "SELFHEAL_PRIVATE_KEY"
    elif path:
        try:
            # Bounded: a path like /dev/zero or a multi-GB file must not exhaust memory.
            with Path(path).expanduser().open("rb") as handle:
                data = handle.read(MAX_KEY_BYTES + 1)
            pem = data.decode("ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsError(
                f"SELFHEAL_PRIVATE_KEY_PATH: cannot read the private key file {path!r}: "
                f"{type(exc).__name__}"
            ) from None
        if len(data) > MAX_KEY_BYTES:
            raise SettingsError(
                f"SELFHEAL_PRIVATE_KEY_PATH: {path!r} is larger than {MAX_KEY_BYTES // 1024} KiB,"
                " so it is not a private key"
            )
        where = f"SELFHEAL_PRIVATE_KEY_PATH ({path})"
    else:
        raise SettingsError(
            "the GitHub App private key is missing: set SELFHEAL_PRIVATE_KEY (PEM text) or "
            "SELFHEAL_PRIVATE_KEY_PATH (a .pem file downloaded from the App settings page)"
        )

    try:
        load_private_key(pem)  # the check AppAuth makes: a key that passes here, it accepts
    except AuthError as exc:
        raise SettingsError(f"{where}: {exc}") from None
    return pem


def parse_settings(env: Mapping[str, str]) -> Settings:
    """Build :class:`Settings` from a mapping of environment variables (pure)."""
    raw_app_id = env.get("SELFHEAL_APP_ID", "").strip()
    if not raw_app_id:
        raise SettingsError("SELFHEAL_APP_ID is missing (the numeric id of the GitHub App)")
    if not raw_app_id.isdigit():
        raise SettingsError(f"SELFHEAL_APP_ID must be a number, got {raw_app_id!r}")
    secret = env.get("SELFHEAL_WEBHOOK_SECRET", "")
    if not secret.strip():
        raise SettingsError(
            "SELFHEAL_WEBHOOK_SECRET is missing: selfheal refuses to accept unsigned webhooks. "
            "Set the same secret here and in the GitHub App's webhook settings."
        )
    if len(secret) < MIN_SECRET_LENGTH:
        raise SettingsError(
            f"SELFHEAL_WEBHOOK_SECRET is too short (use at least {MIN_SECRET_LENGTH} characters)"
        )
    key = _private_key(env)
    api_url = env.get("GITHUB_API_URL", "").strip() or DEFAULT_API_URL
    if not api_url.startswith(("https://", "http://")):
        raise SettingsError(f"GITHUB_API_URL must be an http(s) URL, got {api_url!r}")
    level = (env.get("SELFHEAL_LOG_LEVEL", "").strip() or "INFO").upper()
    if level not in LOG_LEVELS:
        raise SettingsError(f"SELFHEAL_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    plugins = tuple(p.strip() for p in env.get("SELFHEAL_PLUGINS", "").split(",") if p.strip())

    raw_data_dir = env.get("SELFHEAL_DATA_DIR", "").strip()
    try:
        coding = parse_coding_settings(env)
    except CodingSettingsError as exc:
        raise SettingsError(str(exc)) from None
    metrics_token = env.get("SELFHEAL_METRICS_TOKEN", "").strip()
    if metrics_token and len(metrics_token) < MIN_SECRET_LENGTH:
        raise SettingsError(
            f"SELFHEAL_METRICS_TOKEN is too short (use at least {MIN_SECRET_LENGTH} characters)"
        )
    return Settings(
        app_id=int(raw_app_id),
        private_key=Secret(key),
        webhook_secret=Secret(secret),
        db_path=db_path_from(env),
        api_url=api_url.rstrip("/"),
        log_level=level,
        workers=_int(env, "SELFHEAL_WORKERS", 2, 0),
        job_max_attempts=_int(env, "SELFHEAL_JOB_MAX_ATTEMPTS", 5, 1),
        job_lease_seconds=_float(env, "SELFHEAL_JOB_LEASE_SECONDS", 60.0, 1.0),
        job_backoff_base=_float(env, "SELFHEAL_JOB_BACKOFF_SECONDS", 2.0, 0.0),
        job_backoff_max=_float(env, "SELFHEAL_JOB_BACKOFF_MAX_SECONDS", 600.0, 0.0),
        poll_interval=_float(env, "SELFHEAL_POLL_INTERVAL", 0.5, 0.01),
        cancel_grace_seconds=_float(env, "SELFHEAL_CANCEL_GRACE_SECONDS", 5.0, 0.0),
        shutdown_grace_seconds=_float(env, "SELFHEAL_SHUTDOWN_GRACE_SECONDS", 10.0, 0.0),
        job_timeout_seconds=_float(env, "SELFHEAL_JOB_TIMEOUT_SECONDS", 1800.0, 1.0),
        plugins=plugins,
        data_dir=Path(raw_data_dir) if raw_data_dir else None,
        **_engines(env),
        max_open_prs=_int(env, "SELFHEAL_MAX_OPEN_PRS", 3, 0),
        max_new_prs_per_hour=_int(env, "SELFHEAL_MAX_NEW_PRS_PER_HOUR", 5, 0),
        **_notify(env),
        coding=coding,
        api_rate=_float(env, "SELFHEAL_API_RATE", 10.0, 0.01),
        api_burst=_int(env, "SELFHEAL_API_BURST", 20, 1),
        api_concurrency=_int(env, "SELFHEAL_API_CONCURRENCY", 4, 1),
        metrics_token=Secret(metrics_token) if metrics_token else None,
        monitor=monitor_options(env),
    )


def _engines(env: Mapping[str, str]) -> dict[str, Any]:
    """SELFHEAL_SEMGREP_ENGINE and SELFHEAL_SECRET_ENGINE (None: chosen automatically)."""
    engine = env.get(ENGINE_VARIABLE, "").strip().lower() or None
    if engine is not None and engine not in ENGINES:
        choices = " or ".join(ENGINES)
        raise SettingsError(f"{ENGINE_VARIABLE} must be {choices}, got {engine!r}")
    secret_engine = env.get(SECRET_ENGINE_VARIABLE, "").strip().lower() or None
    if secret_engine is not None and secret_engine not in SECRET_ENGINES:
        choices = ", ".join(SECRET_ENGINES)
        raise SettingsError(f"{SECRET_ENGINE_VARIABLE} must be {choices}, got {secret_engine!r}")
    return {"semgrep_engine": engine, "secret_engine": secret_engine}


def _notify(env: Mapping[str, str]) -> dict[str, Any]:
    """SELFHEAL_NOTIFY_URLS and SELFHEAL_NOTIFY_SECRET: both or neither."""
    raw = env.get("SELFHEAL_NOTIFY_URLS", "")
    try:
        targets = parse_targets(raw)
    except TargetError as exc:
        raise SettingsError(f"SELFHEAL_NOTIFY_URLS: {exc}") from None
    secret = env.get("SELFHEAL_NOTIFY_SECRET", "")
    if targets and len(secret) < MIN_SECRET_LENGTH:
        raise SettingsError(
            "SELFHEAL_NOTIFY_URLS is set, so SELFHEAL_NOTIFY_SECRET must be too (at least "
            f"{MIN_SECRET_LENGTH} characters): every notification is signed with it"
        )
    return {"notify_targets": targets, "notify_secret": Secret(secret) if secret else None}


def db_path_from(env: Mapping[str, str]) -> Path:
    return Path(env.get("SELFHEAL_DB", "").strip() or DEFAULT_DB)


def environment(env_file: Path | None = Path(".env")) -> dict[str, str]:
    """The process environment over the ``.env`` file (the environment wins)."""
    merged: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        from dotenv import dotenv_values

        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ)
    return merged


def load_settings(env_file: Path | None = Path(".env")) -> Settings:
    """Read the environment (and ``.env``) and parse it; raises SettingsError."""
    return parse_settings(environment(env_file))
