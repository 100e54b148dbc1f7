"""Fast offline backtester: one LP position (V2 or V3 range) hedged with a short perp.

The LP side is vectorised float math; the hedge loop is a float mirror of
:func:`bot.core.policy.decide` (same band, persistence, interval, backstop, step rounding,
venue minimums and zero-crossing rule), kept light so a year of minute steps runs in
seconds. ``tests/unit/test_backtest.py`` checks that the mirror makes the same decisions as
the Decimal policy on a sample path.

Timing of one step i -> i+1: at t_i the policy sees price P_i and trades at P_i (taker fee
and slippage in bps of the notional); the hedge h_i is then held while the price moves to
P_{i+1} (hedge PnL h_i (P_{i+1} − P_i)); funding is charged at every funding time crossed,
on h_i at P_{i+1}: ``−h_i P_{i+1} rate`` (a short receives a positive rate). The perp mark
equals the pool price (no basis).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np

from bot.cli_args import (
    finite_float,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)
from bot.core.policy import (
    CostAwareBandPolicy,
    HedgePolicy,
    IntervalPolicy,
    PolicyInputs,
    ThresholdPolicy,
)
from bot.domain import PoolKind
from bot.safety import safe_str
from bot.sim.pricepaths import SECONDS_PER_YEAR, FloatArray, PricePath, gbm, load_csv

__all__ = [
    "MAX_STEPS",
    "BacktestConfig",
    "BacktestResult",
    "BacktestSeries",
    "FeeModel",
    "PoolSpec",
    "VenueModel",
    "add_subcommand",
    "band_series",
    "liquidity_for_value",
    "lp_curves",
    "run_backtest",
]

# the most steps one run simulates: every step costs a few float arrays' worth of memory
# (1,000,000,000 steps grew to 5.9 GB before it was bounded)
MAX_STEPS = 2_102_400  # four years of minute steps

FUNDING_INTERVAL_S = 8 * 3600.0
_EPS_STEPS = 1e-9  # float slack when flooring to the step, so 0.6 / 0.001 floors to 600


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


# --- LP math (float, vectorised) --------------------------------------------------------


def _amounts(
    liquidity: float, lower: float, upper: float, prices: FloatArray
) -> tuple[FloatArray, FloatArray]:
    sqrt_lo = math.sqrt(lower)
    inv_sqrt_hi = 0.0 if math.isinf(upper) else 1.0 / math.sqrt(upper)
    sqrt_hi = math.inf if math.isinf(upper) else math.sqrt(upper)
    sp = np.clip(np.sqrt(prices), sqrt_lo, sqrt_hi)
    return liquidity * (1.0 / sp - inv_sqrt_hi), liquidity * (sp - sqrt_lo)


def lp_curves(
    liquidity: float, lower: float, upper: float, prices: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """(amount_base, amount_quote, value_quote, delta_base, gamma) for a range position.

    Uniswap V3 whitepaper eq. 6.29–6.30 with sqrt price clipped to the range:
    x = L (1/√p − 1/√p_b), y = L (√p − √p_a); V2 is the range (0, ∞). Delta = x;
    gamma = dx/dP = −L / (2 P^(3/2)) inside the range, 0 outside.
    """
    base, quote = _amounts(liquidity, lower, upper, prices)
    value = base * prices + quote
    inside = (prices > lower) & (prices < upper)
    gamma = np.where(inside, -0.5 * liquidity * prices**-1.5, 0.0)
    return base, quote, value, base.copy(), gamma


def liquidity_for_value(value_quote: float, price: float, lower: float, upper: float) -> float:
    """L such that the position is worth ``value_quote`` at ``price``."""
    base, quote = _amounts(1.0, lower, upper, np.array([price]))
    unit_value = float(base[0] * price + quote[0])
    if unit_value <= 0:
        raise ValueError("position has no value at the start price")
    return value_quote / unit_value


# --- policy mirror ----------------------------------------------------------------------


def band_series(
    policy: HedgePolicy,
    prices: FloatArray,
    delta: FloatArray,
    gamma: FloatArray,
    hedge_ratio: float,
) -> FloatArray:
    """The policy's band at every point, in float; unknown policies fall back to Decimal."""
    if isinstance(policy, ThresholdPolicy):
        absolute = float(policy.threshold_base or 0)
        fraction = float(policy.threshold_fraction or 0)
        return np.maximum(absolute, fraction * np.abs(delta))
    if isinstance(policy, IntervalPolicy):
        return np.zeros_like(prices)
    if isinstance(policy, CostAwareBandPolicy):
        k, lam = float(policy.cost_fraction), float(policy.risk_aversion)
        band = np.cbrt(3.0 * k * prices * (hedge_ratio * gamma) ** 2 / (2.0 * lam))
        band = np.maximum(band, float(policy.min_band_base))
        if policy.max_band_base is not None:
            band = np.minimum(band, float(policy.max_band_base))
        return band
    ratio = Decimal(repr(hedge_ratio))
    return np.array(
        [
            float(
                policy.band_base(
                    PolicyInputs(0.0, Decimal(repr(p)), Decimal(repr(d)), Decimal(repr(g)), ratio)
                )
            )
            for p, d, g in zip(prices.tolist(), delta.tolist(), gamma.tolist(), strict=True)
        ]
    )


