"""The shipped price table, the cost of a call, and the budget meter (plain values)."""

from __future__ import annotations

import pytest

from selfheal.coder.interface import Limit, LimitReached, Limits, RunControl
from selfheal.coder.meter import CallCost, UnpricedModel, meter_for
from selfheal.model.prices import (
    PriceError,
    Usage,
    cost_usd,
    parse_price_table,
    shipped_price_table,
    worst_case_usd,
)


def test_the_shipped_table_prices_the_current_models_with_date_and_source() -> None:
    table = shipped_price_table()
    assert table.date == "2026-12-02" and "platform.claude.com" in table.source
    for model in ("claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5"):
        assert table.price_of(model) is not None, model
    sonnet = table.price_of("claude-sonnet-4-5-20250929")  # a dated snapshot
    assert sonnet is not None and sonnet.model == "claude-sonnet-4-5"
    assert sonnet.rates.input == 3.0 and sonnet.rates.output == 15.0
    assert sonnet.rates.cache_write_5m == 3.75 and sonnet.rates.cache_write_1h == 6.0
    assert sonnet.rates.cache_read == pytest.approx(0.3)
    assert sonnet.long_context is not None and sonnet.long_context_above == 200_000
    assert table.price_of("claude-unknown-9") is None


def test_cost_of_a_call_counts_every_kind_of_token() -> None:
    price = shipped_price_table().price_of("claude-opus-4-5")
    assert price is not None
    usage = Usage(input_tokens=1000, output_tokens=2000, cache_write_5m=4000,
                  cache_write_1h=8000, cache_read=16000)  # fmt: skip
    # 1000*5 + 2000*25 + 4000*6.25 + 8000*10 + 16000*0.5 = 5000+50000+25000+80000+8000
    assert cost_usd(price, usage) == pytest.approx(168_000 / 1_000_000)


def test_a_long_prompt_is_billed_entirely_at_the_long_context_rates() -> None:
    price = shipped_price_table().price_of("claude-sonnet-4-5")
    assert price is not None
    short = Usage(input_tokens=150_000, cache_read=50_000, output_tokens=1000)
    long = Usage(input_tokens=150_001, cache_read=50_000, output_tokens=1000)
    assert cost_usd(price, short) == pytest.approx((150_000 * 3 + 50_000 * 0.3 + 15_000) / 1e6)
    assert cost_usd(price, long) == pytest.approx((150_001 * 6 + 50_000 * 0.6 + 1000 * 22.5) / 1e6)


def test_the_worst_case_bounds_any_usage_of_that_size() -> None:
    price = shipped_price_table().price_of("claude-sonnet-4-5")
    assert price is not None
    worst = worst_case_usd(price, 10_000, 4096)
    for usage in (
        Usage(input_tokens=10_000, output_tokens=4096),
        Usage(cache_write_1h=10_000, output_tokens=4096),
        Usage(cache_write_5m=5000, cache_read=5000, output_tokens=4096),
    ):
        assert cost_usd(price, usage) <= worst


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"models": {"m": {"input": 1}}}, "output"),
        (
            {
                "models": {
                    "m": {
                        "input": -1,
                        "output": 1,
                        "cache_write_5m": 1,
                        "cache_write_1h": 1,
                        "cache_read": 1,
                    }
                }
            },
            "between",
        ),
        (
            {
                "models": {
                    "m": {
                        "input": True,
                        "output": 1,
                        "cache_write_5m": 1,
                        "cache_write_1h": 1,
                        "cache_read": 1,
                    }
                }
            },
            "input",
        ),
        ({"models": []}, "mapping"),
        ({"models": {"bad name!": {}}}, "not a model name"),
    ],
)
def test_a_bad_price_table_is_refused_with_the_entry_named(
    data: dict[str, object], message: str
) -> None:
    with pytest.raises(PriceError, match=message):
        parse_price_table(data)


def test_an_override_replaces_and_extends_the_shipped_table() -> None:
    rates = {"input": 1, "output": 2, "cache_write_5m": 1, "cache_write_1h": 1, "cache_read": 0}
    override = parse_price_table({"models": {"claude-opus-4-5": rates, "local-model": rates}})
    merged = shipped_price_table().merged(override)
    opus = merged.price_of("claude-opus-4-5")
    assert opus is not None and opus.rates.output == 2
    assert merged.price_of("local-model") is not None
    assert merged.price_of("claude-haiku-4-5") is not None


def test_an_unpriced_model_gets_no_meter() -> None:
    control = RunControl(Limits(budget_usd=5))
    with pytest.raises(UnpricedModel, match="no price"):
        meter_for(shipped_price_table(), "claude-nothing", control)


def test_the_meter_refuses_a_call_whose_worst_case_exceeds_what_remains() -> None:
    control = RunControl(Limits(budget_usd=0.10))
    seen: list[CallCost] = []
    meter = meter_for(shipped_price_table(), "claude-haiku-4-5", control, seen.append)
    meter.before_call(1000, 1000)  # 0.001 + 0.005 at most
    call = meter.record(Usage(input_tokens=1000, output_tokens=1000))
    assert call.cost_usd == pytest.approx(0.006) and seen == [call]
    assert control.spent_usd == pytest.approx(0.006)
    with pytest.raises(LimitReached) as stopped:
        meter.before_call(10_000, 20_000)  # up to 0.02 + 0.1
    assert stopped.value.limit is Limit.BUDGET and "budget exceeded" in stopped.value.detail
    assert len(seen) == 1  # nothing was charged for the refused call


def test_the_meter_never_allows_a_call_once_the_budget_is_spent() -> None:
    control = RunControl(Limits(budget_usd=0.006))
    meter = meter_for(shipped_price_table(), "claude-haiku-4-5", control)
    meter.record(Usage(input_tokens=1000, output_tokens=1000))
    with pytest.raises(LimitReached):
        meter.before_call(0, 0)
