"""Pre-trade guards and the counterparty cap. Pure.

The margin and funding rules are in :mod:`bot.core.account_rules` (their names are
re-exported here); :mod:`bot.core.trading_gate` combines every rule into what may trade.

Every rule returns values, never raises for a tripped limit: the engine turns them into
alerts and into a :class:`TradingGate`. A tripped guard blocks trading, never monitoring; the
engine keeps reading the chain and the venue and publishing state while blocked.

Units: prices quote per base; notionals, PnL and collateral in quote; sizes signed base
(short < 0); ``*_pct`` are percentages (``2`` is 2 %); ratios and rates are fractions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from bot.core.account_rules import (
    SECONDS_PER_YEAR,
    CriticalAction,
    FundingAction,
    FundingAssessment,
    FundingLimits,
    FundingTotals,
    MarginAssessment,
    MarginLevels,
    annualise_funding_rate,
    assess_funding,
    assess_margin,
    fmt_amount,
    funding_accumulator,
    funding_payment_quote,
    margin_level,
)

__all__ = [
    "DATA_RULES",
    "SECONDS_PER_YEAR",
    "Breach",
    "CriticalAction",
    "FundingAction",
    "FundingAssessment",
    "FundingLimits",
    "FundingTotals",
    "KillMode",
    "MarginAssessment",
    "MarginLevels",
    "RiskInputs",
    "RiskLimits",
    "annualise_funding_rate",
    "assess_funding",
    "assess_margin",
    "blocks_trading",
    "check_pre_trade",
    "count_stalled_ticks",
    "counterparty_breach",
    "funding_accumulator",
    "funding_payment_quote",
    "time_weighted_price",
]

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)
_fmt = fmt_amount

Severity = Literal["warn", "block"]
KillMode = Literal["off", "freeze", "flatten"]

# The rules of the chain's data (:func:`check_pre_trade`'s data guards): unknown when the chain
# cannot be read, so they are neither evaluated nor cleared then.
DATA_RULES = frozenset({"stale_block", "block_not_advancing", "price_deviation", "twap_deviation"})


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Every configured limit; ``bot.risk_settings.RiskSettings.to_limits`` builds it.

    No defaults here: the config section is their one home. ``None`` disables the optional
    checks (TWAP, counterparty cap).
    """

    max_block_age_s: float
    max_blocks_without_advance: int
    max_price_deviation_pct: Decimal
    max_twap_deviation_pct: Decimal | None
    max_order_notional_quote: Decimal
    max_position_notional_quote: Decimal
    max_orders_per_minute: int
    daily_loss_limit_quote: Decimal
    max_collateral_quote: Decimal | None
    margin: MarginLevels
    funding: FundingLimits


@dataclass(frozen=True, slots=True)
class RiskInputs:
    """What the guards see at one tick, for the order about to be placed.

    ``order_notional`` 0 means no order: only the data guards run. ``stalled_ticks`` is the
    number of consecutive ticks, this one included, whose block did not advance (see
    :func:`count_stalled_ticks`); ``last_block_number`` is ``None`` on the first tick.
    """

    now_s: float
    block_number: int
    block_timestamp: int
    last_block_number: int | None
    pool_price: Decimal
    mark_price: Decimal
    twap_price: Decimal | None
    order_notional: Decimal
    position_notional_after: Decimal
    orders_last_minute: int
    day_pnl_quote: Decimal
    margin_ratio: Decimal | None
    liquidation_distance_pct: Decimal | None
    collateral_quote: Decimal
    funding_rate: Decimal
    funding_interval_s: int
    hedge_base: Decimal
    stalled_ticks: int = 0

    @property
    def position_notional_now(self) -> Decimal:
        """Current hedge notional at the mark, quote."""
        return abs(self.hedge_base) * self.mark_price

    @property
    def reduces_position(self) -> bool:
        """The order leaves a smaller position notional than there is now."""
        return self.position_notional_after < self.position_notional_now


@dataclass(frozen=True, slots=True)
class Breach:
    """A tripped rule: ``rule`` is a stable id for alerts and tests, ``message`` for humans."""

    rule: str
    severity: Severity
    message: str


def count_stalled_ticks(previous: int, block_number: int, last_block_number: int | None) -> int:
    """Consecutive ticks without a new block: reset to 0 when the block advances."""
    if last_block_number is None or block_number > last_block_number:
        return 0
    return previous + 1


def time_weighted_price(
    samples: Sequence[tuple[float, Decimal]], now_s: float, window_s: float
) -> Decimal | None:
    """Time-weighted average of ``(timestamp_s, price)`` samples over ``[now - window, now]``.

    Each price holds from its timestamp to the next sample's (the last one to ``now_s``);
    the sample in force at the window start counts from there. ``None`` without history
    covering some of the window (a single sample at ``now`` has no weight).
    """
    start = now_s - window_s
    ordered = sorted(samples, key=lambda sample: sample[0])
    total = _ZERO
    weight = 0.0
    for index, (ts, price) in enumerate(ordered):
        end = ordered[index + 1][0] if index + 1 < len(ordered) else now_s
        begin = max(ts, start)
        span = min(end, now_s) - begin
        if span <= 0:
            continue
        total += price * Decimal(repr(span))
        weight += span
    if weight <= 0:
        return None
    return total / Decimal(repr(weight))


def _pct(part: Decimal, whole: Decimal) -> Decimal:
    return abs(part) / whole * _HUNDRED


