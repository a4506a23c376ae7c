"""The operator's settings for coding: the coding agents, the model key, the prices and the
budgets (pure: a mapping of environment variables in, :class:`CodingSettings` out).

Everything here is a server setting, because it runs a program, holds a credential, sets a
price or raises a limit; a repository's ``.github/selfheal.yml`` may only choose among the
agents and tighten their limits (see docs/coder.md).

- ``SELFHEAL_CODING_AGENTS``: inline JSON (starting with ``{``) or a path to a JSON or YAML
  file: ``{"default": "<id>", "agents": {"<id>": {"backend": ..., "model": ...,
  "budget_usd": ..., "max_turns": ..., "wall_clock_seconds": ..., "options": {...}}}}``.
- ``SELFHEAL_PRICES``: inline JSON or a path: ``{"models": {...}, "aliases": {...}}`` in the
  shipped table's shape, replacing or adding models.
- ``SELFHEAL_BUDGET_USD`` (default 5): a request's budget; ``SELFHEAL_BUDGET_CEILING_USD``
  (default 25): no budget (an agent's, a repository's, or one raised by ``/selfheal budget``)
  goes above it.
- ``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL``: the model key and API, as the SDK reads
  them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from selfheal.config.secret import Secret
from selfheal.model.prices import PriceError, PriceTable, parse_price_table, shipped_price_table

AGENTS_VARIABLE = "SELFHEAL_CODING_AGENTS"
PRICES_VARIABLE = "SELFHEAL_PRICES"
DEFAULT_BUDGET_USD = 5.0
DEFAULT_CEILING_USD = 25.0
MAX_SETTING_BYTES = 256 * 1024
AGENT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
AGENT_KEYS = frozenset(
    {"backend", "model", "budget_usd", "max_turns", "wall_clock_seconds", "options"}
)
METERED_BACKENDS = frozenset({"anthropic"})  # their model must have a price


class CodingSettingsError(ValueError):
    """A coding setting is invalid; the message names the variable and the entry."""


@dataclass(frozen=True)
class AgentSetting:
    """One operator-defined coding agent, as plain values (the coder builds its
    ``CodingAgent`` from it). ``None`` limits: the coder's defaults."""

    id: str
    backend: str
    model: str = ""
    budget_usd: float | None = None
    max_turns: int | None = None
    wall_clock_seconds: float | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CodingSettings:
    agents: tuple[AgentSetting, ...] = ()
    default_agent: str | None = None
    api_key: Secret | None = None
    base_url: str = ""
    prices: PriceTable = field(default_factory=shipped_price_table)
    budget_usd: float = DEFAULT_BUDGET_USD
    budget_ceiling_usd: float = DEFAULT_CEILING_USD

    @property
    def model_key_configured(self) -> bool:
        return self.api_key is not None and bool(self.api_key.get())