def _hedge_path(
    policy: HedgePolicy,
    venue: VenueModel,
    times: FloatArray,
    prices: FloatArray,
    target: FloatArray,
    band: FloatArray,
) -> tuple[FloatArray, int]:
    """Position after the decision at each point, and the number of rebalances."""
    n = len(times)
    out = [0.0] * n
    persistence = policy.persistence_s
    interval = policy.interval_s
    backstop = policy.backstop_s
    step, min_amount, min_notional = venue.amount_step, venue.min_amount, venue.min_notional
    t_list, p_list, tg_list, b_list = (
        times.tolist(),
        prices.tolist(),
        target.tolist(),
        band.tolist(),
    )
    start = t_list[0]
    h = 0.0
    last: float | None = None
    since: float | None = None
    resume = False
    rebalances = 0
    for i in range(n):
        t = t_list[i]
        d = h - tg_list[i]
        b = b_list[i]
        outside = d > b or -d > b
        if not outside:
            since = None
        elif since is None:
            since = t
        if resume or (
            since is not None
            and t - since >= persistence
            and (interval is None or last is None or t - last >= interval)
        ):
            pass
        elif backstop is None or d == 0.0 or t - (start if last is None else last) < backstop:
            out[i] = h
            continue
        if d == 0.0:
            resume = False
            out[i] = h
            continue
        price = p_list[i]
        amount = abs(d) if step <= 0 else math.floor(abs(d) / step + _EPS_STEPS) * step
        sell = d > 0.0
        capped = False
        reduces = h > 0.0 if sell else h < 0.0  # reduce-only orders skip the min notional
        if reduces and amount > abs(h):
            close = abs(h)
            if close >= min_amount:
                amount, capped = close, True
            else:
                reduces = False  # the whole order goes without reduce-only
        notional_ok = reduces or amount * price >= min_notional
        if amount <= 0.0 or amount < min_amount or not notional_ok:
            resume = False
            out[i] = h
            continue
        h = 0.0 if capped else (h - amount if sell else h + amount)
        last, since, resume = t, None, capped
        rebalances += 1
        out[i] = h
    return np.asarray(out, dtype=np.float64), rebalances


# --- the run ----------------------------------------------------------------------------


def run_backtest(path: PricePath, config: BacktestConfig) -> BacktestResult:
    """Simulate the hedged LP over ``path`` and attribute the PnL."""
    times, prices = path.times_s, path.prices
    venue, fees = config.venue, config.fees
    lower, upper = config.pool.bounds(float(prices[0]))
    liquidity = liquidity_for_value(config.pool.value_quote, float(prices[0]), lower, upper)
    base, quote, value, delta, gamma = lp_curves(liquidity, lower, upper, prices)
    target = -config.hedge_ratio * delta
    band = band_series(config.policy, prices, delta, gamma, config.hedge_ratio)
    hedge, rebalances = _hedge_path(config.policy, venue, times, prices, target, band)

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