def _data_guards(inputs: RiskInputs, limits: RiskLimits) -> list[Breach]:
    breaches: list[Breach] = []
    age_s = inputs.now_s - inputs.block_timestamp
    if age_s > limits.max_block_age_s:
        breaches.append(
            Breach(
                "stale_block",
                "block",
                f"block {inputs.block_number} is {age_s:.0f}s old "
                f"(limit {limits.max_block_age_s:.0f}s)",
            )
        )
    last = inputs.last_block_number
    if last is not None and inputs.block_number < last:
        breaches.append(
            Breach(
                "block_not_advancing",
                "block",
                f"block went backwards: {inputs.block_number} after {last} (lagging RPC or reorg)",
            )
        )
    elif last is not None and inputs.block_number == last:
        stalled = max(inputs.stalled_ticks, 1)
        tripped = stalled >= limits.max_blocks_without_advance
        breaches.append(
            Breach(
                "block_not_advancing",
                "block" if tripped else "warn",
                f"block {inputs.block_number} did not advance for {stalled} "
                f"tick(s) (limit {limits.max_blocks_without_advance})",
            )
        )
    if not (inputs.mark_price > 0 and inputs.pool_price > 0):
        breaches.append(
            Breach(
                "price_deviation",
                "block",
                f"non-positive price: pool {inputs.pool_price}, mark {inputs.mark_price}",
            )
        )
        return breaches
    deviation = _pct(inputs.pool_price - inputs.mark_price, inputs.mark_price)
    if deviation > limits.max_price_deviation_pct:
        breaches.append(
            Breach(
                "price_deviation",
                "block",
                f"pool price {_fmt(inputs.pool_price)} is {_fmt(deviation)}% from mark "
                f"{_fmt(inputs.mark_price)} (limit {limits.max_price_deviation_pct}%)",
            )
        )
    twap, twap_limit = inputs.twap_price, limits.max_twap_deviation_pct
    if twap is not None and twap_limit is not None:
        twap_dev = _pct(inputs.pool_price - twap, twap) if twap > 0 else None
        if twap_dev is None or twap_dev > twap_limit:
            shown = "n/a" if twap_dev is None else f"{_fmt(twap_dev)}%"
            breaches.append(
                Breach(
                    "twap_deviation",
                    "block",
                    f"pool price {_fmt(inputs.pool_price)} is {shown} from its TWAP "
                    f"{_fmt(twap)} (limit {twap_limit}%)",
                )
            )
    return breaches


def _order_guards(inputs: RiskInputs, limits: RiskLimits) -> list[Breach]:
    breaches: list[Breach] = []
    # A smaller position is less risk: the size and loss limits only warn for it (nothing
    # splits orders, so blocking a large reduction would keep the bot over-hedged forever).
    relief: Severity = "warn" if inputs.reduces_position else "block"
    if inputs.order_notional > limits.max_order_notional_quote:
        breaches.append(
            Breach(
                "max_order_notional",
                relief,
                f"order notional {_fmt(inputs.order_notional)} exceeds "
                f"{_fmt(limits.max_order_notional_quote)}",
            )
        )
    if inputs.position_notional_after > limits.max_position_notional_quote:
        breaches.append(
            Breach(
                "max_position_notional",
                relief,
                f"position notional after the order {_fmt(inputs.position_notional_after)} "
                f"exceeds {_fmt(limits.max_position_notional_quote)}",
            )
        )
    if inputs.orders_last_minute + 1 > limits.max_orders_per_minute:
        breaches.append(
            Breach(
                "max_orders_per_minute",
                "block",
                f"{inputs.orders_last_minute} orders in the last minute "
                f"(limit {limits.max_orders_per_minute})",
            )
        )
    increases = not inputs.reduces_position
    level = margin_level(inputs.margin_ratio, inputs.liquidation_distance_pct, limits.margin)
    if increases and level != "ok":
        breaches.append(
            Breach(
                "margin_headroom",
                "block",
                f"margin is at {level}: no order may grow the position",
            )
        )
    if inputs.day_pnl_quote <= -limits.daily_loss_limit_quote:
        breaches.append(
            Breach(
                "daily_loss",
                relief,
                f"day PnL {_fmt(inputs.day_pnl_quote)} reached the loss limit "
                f"{_fmt(limits.daily_loss_limit_quote)}",
            )
        )
    return breaches


def check_pre_trade(inputs: RiskInputs, limits: RiskLimits) -> list[Breach]:
    """Every tripped pre-trade guard, data guards first; empty means clear to trade.

    Data guards (stale or stalled block, pool vs mark, pool vs TWAP) always block: the delta
    and the price cannot be trusted. Order guards run only when there is an order
    (``order_notional > 0``); ``max_position_notional`` and ``daily_loss`` only warn for an
    order that makes the position smaller, so a limit can never trap the bot in risk; an order
    that grows the position is refused while the margin is at warn or worse
    (``margin_headroom``), so a margin reduction is not undone by the next rebalance.
    """
    breaches = _data_guards(inputs, limits)
    if inputs.order_notional > 0:
        breaches.extend(_order_guards(inputs, limits))
    return breaches


def blocks_trading(breaches: Iterable[Breach]) -> bool:
    """True when any breach has severity ``block``."""
    return any(b.severity == "block" for b in breaches)


def counterparty_breach(collateral_quote: Decimal, cap: Decimal | None) -> Breach | None:
    """An alert (``warn``: it does not block hedging) when venue collateral exceeds ``cap``."""
    if cap is None or collateral_quote <= cap:
        return None
    return Breach(
        "counterparty_cap",
        "warn",
        f"collateral on the exchange {_fmt(collateral_quote)} exceeds the cap {_fmt(cap)}: "
        f"withdraw {_fmt(collateral_quote - cap)}",
    )