def _document(env: Mapping[str, str], name: str) -> Any:
    """The value of ``name``: inline JSON, or a JSON/YAML file it names (None: unset)."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if raw.startswith("{"):
        text, where = raw, name
    else:
        path = Path(raw).expanduser()
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_SETTING_BYTES + 1)
        except OSError as exc:
            raise CodingSettingsError(f"{name}: cannot read {raw!r}: {exc.strerror}") from None
        if len(data) > MAX_SETTING_BYTES:
            raise CodingSettingsError(f"{name}: {raw!r} is larger than 256 KiB")
        text, where = data.decode("utf-8", errors="replace"), f"{name} ({raw})"
    try:
        return json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise CodingSettingsError(f"{where}: not valid JSON or YAML: {exc}") from None


def _number(entry: Mapping[str, Any], key: str, where: str, *, whole: bool = False) -> Any:
    value = entry.get(key)
    if value is None:
        return None
    ok = isinstance(value, int) if whole else isinstance(value, int | float)
    if isinstance(value, bool) or not ok or math.isnan(value) or math.isinf(value) or value < 0:
        kind = "a whole number" if whole else "a number"
        raise CodingSettingsError(f"{where}: {key} must be {kind} of at least 0")
    return value


def _agent(agent_id: str, entry: Any) -> AgentSetting:
    where = f"{AGENTS_VARIABLE}: agent {agent_id!r}"
    if not AGENT_ID.match(agent_id):
        raise CodingSettingsError(f"{where}: an id is 1-40 of A-Z a-z 0-9 _ . -")
    if not isinstance(entry, Mapping):
        raise CodingSettingsError(f"{where}: must be a mapping")
    unknown = set(entry) - AGENT_KEYS
    if unknown:
        raise CodingSettingsError(f"{where}: unknown keys {', '.join(sorted(map(str, unknown)))}")
    backend, model = entry.get("backend"), entry.get("model", "")
    if not isinstance(backend, str) or not backend:
        raise CodingSettingsError(f"{where}: backend must name a coder backend")
    if not isinstance(model, str):
        raise CodingSettingsError(f"{where}: model must be a string")
    options = entry.get("options", {})
    if not isinstance(options, Mapping):
        raise CodingSettingsError(f"{where}: options must be a mapping")
    return AgentSetting(agent_id, backend, model, _number(entry, "budget_usd", where),
                        _number(entry, "max_turns", where, whole=True),
                        _number(entry, "wall_clock_seconds", where), dict(options))  # fmt: skip


def _agents(env: Mapping[str, str]) -> tuple[tuple[AgentSetting, ...], str | None]:
    data = _document(env, AGENTS_VARIABLE)
    if data is None:
        return (), None
    if not isinstance(data, Mapping) or not isinstance(data.get("agents"), Mapping):
        raise CodingSettingsError(f"{AGENTS_VARIABLE}: must be a mapping with an 'agents' mapping")
    agents = tuple(_agent(str(k), v) for k, v in data["agents"].items())
    default = data.get("default")
    ids = [a.id for a in agents]
    if default is None and len(agents) == 1:
        default = ids[0]
    if default not in ids:
        raise CodingSettingsError(
            f"{AGENTS_VARIABLE}: default must name one of the agents ({', '.join(ids)})"
        )
    return agents, str(default)


def _prices(env: Mapping[str, str]) -> PriceTable:
    data = _document(env, PRICES_VARIABLE)
    if data is None:
        return shipped_price_table()
    try:
        table = shipped_price_table().merged(parse_price_table(data, PRICES_VARIABLE))
    except PriceError as exc:
        raise CodingSettingsError(f"{PRICES_VARIABLE}: {exc}") from None
    for alias, target in table.aliases.items():
        if target not in table.models:
            raise CodingSettingsError(f"{PRICES_VARIABLE}: alias {alias!r} names no priced model")
    return table


def _money(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise CodingSettingsError(f"{name} must be a number of US dollars, got {raw!r}") from None
    if math.isnan(value) or math.isinf(value) or value <= 0:
        raise CodingSettingsError(f"{name} must be more than 0, got {raw!r}")
    return value


def _check(settings: CodingSettings) -> None:
    ceiling = settings.budget_ceiling_usd
    if settings.budget_usd > ceiling:
        raise CodingSettingsError(
            f"SELFHEAL_BUDGET_USD ({settings.budget_usd:g}) is above "
            f"SELFHEAL_BUDGET_CEILING_USD ({ceiling:g})"
        )
    for agent in settings.agents:
        if agent.budget_usd is not None and agent.budget_usd > ceiling:
            raise CodingSettingsError(
                f"{AGENTS_VARIABLE}: agent {agent.id!r}'s budget_usd {agent.budget_usd:g} is "
                f"above SELFHEAL_BUDGET_CEILING_USD ({ceiling:g})"
            )
        if agent.backend in METERED_BACKENDS and settings.prices.price_of(agent.model) is None:
            raise CodingSettingsError(
                f"{AGENTS_VARIABLE}: agent {agent.id!r}'s model {agent.model!r} has no price "
                f"(add it with {PRICES_VARIABLE}); a budget that cannot be metered is not one"
            )


def parse_coding_settings(env: Mapping[str, str]) -> CodingSettings:
    """The coding settings from the environment (pure); raises CodingSettingsError."""
    agents, default = _agents(env)
    key = env.get("ANTHROPIC_API_KEY", "").strip()
    base_url = env.get("ANTHROPIC_BASE_URL", "").strip()
    if base_url and not base_url.startswith(("https://", "http://")):
        raise CodingSettingsError(f"ANTHROPIC_BASE_URL must be an http(s) URL, got {base_url!r}")
    settings = CodingSettings(
        agents=agents,
        default_agent=default,
        api_key=Secret(key) if key else None,
        base_url=base_url.rstrip("/"),
        prices=_prices(env),
        budget_usd=_money(env, "SELFHEAL_BUDGET_USD", DEFAULT_BUDGET_USD),
        budget_ceiling_usd=_money(env, "SELFHEAL_BUDGET_CEILING_USD", DEFAULT_CEILING_USD),
    )
    _check(settings)
    return settings
