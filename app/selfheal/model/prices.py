"""Model prices and the cost of a call (pure: data in, dollars out).

The table ships as data (``selfheal/data/prices.json``: the vendor's published list prices,
with the date and the source); the operator overrides or extends it in the server settings
(``SELFHEAL_PRICES``), never a repository. Prices are US dollars per million tokens:

- ``input``, ``output``;
- ``cache_write_5m`` and ``cache_write_1h``: writing the prompt cache, by its TTL;
- ``cache_read``: a cache hit or refresh;
- ``long_context`` (optional): other rates for a call whose prompt (input, cache writes and
  cache reads together) is above ``above_prompt_tokens``; the whole call is billed at them.

:func:`cost_usd` prices one call's reported usage; :func:`worst_case_usd` bounds what a call
can cost before it is made (every prompt token at the dearest input rate, the whole
``max_tokens`` as output).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from selfheal.resources import package_data

PRICES_FILE = "prices.json"
PER_TOKENS = 1_000_000
RATE_NAMES = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
MAX_RATE = 10_000.0  # dollars per million tokens: anything above is a typo
SNAPSHOT = re.compile(r"-\d{8}$")
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$")


class PriceError(ValueError):
    """A price table that cannot be used; the message names the entry."""


@dataclass(frozen=True, slots=True)
class Rates:
    """Dollars per million tokens."""

    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float

    @property
    def dearest_input(self) -> float:
        return max(self.input, self.cache_write_5m, self.cache_write_1h, self.cache_read)


@dataclass(frozen=True, slots=True)
class ModelPrice:
    model: str
    rates: Rates
    long_context: Rates | None = None
    long_context_above: int | None = None

    def rates_for(self, prompt_tokens: int) -> Rates:
        """The rates a call with ``prompt_tokens`` of prompt is billed at."""
        above = self.long_context_above
        if self.long_context is not None and above is not None and prompt_tokens > above:
            return self.long_context
        return self.rates


@dataclass(frozen=True, slots=True)
class Usage:
    """What one response reports (the Messages API's ``usage``). ``cache_write_5m`` and
    ``cache_write_1h`` split ``cache_creation_input_tokens`` by TTL."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0

    def __post_init__(self) -> None:
        for name in ("input_tokens", "output_tokens", "cache_write_5m", "cache_write_1h",
                     "cache_read"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise PriceError(f"usage {name} must be a whole number of at least 0: {value!r}")

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_write_5m + self.cache_write_1h + self.cache_read

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_write_5m + other.cache_write_5m,
            self.cache_write_1h + other.cache_write_1h,
            self.cache_read + other.cache_read,
        )


@dataclass(frozen=True)
class PriceTable:
    models: Mapping[str, ModelPrice]
    aliases: Mapping[str, str] = field(default_factory=dict)
    date: str = ""
    source: str = ""

    def price_of(self, model: str) -> ModelPrice | None:
        """The price of ``model``: by its name, an alias, or its name without a dated
        snapshot suffix (``-20250929``). None: not priced."""
        for name in (model, SNAPSHOT.sub("", model)):
            name = self.aliases.get(name, name)
            if name in self.models:
                return self.models[name]
        return None

    def merged(self, override: PriceTable) -> PriceTable:
        """This table with ``override``'s models replacing or adding to it."""
        return PriceTable(
            {**self.models, **override.models},
            {**self.aliases, **override.aliases},
            override.date or self.date,
            override.source or self.source,
        )


def _rate(entry: Mapping[str, Any], name: str, where: str) -> float:
    value = entry.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PriceError(f"{where}: {name} must be a number of dollars per million tokens")
    rate = float(value)
    if math.isnan(rate) or rate < 0 or rate > MAX_RATE:
        raise PriceError(f"{where}: {name} must be between 0 and {MAX_RATE:g}, got {value!r}")
    return rate


def _rates(entry: Any, where: str) -> Rates:
    if not isinstance(entry, Mapping):
        raise PriceError(f"{where}: must be a mapping of rates")
    unknown = set(entry) - {*RATE_NAMES, "long_context", "above_prompt_tokens"}
    if unknown:
        raise PriceError(f"{where}: unknown keys {', '.join(sorted(map(str, unknown)))}")
    return Rates(*(_rate(entry, name, where) for name in RATE_NAMES))


def _model_price(name: str, entry: Any) -> ModelPrice:
    where = f"price of {name!r}"
    if not MODEL_NAME.match(name):
        raise PriceError(f"{where}: not a model name")
    rates = _rates(entry, where)
    long = entry.get("long_context")
    if long is None:
        return ModelPrice(name, rates)
    tier = _rates(long, f"{where} long_context")
    above = long.get("above_prompt_tokens")
    if isinstance(above, bool) or not isinstance(above, int) or above < 1:
        raise PriceError(f"{where} long_context: above_prompt_tokens must be a whole number")
    return ModelPrice(name, rates, tier, above)


def parse_price_table(data: Any, source: str = "prices") -> PriceTable:
    """A table from its JSON shape: ``{"models": {name: rates}, "aliases": {...}, "date",
    "source"}``; raises :class:`PriceError`."""
    if not isinstance(data, Mapping) or not isinstance(data.get("models", {}), Mapping):
        raise PriceError(f"{source}: must be a mapping with a 'models' mapping")
    models = {str(k): _model_price(str(k), v) for k, v in data.get("models", {}).items()}
    aliases_raw = data.get("aliases", {})
    if not isinstance(aliases_raw, Mapping):
        raise PriceError(f"{source}: aliases must map a model name to a priced model")
    aliases = {str(k): str(v) for k, v in aliases_raw.items()}
    return PriceTable(models, aliases, str(data.get("date", "")), str(data.get("source", "")))


def check_aliases(table: PriceTable) -> None:
    """Every alias names a priced model."""
    for alias, target in table.aliases.items():
        if target not in table.models:
            raise PriceError(f"alias {alias!r} names {target!r}, which has no price")


@functools.cache
def shipped_price_table() -> PriceTable:
    """The table that ships with selfheal."""
    text = package_data(PRICES_FILE).read_text(encoding="utf-8")
    table = parse_price_table(json.loads(text), PRICES_FILE)
    check_aliases(table)
    return table


def cost_usd(price: ModelPrice, usage: Usage) -> float:
    """What one call with ``usage`` costs."""
    rates = price.rates_for(usage.prompt_tokens)
    parts = (
        usage.input_tokens * rates.input,
        usage.output_tokens * rates.output,
        usage.cache_write_5m * rates.cache_write_5m,
        usage.cache_write_1h * rates.cache_write_1h,
        usage.cache_read * rates.cache_read,
    )
    return math.fsum(parts) / PER_TOKENS


def worst_case_usd(price: ModelPrice, prompt_tokens: int, max_tokens: int) -> float:
    """The most a call with about ``prompt_tokens`` of prompt and ``max_tokens`` of output can
    cost: the prompt at the dearest input rate of the tier it lands in, or of the long-context
    tier when the estimate is near its threshold (an estimate may be low)."""
    rates = price.rates_for(prompt_tokens)
    if price.long_context is not None and price.long_context_above is not None:
        if prompt_tokens * 1.25 > price.long_context_above:
            rates = price.long_context
    return (prompt_tokens * rates.dearest_input + max_tokens * rates.output) / PER_TOKENS
