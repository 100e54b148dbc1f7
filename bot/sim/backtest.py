"""Fast offline backtester: one LP position (V2 or V3 range) hedged with a short perp.

One source of truth with the daemon: the LP curves are :mod:`bot.core.v3`'s continuous helpers
evaluated over the whole path (numpy arrays through the same functions the core calls with
one price), and the hedge is the live :func:`bot.core.policy.decide` with the venue's
:class:`~bot.domain.MarketRules` (:mod:`bot.sim.hedge_path`), skipping only the steps its own
:func:`~bot.core.policy.quiet` predicate calls quiet. The attribution follows
:mod:`bot.core.pnl`'s definitions (parts and signs from ``PARTS``, gas excluded), as float
sums over the path.

Timing of one step i -> i+1: at t_i the policy sees price P_i and trades at P_i (taker fee
and slippage in bps of the notional); the hedge h_i is then held while the price moves to
P_{i+1} (hedge PnL h_i (P_{i+1} − P_i)); funding is charged at every funding time crossed,
on h_i at P_{i+1}: ``−h_i P_{i+1} rate`` (a short receives a positive rate). The perp mark
equals the pool price (no basis).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from bot.core.policy import HedgePolicy
from bot.core.v3 import v3_amounts, v3_gamma, v3_value
from bot.domain import MarketRules, PoolKind
from bot.sim.hedge_path import hedge_path
from bot.sim.pricepaths import MAX_STEPS, SECONDS_PER_YEAR, FloatArray, PricePath

__all__ = [
    "MAX_STEPS",
    "BacktestConfig",
    "BacktestResult",
    "BacktestSeries",
    "FeeModel",
    "PoolSpec",
    "VenueModel",
    "add_subcommand",
    "liquidity_for_value",
    "lp_curves",
    "run_backtest",
]

FUNDING_INTERVAL_S = 8 * 3600.0


@dataclass(frozen=True, slots=True)
class PoolSpec:
    """The LP position: V2 (full range) or V3 with bounds ±range_pct around the start price."""

    kind: PoolKind = "v2"
    value_quote: float = 100_000.0
    range_pct: float = 0.2  # V3 only: 0.2 -> [0.8 P0, 1.2 P0]

    def bounds(self, start_price: float) -> tuple[float, float]:
        """Price range (lower, upper); (0, inf) for V2."""
        if self.kind == "v2":
            return 0.0, math.inf
        if not 0 < self.range_pct < 1:
            raise ValueError("range_pct must be in (0, 1)")
        return start_price * (1 - self.range_pct), start_price * (1 + self.range_pct)


@dataclass(frozen=True, slots=True)
class FeeModel:
    """LP fee income: an APR on position value, and/or fee tier x volume.

    Volume model: ``volume_quote_per_day`` is this position's share of the pool's non-arbitrage
    volume; arbitrage volume is the position's own rebalancing, |Δ base| x price, per step.
    Both earn only while in range.
    """

    fee_apr: float = 0.0
    fee_tier_bps: float = 0.0
    volume_quote_per_day: float = 0.0


@dataclass(frozen=True, slots=True)
class VenueModel:
    """Perp venue costs and precision (floats mirroring :class:`bot.domain.MarketRules`)."""

    taker_fee_bps: float = 5.0
    slippage_bps: float = 1.0
    funding_rate: float = 0.0  # per funding interval, used when the path carries none
    funding_interval_s: float = FUNDING_INTERVAL_S
    amount_step: float = 0.0
    min_amount: float = 0.0
    min_notional: float = 0.0

    @property
    def cost_fraction(self) -> float:
        """Proportional cost per unit of notional traded (fee + slippage)."""
        return (self.taker_fee_bps + self.slippage_bps) / 1e4

    def market_rules(self) -> MarketRules:
        """The venue's precision and minimums as the live policy takes them (Decimal)."""
        step, min_amount, min_notional = (
            Decimal(repr(float(x))) for x in (self.amount_step, self.min_amount, self.min_notional)
        )
        return MarketRules("BACKTEST", step, Decimal(0), min_amount, min_notional)


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    """Everything one backtest run needs besides the price path."""

    policy: HedgePolicy
    pool: PoolSpec = field(default_factory=PoolSpec)
    venue: VenueModel = field(default_factory=VenueModel)
    fees: FeeModel = field(default_factory=FeeModel)
    hedge_ratio: float = 1.0


