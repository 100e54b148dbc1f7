"""Order sizing: the order that removes a drift, rounded to the venue, never overshooting.

Pure and Decimal. :func:`bot.core.policy.decide` is its caller; the backtester reaches it only
through ``decide``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from bot.domain import MarketRules, Side

__all__ = ["OrderSizing", "min_tradeable_base", "notional_price", "size_order"]


def _floor_to_step(amount: Decimal, step: Decimal) -> Decimal:
    if step <= 0:
        return amount
    return (amount / step).to_integral_value(rounding=ROUND_FLOOR) * step


def _sign(x: Decimal) -> int:
    return (x > 0) - (x < 0)


@dataclass(frozen=True, slots=True)
class OrderSizing:
    """Side, amount and reduce-only flag of the order that removes a drift."""

    side: Side
    amount_base: Decimal
    reduce_only: bool
    capped_at_zero: bool
    refusal: str | None  # "below_min_amount" / "below_min_notional", else None


def _refusal(
    amount: Decimal, price: Decimal, rules: MarketRules, *, reduce_only: bool
) -> str | None:
    """Why the venue would refuse the order, or None. ``price`` is the one the venue values
    the order at (``notional_price``). Reduce-only orders are exempt from the minimum
    notional, as on Binance USD-M ("unless you choose reduce only"), so a hedge can always be
    closed down to its last step."""
    if amount <= 0 or amount < rules.min_amount:
        return "below_min_amount"
    if not reduce_only and amount * price < rules.min_notional:
        return "below_min_notional"
    return None


def notional_price(
    side: Side,
    mark: Decimal,
    rules: MarketRules,
    limit_prices: tuple[Decimal, Decimal] | None,
) -> Decimal:
    """The price (quote per base) the venue multiplies an order's size by for its minimum
    order value: the ``(buy, sell)`` limit price of ``side`` when the venue checks the limit
    price (``rules.min_notional_price == "limit"``, Hyperliquid) and they are known, else the
    mark."""
    if rules.min_notional_price == "limit" and limit_prices is not None:
        return limit_prices[0] if side is Side.BUY else limit_prices[1]
    return mark


def min_tradeable_base(rules: MarketRules) -> Decimal:
    """The smallest |drift| whose order :func:`size_order` does not refuse for its amount:
    ``max(1, ceil(min_amount / step))`` steps (``min_amount`` without a step). Base units."""
    if rules.amount_step <= 0:
        return rules.min_amount
    steps = max(Decimal(1), (rules.min_amount / rules.amount_step).to_integral_value(ROUND_CEILING))
    return steps * rules.amount_step


def size_order(
    drift_base: Decimal,
    hedge_base: Decimal,
    price: Decimal,
    rules: MarketRules,
    *,
    limit_prices: tuple[Decimal, Decimal] | None = None,
) -> OrderSizing:
    """Order that removes ``drift_base``, rounded down to the step, never overshooting.

    ``price`` is the mark; the minimum notional is checked at the price the venue checks it
    at (:func:`notional_price`: the order's limit price on Hyperliquid, given as
    ``limit_prices`` ``(buy, sell)``).

    Zero-crossing choice: an order that would take the hedge through zero is capped at
    ``|hedge|`` and sent reduce-only (it closes the position); :func:`decide` then sets
    ``resume_to_target`` so the next tick opens the rest whatever the band. If the capped part
    alone is below the venue minimums, the whole order is sent without reduce-only instead,
    since a close that can never be placed would leave the hedge stuck.
    """
    side = Side.SELL if drift_base > 0 else Side.BUY
    price = notional_price(side, price, rules, limit_prices)
    amount = _floor_to_step(abs(drift_base), rules.amount_step)
    order_sign = -1 if side is Side.SELL else 1
    hedge_sign = _sign(hedge_base)
    reduces = hedge_sign != 0 and order_sign == -hedge_sign
    if reduces and amount > abs(hedge_base):
        capped = abs(hedge_base)
        if _refusal(capped, price, rules, reduce_only=True) is None:
            return OrderSizing(side, capped, True, True, None)
        refusal = _refusal(amount, price, rules, reduce_only=False)
        return OrderSizing(side, amount, False, False, refusal)
    return OrderSizing(
        side, amount, reduces, False, _refusal(amount, price, rules, reduce_only=reduces)
    )
