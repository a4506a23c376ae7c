"""The budget meter: what a model-backed run may still spend, checked before every call and
charged from the usage every response reports.

- :meth:`BudgetMeter.before_call` refuses a call once the spend has reached the budget, and a
  call whose worst case (the estimated prompt at the dearest input rate, plus ``max_tokens``
  of output) would go over what remains: it raises
  :class:`~selfheal.coder.interface.LimitReached` with :attr:`Limit.BUDGET`, and nothing is
  sent.
- :meth:`BudgetMeter.record` prices a response's usage with the model's price, adds it to the
  run's spend, and hands a :class:`CallCost` to ``on_call`` first (the lifecycle persists it in
  the ledger, per call, so a restart keeps it), then charges the run.

A model with no price gets no meter (:func:`meter_for` raises :class:`UnpricedModel`): a budget
that cannot be metered is not a budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from selfheal.coder.interface import Limit, LimitReached, RunControl
from selfheal.model.prices import ModelPrice, PriceTable, Usage, cost_usd, worst_case_usd


class UnpricedModel(ValueError):
    """The model has no price in the table, so its cost cannot be metered."""


@dataclass(frozen=True, slots=True)
class CallCost:
    """One metered call: its model, usage, cost, and the run's spend after it."""

    model: str
    usage: Usage
    cost_usd: float
    spent_usd: float
    at: float


CallListener = Callable[[CallCost], None]


class BudgetMeter:
    def __init__(
        self,
        price: ModelPrice,
        control: RunControl,
        on_call: CallListener | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.price = price
        self.control = control
        self.on_call = on_call
        self.clock = clock
        self.calls: list[CallCost] = []

    @property
    def budget_usd(self) -> float:
        return self.control.limits.budget_usd

    @property
    def spent_usd(self) -> float:
        return self.control.spent_usd

    @property
    def remaining_usd(self) -> float:
        return max(0.0, self.budget_usd - self.spent_usd)

    def before_call(self, prompt_tokens: int, max_tokens: int) -> float:
        """The call's worst case; raises LimitReached when it may not be made."""
        if self.spent_usd >= self.budget_usd:
            raise LimitReached(
                Limit.BUDGET,
                f"budget exceeded: ${self.spent_usd:.4f} of the ${self.budget_usd:.2f} budget "
                "is spent",
            )
        worst = worst_case_usd(self.price, prompt_tokens, max_tokens)
        if worst > self.remaining_usd:
            raise LimitReached(
                Limit.BUDGET,
                f"budget exceeded: the next call could cost ${worst:.4f} and only "
                f"${self.remaining_usd:.4f} of the ${self.budget_usd:.2f} budget is left",
            )
        return worst

    def record(self, usage: Usage) -> CallCost:
        """Charge one response's usage (over the budget raises LimitReached, after the call
        was recorded: the money is spent either way)."""
        cost = cost_usd(self.price, usage)
        call = CallCost(self.price.model, usage, cost, self.spent_usd + cost, self.clock())
        self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)
        self.control.charge(cost)
        return call

    def usage(self) -> Usage:
        total = Usage()
        for call in self.calls:
            total = total + call.usage
        return total


def meter_for(
    table: PriceTable,
    model: str,
    control: RunControl,
    on_call: CallListener | None = None,
) -> BudgetMeter:
    """A meter for ``model``; :class:`UnpricedModel` when the table has no price for it."""
    price = table.price_of(model)
    if price is None:
        raise UnpricedModel(
            f"the model {model!r} has no price in the price table, so its cost cannot be "
            "metered; the operator can add it with SELFHEAL_PRICES"
        )
    return BudgetMeter(price, control, on_call)