@dataclass(frozen=True, eq=False)
class BacktestSeries:
    """Per-point time series for plots (length steps + 1; per-step flows are cumulative)."""

    times_s: FloatArray
    price: FloatArray
    lp_value_quote: FloatArray
    delta_base: FloatArray
    target_base: FloatArray
    hedge_base: FloatArray  # position held after the decision at each point
    cum_net_pnl_quote: FloatArray
    cum_lp_fees_quote: FloatArray
    cum_hedge_pnl_quote: FloatArray
    cum_funding_quote: FloatArray
    cum_costs_quote: FloatArray  # trading fees + slippage
    il_quote: FloatArray


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Totals in quote; ``net_pnl_quote`` is the sum of the attribution parts.

    ``net = lp_hold_pnl + il + lp_fees + hedge_pnl + funding − trading_fees − slippage`` where
    lp_hold_pnl = x0 (P_T − P_0) (the initial amounts held) and il = V_T − V_hold,T.
    ``tracking_error_quote`` is the std of per-step hedged PnL ΔV + h ΔP (no fees, no funding).
    """

    steps: int
    duration_s: float
    rebalances: int
    traded_base: float
    start_value_quote: float
    end_value_quote: float
    net_pnl_quote: float
    lp_hold_pnl_quote: float
    il_quote: float
    lp_fees_quote: float
    hedge_pnl_quote: float
    funding_quote: float
    trading_fees_quote: float
    slippage_quote: float
    tracking_error_quote: float
    series: BacktestSeries

    @property
    def hedged_pnl_ex_fees_quote(self) -> float:
        """LP value change plus hedge PnL: what delta hedging leaves of the price exposure."""
        return self.lp_hold_pnl_quote + self.il_quote + self.hedge_pnl_quote

    @property
    def hedging_cost_quote(self) -> float:
        """Trading fees plus slippage."""
        return self.trading_fees_quote + self.slippage_quote

    def summary(self) -> dict[str, float | int]:
        """Scalar figures, for tables and JSON."""
        return {
            "steps": self.steps,
            "duration_days": self.duration_s / 86400,
            "rebalances": self.rebalances,
            "traded_base": self.traded_base,
            "start_value_quote": self.start_value_quote,
            "end_value_quote": self.end_value_quote,
            "net_pnl_quote": self.net_pnl_quote,
            "lp_hold_pnl_quote": self.lp_hold_pnl_quote,
            "il_quote": self.il_quote,
            "lp_fees_quote": self.lp_fees_quote,
            "hedge_pnl_quote": self.hedge_pnl_quote,
            "funding_quote": self.funding_quote,
            "trading_fees_quote": self.trading_fees_quote,
            "slippage_quote": self.slippage_quote,
            "tracking_error_quote": self.tracking_error_quote,
        }


# --- LP math: the core's continuous helpers over whole paths ------------------------------


def _broadcast(x: float, like: FloatArray) -> FloatArray:
    out: FloatArray = np.broadcast_to(np.float64(x), like.shape)
    return out


def lp_curves(
    liquidity: float, lower: float, upper: float, prices: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """(amount_base, amount_quote, value_quote, delta_base, gamma) for a range position.

    :mod:`bot.core.v3`'s continuous helpers over the whole path (Uniswap V3 whitepaper eq.
    6.29–6.30, price clipped to the range); V2 is the range (0, ∞), where they reduce to
    :mod:`bot.core.amm`'s ``2 L √P`` and ``L / √P``. Delta = the base amount; gamma =
    −L / (2 P^(3/2)) inside the range, 0 outside.
    """
    args = (_broadcast(liquidity, prices), prices, _broadcast(lower, prices))
    hi = _broadcast(upper, prices)
    base, quote = v3_amounts(*args, hi)
    value = v3_value(*args, hi)
    gamma = v3_gamma(*args, hi)
    return base, quote, value, base.copy(), gamma


def liquidity_for_value(value_quote: float, price: float, lower: float, upper: float) -> float:
    """L such that the position is worth ``value_quote`` at ``price``."""
    unit_value = v3_value(1.0, price, lower, upper)
    if unit_value <= 0:
        raise ValueError("position has no value at the start price")
    return value_quote / unit_value


# --- the run ----------------------------------------------------------------------------


def run_backtest(path: PricePath, config: BacktestConfig) -> BacktestResult:
    """Simulate the hedged LP over ``path`` and attribute the PnL."""
    times, prices = path.times_s, path.prices
    venue, fees = config.venue, config.fees
    lower, upper = config.pool.bounds(float(prices[0]))
    liquidity = liquidity_for_value(config.pool.value_quote, float(prices[0]), lower, upper)
    base, quote, value, delta, gamma = lp_curves(liquidity, lower, upper, prices)
    target = -config.hedge_ratio * delta
    hedge, rebalances = hedge_path(
        config.policy, venue.market_rules(), times, (prices, delta, gamma), config.hedge_ratio
    )

    dt = np.diff(times)
    d_price = np.diff(prices)
    d_value = np.diff(value)
    held = hedge[:-1]
    hedge_pnl = held * d_price

    trades = np.diff(hedge, prepend=0.0)
    notional = np.abs(trades) * prices
    trading_fees = notional * (venue.taker_fee_bps / 1e4)
    slippage = notional * (venue.slippage_bps / 1e4)

    in_range = ((prices > lower) & (prices < upper))[:-1]
    lp_fees = fees.fee_apr * value[:-1] * dt / SECONDS_PER_YEAR
    if fees.fee_tier_bps > 0:
        volume = fees.volume_quote_per_day * dt / 86400.0 + np.abs(np.diff(base)) * prices[1:]
        lp_fees = lp_fees + fees.fee_tier_bps / 1e4 * volume
    lp_fees = np.where(in_range, lp_fees, 0.0)

    funding_times = np.floor(times / venue.funding_interval_s)
    crossings = np.diff(funding_times)
    rates = path.funding_rates[1:] if path.funding_rates is not None else venue.funding_rate
    funding = -held * prices[1:] * rates * crossings

    hold_value = base[0] * prices + quote[0]
    il = value - hold_value
    lp_hold_pnl = float(base[0] * (prices[-1] - prices[0]))
    hedge_total = float(hedge_pnl.sum())
    parts = {
        "lp_fees": float(lp_fees.sum()),
        "funding": float(funding.sum()),
        "trading_fees": float(trading_fees.sum()),
        "slippage": float(slippage.sum()),
    }
    net = (
        lp_hold_pnl
        + float(il[-1])
        + parts["lp_fees"]
        + hedge_total
        + parts["funding"]
        - parts["trading_fees"]
        - parts["slippage"]
    )
    # independent check: end value minus start value, perp PnL from the trade list
    perp_pnl = float(np.sum(trades * (prices[-1] - prices)))
    direct = (
        float(value[-1] - value[0])
        + parts["lp_fees"]
        + perp_pnl
        + parts["funding"]
        - parts["trading_fees"]
        - parts["slippage"]
    )
    scale = config.pool.value_quote + float(np.sum(notional))
    if not math.isclose(net, direct, rel_tol=0.0, abs_tol=1e-9 * scale):
        raise ArithmeticError(f"attribution does not add up: {net} != {direct}")

    step_hedged = d_value + hedge_pnl
    cum_costs = np.cumsum(trading_fees + slippage)  # trades happen at the points
    cum = np.concatenate(([0.0], np.cumsum(step_hedged + lp_fees + funding))) - cum_costs
    series = BacktestSeries(
        times_s=times,
        price=prices,
        lp_value_quote=value,
        delta_base=delta,
        target_base=target,
        hedge_base=hedge,
        cum_net_pnl_quote=cum,
        cum_lp_fees_quote=np.concatenate(([0.0], np.cumsum(lp_fees))),
        cum_hedge_pnl_quote=np.concatenate(([0.0], np.cumsum(hedge_pnl))),
        cum_funding_quote=np.concatenate(([0.0], np.cumsum(funding))),
        cum_costs_quote=cum_costs,
        il_quote=il,
    )
    return BacktestResult(
        steps=path.steps,
        duration_s=float(times[-1] - times[0]),
        rebalances=rebalances,
        traded_base=float(np.abs(trades).sum()),
        start_value_quote=float(value[0]),
        end_value_quote=float(value[-1]),
        net_pnl_quote=net,
        lp_hold_pnl_quote=lp_hold_pnl,
        il_quote=float(il[-1]),
        lp_fees_quote=parts["lp_fees"],
        hedge_pnl_quote=hedge_total,
        funding_quote=parts["funding"],
        trading_fees_quote=parts["trading_fees"],
        slippage_quote=parts["slippage"],
        tracking_error_quote=float(np.std(step_hedged)),
        series=series,
    )


def add_subcommand(subparsers: Any) -> None:
    """Register ``backtest`` on an argparse subparsers object (:mod:`bot.sim.backtest_cli`)."""
    from bot.sim.backtest_cli import add_subcommand as add

    add(subparsers)