# --- plot and CLI -----------------------------------------------------------------------


def plot_result(result: BacktestResult, out: Path) -> None:
    """Price, hedge vs target, and cumulative PnL attribution, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result.series
    days = (s.times_s - s.times_s[0]) / 86400.0
    fig, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    axes[0].plot(days, s.price, lw=0.8)
    axes[0].set_ylabel("price")
    axes[1].plot(days, s.target_base, lw=0.8, label="target")
    axes[1].plot(days, s.hedge_base, lw=0.8, label="hedge", drawstyle="steps-post")
    axes[1].set_ylabel("perp position (base)")
    axes[1].legend(loc="best")
    curves = {
        "net": s.cum_net_pnl_quote,
        "LP fees": s.cum_lp_fees_quote,
        "LP value + hedge": s.lp_value_quote - s.lp_value_quote[0] + s.cum_hedge_pnl_quote,
        "funding": s.cum_funding_quote,
        "−costs": -s.cum_costs_quote,
    }
    for label, values in curves.items():
        axes[2].plot(days, values, lw=0.8, label=label)
    axes[2].set_ylabel("cumulative PnL (quote)")
    axes[2].set_xlabel("days")
    axes[2].legend(loc="best")
    fig.suptitle(f"backtest: {result.rebalances} rebalances, net {result.net_pnl_quote:,.2f}")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def _threshold_arg(text: str) -> str:
    """``--threshold``: base units (``0.5``) or a percentage of delta (``5%``), finite and > 0."""
    number = text[:-1] if text.endswith("%") else text
    try:
        value = Decimal(number)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number or percentage: {text!r}") from None
    if not value.is_finite() or not math.isfinite(float(value)) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    if text.endswith("%") and value > 100:
        raise argparse.ArgumentTypeError(f"a percentage must be <= 100%, got {text!r}")
    return text


def _threshold_policy(text: str, persistence_s: float, backstop_s: float | None) -> HedgePolicy:
    if text.endswith("%"):
        fraction = Decimal(text[:-1]) / 100
        return ThresholdPolicy(None, fraction, persistence_s, backstop_s)
    return ThresholdPolicy(Decimal(text), None, persistence_s, backstop_s)


def _build(args: argparse.Namespace) -> tuple[PricePath, BacktestConfig]:
    if args.prices is not None:
        path = load_csv(Path(args.prices))
    else:
        path = gbm(
            steps=args.steps,
            step_s=args.step_seconds,
            sigma_annual=args.gbm_sigma,
            drift_annual=args.gbm_drift,
            start_price=args.start_price,
            seed=args.seed,
        )
    venue = VenueModel(
        taker_fee_bps=args.taker_fee_bps,
        slippage_bps=args.slippage_bps,
        funding_rate=args.funding_rate,
    )
    policy: HedgePolicy
    if args.policy == "interval":
        policy = IntervalPolicy(args.interval_s, args.persistence_s, args.backstop_s)
    elif args.policy == "band":
        policy = CostAwareBandPolicy(
            cost_fraction=Decimal(repr(venue.cost_fraction)),
            risk_aversion=Decimal(str(args.risk_aversion)),
            persistence_s=args.persistence_s,
            backstop_s=args.backstop_s,
        )
    else:
        policy = _threshold_policy(args.threshold, args.persistence_s, args.backstop_s)
    config = BacktestConfig(
        policy=policy,
        pool=PoolSpec(args.pool_kind, args.value_quote, args.range_pct),
        venue=venue,
        fees=FeeModel(args.fee_apr, args.fee_tier_bps, args.volume_per_day),
        hedge_ratio=args.hedge_ratio,
    )
    return path, config


def _print_table(result: BacktestResult) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="hedgebot backtest")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in result.summary().items():
        table.add_row(name, f"{value:,}" if isinstance(value, int) else f"{value:,.4f}")
    Console().print(table)


def _steps(text: str) -> int:
    """``--steps``: a whole number in 1..``MAX_STEPS`` (arrays are sized by it)."""
    steps = positive_int(text)
    if steps > MAX_STEPS:
        raise argparse.ArgumentTypeError(
            f"must be <= {MAX_STEPS} (four years of minute steps), got {text[:40]!r}"
        )
    return steps


def _overflowed(result: BacktestResult) -> list[str]:
    """Names of the summary figures that are not finite (inputs too large for a float)."""
    return [name for name, value in result.summary().items() if not math.isfinite(value)]


def _command(args: argparse.Namespace) -> int:
    try:
        path, config = _build(args)
        if len(path.prices) > MAX_STEPS + 1:
            raise ValueError(f"{len(path.prices)} prices: at most {MAX_STEPS + 1} are simulated")
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below
            result = run_backtest(path, config)
        overflowed = _overflowed(result)
        if overflowed:
            raise ValueError(
                f"results overflow a float ({', '.join(overflowed)}): use a smaller "
                "--value-quote or --start-price"
            )
    except (ValueError, OSError) as exc:
        print(f"backtest: {safe_str(exc)}", file=sys.stderr)  # noqa: T201
        return 2
    if args.plot is not None:
        plot_result(result, Path(args.plot))
    if args.json:
        print(json.dumps(result.summary(), allow_nan=False))  # noqa: T201
    else:
        _print_table(result)
    return 0


def add_subcommand(subparsers: Any) -> None:
    """Register ``backtest`` on an argparse subparsers object; sets ``args.func``."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "backtest", help="offline backtest of a hedged LP position"
    )
    src = p.add_argument_group("price source (CSV, or seeded GBM)")
    src.add_argument("--prices", metavar="FILE.csv", help="timestamp,price[,funding_rate]")
    src.add_argument(
        "--gbm-sigma", type=non_negative_float, default=0.8, help="annualised volatility"
    )
    src.add_argument("--gbm-drift", type=finite_float, default=0.0, help="annualised drift")
    src.add_argument(
        "--steps", type=_steps, default=525_600, help=f"GBM steps, at most {MAX_STEPS}"
    )
    src.add_argument("--step-seconds", type=positive_float, default=60.0)
    src.add_argument("--seed", type=non_negative_int, default=1)
    src.add_argument("--start-price", type=positive_float, default=2000.0)
    pool = p.add_argument_group("LP position")
    pool.add_argument("--pool-kind", choices=["v2", "v3"], default="v2")
    pool.add_argument(
        "--range-pct", type=positive_float, default=0.2, help="V3: ±fraction, 0.2 = ±20%%"
    )
    pool.add_argument("--value-quote", type=positive_float, default=100_000.0)
    pool.add_argument("--fee-apr", type=non_negative_float, default=0.0, help="0.2 = 20%% a year")
    pool.add_argument(
        "--fee-tier-bps", type=non_negative_float, default=0.0, help="volume model fee tier"
    )
    pool.add_argument(
        "--volume-per-day", type=non_negative_float, default=0.0, help="position's share, quote"
    )
    hedge = p.add_argument_group("hedge policy")
    hedge.add_argument("--policy", choices=["threshold", "interval", "band"], default="threshold")
    hedge.add_argument(
        "--threshold",
        type=_threshold_arg,
        default="5%",
        help="band: base units (0.5) or fraction of delta (5%%)",
    )
    hedge.add_argument("--interval-s", type=positive_float, default=3600.0)
    hedge.add_argument("--risk-aversion", type=positive_float, default=1e-4, help="CARA, 1/quote")
    hedge.add_argument("--persistence-s", type=non_negative_float, default=0.0)
    hedge.add_argument("--backstop-s", type=positive_float, default=None)
    hedge.add_argument("--hedge-ratio", type=non_negative_float, default=1.0)
    venue = p.add_argument_group("perp venue")
    venue.add_argument("--taker-fee-bps", type=non_negative_float, default=5.0)
    venue.add_argument("--slippage-bps", type=non_negative_float, default=1.0)
    venue.add_argument(
        "--funding-rate", type=finite_float, default=0.0, help="per 8 h, 0.0001 = 1 bp"
    )
    out = p.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print one JSON object")
    out.add_argument("--plot", metavar="FILE.png", default=None)
    p.set_defaults(func=_command)
