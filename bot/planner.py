"""Hedge planner: how the configured book moves across prices, what each hedge ratio holds,
risks and earns, and how often the configured policy would trade. Pure.

Values and deltas are the core's own curves (``bot.core.amm`` for V2, ``bot.core.v3`` for
ranges: Uniswap V3 whitepaper eq. 6.29–6.30); liquidation prices are
``bot.core.margin.liquidation_price_isolated`` (Binance USD-M's isolated formula); the
rebalance forecast is ``bot.sim.backtest.run_backtest`` over seeded GBM paths. The shell that
reads chain, venue and store is ``bot.planner_cli``; the dashboard calls :func:`plan_hedge`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal, localcontext
from typing import Any, Literal

import numpy as np

from bot.core.margin import (
    ETHUSDT_BRACKETS,
    MaintenanceBracket,
    liquidation_distance_pct,
    liquidation_price_isolated,
)
from bot.core.policy import HedgePolicy
from bot.planner_curves import PositionCurve, ewma_sigma_annual, v2_curve, v3_curve
from bot.sim.backtest import BacktestConfig, PoolSpec, VenueModel, run_backtest
from bot.sim.pricepaths import PricePath, gbm_paths

__all__ = [
    "GRID_MOVES_PCT",
    "HEDGE_RATIOS",
    "MAX_SIGMA",
    "ForecastModel",
    "FundingView",
    "GridPoint",
    "HedgeOption",
    "MarginModel",
    "PlanInputs",
    "PlanResult",
    "PositionCurve",
    "RebalanceForecast",
    "ewma_sigma_annual",
    "plan_hedge",
    "v2_curve",
    "v3_curve",
]

GRID_MOVES_PCT: tuple[int, ...] = tuple(range(-50, 51, 10))
HEDGE_RATIOS: tuple[Decimal, ...] = (Decimal("0.5"), Decimal("0.75"), Decimal(1), Decimal("1.25"))
_PREC = 60
MAX_SIGMA = 10.0  # annualised, 1000 % a year: beyond it the GBM paths overflow a float
_E18 = Decimal("1e-18")
_CENT = Decimal("0.01")
_DAY_S = 86_400


def _q(value: Decimal, step: Decimal = _E18) -> Decimal:
    """``value`` rounded to ``step`` (18 decimals by default) without losing integer digits."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        return value.quantize(step)


def _dec(value: float, step: Decimal = _CENT) -> Decimal:
    """A float statistic as a Decimal rounded to ``step``."""
    return _q(Decimal(repr(float(value))), step)


@dataclass(frozen=True, slots=True)
class FundingView:
    """The funding rate per interval and where it came from."""

    rate: Decimal
    interval_s: int
    source: str


@dataclass(frozen=True, slots=True)
class MarginModel:
    """Leverage and margin of the hedge: isolated margin is ``notional / leverage``; cross
    margin is the account's ``wallet_balance`` (one position: Binance's formula is the
    isolated one with that balance)."""

    leverage: int
    mode: Literal["isolated", "cross"] = "isolated"
    wallet_balance: Decimal | None = None
    brackets: tuple[MaintenanceBracket, ...] = ETHUSDT_BRACKETS

    def margin_for(self, notional: Decimal) -> Decimal:
        """Collateral backing a hedge of ``notional`` quote."""
        if self.mode == "cross" and self.wallet_balance is not None:
            return self.wallet_balance
        return notional / self.leverage


@dataclass(frozen=True)
class ForecastModel:
    """What the rebalance forecast simulates: the configured policy, ratio and venue costs,
    ``paths`` seeded GBM paths of ``days`` days in ``step_s`` steps at ``sigma_annual``."""

    policy: HedgePolicy
    hedge_ratio: float
    venue: VenueModel
    sigma_annual: float
    sigma_source: str
    days: int = 30
    paths: int = 16
    step_s: float = 300.0
    seed: int = 1


@dataclass(frozen=True)
class PlanInputs:
    """Everything :func:`plan_hedge` needs, read once at ``block``.

    ``delta_base``/``value_quote`` are the exact figures of the snapshot (delta includes the
    wallet base); ``mark_price`` is the venue's, used for hedge notional and liquidation.
    """

    block: int
    block_timestamp: int
    price: Decimal
    mark_price: Decimal
    delta_base: Decimal
    value_quote: Decimal
    curves: tuple[PositionCurve, ...]
    wallet_base: Decimal
    funding: FundingView
    margin: MarginModel
    forecast: ForecastModel
    hedge_ratio: Decimal = Decimal(1)
    ratios: tuple[Decimal, ...] = HEDGE_RATIOS


@dataclass(frozen=True, slots=True)
class GridPoint:
    """The book at one price: value (quote, LP + wallet base), delta (base); ``edge`` names
    the V3 range edges that sit at this price."""

    move_pct: Decimal
    price: Decimal
    value_quote: Decimal
    delta_base: Decimal
    position_deltas: tuple[tuple[str, Decimal], ...]
    edge: str | None = None


@dataclass(frozen=True, slots=True)
class HedgeOption:
    """The hedge at one ratio: ``hedge_base = -ratio · delta``; margin and liquidation at the
    configured leverage; ``funding_per_day_quote`` received (+) or paid (−) at today's rate."""

    ratio: Decimal
    hedge_base: Decimal
    notional_quote: Decimal
    margin_quote: Decimal
    liquidation_price: Decimal | None
    liquidation_distance_pct: Decimal | None
    funding_per_day_quote: Decimal


@dataclass(frozen=True, slots=True)
class RebalanceForecast:
    """Mean over the simulated paths, per ``days`` days: rebalances, trading cost (fees +
    slippage, quote) and funding (received +, quote) of the configured policy."""

    days: int
    sigma_annual: Decimal
    sigma_source: str
    paths: int
    step_s: Decimal
    expected_rebalances: Decimal
    expected_cost_quote: Decimal
    expected_funding_quote: Decimal
    model: str


@dataclass(frozen=True)
class PlanResult:
    """The plan at one block; ``as_dict()`` is JSON-ready with every number a decimal string."""

    block: int
    block_timestamp: int
    price: Decimal
    mark_price: Decimal
    delta_base: Decimal
    value_quote: Decimal
    hedge_ratio: Decimal
    positions: tuple[PositionCurve, ...]
    grid: tuple[GridPoint, ...]
    hedges: tuple[HedgeOption, ...]
    funding: FundingView
    leverage: int
    margin_mode: str
    forecast: RebalanceForecast
    notes: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON data: Decimals as exact strings, tuples as lists."""
        plain: dict[str, Any] = _plain(asdict(self))
        return plain


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    return value


# --- the computation ------------------------------------------------------------------------


def _grid_prices(price: Decimal, curves: Sequence[PositionCurve]) -> list[tuple[Decimal, str]]:
    """(price, edge label) for the ±50 % moves and every V3 edge inside them, sorted."""
    low, high = price / 2, price * Decimal("1.5")
    points: dict[Decimal, list[str]] = {price * (1 + Decimal(m) / 100): [] for m in GRID_MOVES_PCT}
    for curve in curves:
        for edge, name in ((curve.lower, "lower"), (curve.upper, "upper")):
            if edge is not None and low <= edge <= high:
                points.setdefault(edge, []).append(f"{curve.id} {name} edge")
    return [(p, ", ".join(points[p])) for p in sorted(points)]


def _grid(inputs: PlanInputs) -> tuple[GridPoint, ...]:
    rows = []
    for price, edge in _grid_prices(inputs.price, inputs.curves):
        deltas = tuple((c.id, c.delta(price)) for c in inputs.curves)
        with localcontext() as ctx:
            ctx.prec = _PREC
            value = sum((c.value(price) for c in inputs.curves), inputs.wallet_base * price)
            delta = sum((d for _, d in deltas), inputs.wallet_base)
            move = (price / inputs.price - 1) * 100
        rows.append(
            GridPoint(
                move_pct=_q(move, _CENT),
                price=_q(price),
                value_quote=_q(value),
                delta_base=_q(delta),
                position_deltas=tuple((i, _q(d)) for i, d in deltas),
                edge=edge or None,
            )
        )
    return tuple(rows)


def _hedge_option(inputs: PlanInputs, ratio: Decimal) -> HedgeOption:
    mark, margin_model, funding = inputs.mark_price, inputs.margin, inputs.funding
    with localcontext() as ctx:
        ctx.prec = _PREC
        hedge = -ratio * inputs.delta_base
        notional = abs(hedge) * mark
        margin = margin_model.margin_for(notional)
        per_day = Decimal(_DAY_S) / funding.interval_s
        funding_per_day = -hedge * mark * funding.rate * per_day  # a short receives a + rate
        liq = None
        if hedge != 0:
            liq = liquidation_price_isolated(hedge, mark, margin, margin_model.brackets)
        distance = liquidation_distance_pct(mark, liq, hedge)
    return HedgeOption(
        ratio=ratio,
        hedge_base=_q(hedge),
        notional_quote=_q(notional),
        margin_quote=_q(margin),
        liquidation_price=None if liq is None else _q(liq),
        liquidation_distance_pct=None if distance is None else _q(distance, _CENT),
        funding_per_day_quote=_q(funding_per_day),
    )


def _pool_spec(curves: Sequence[PositionCurve], price: float, value: float) -> tuple[PoolSpec, str]:
    """The backtester's one-position view of the book, and how it was modelled."""
    ranges = [(c.lower, c.upper) for c in curves if c.lower is not None and c.upper is not None]
    if not ranges:
        return PoolSpec("v2", value), "the book as one V2 position of the same value"
    low = float(min(r[0] for r in ranges))
    high = float(max(r[1] for r in ranges))
    width = min(max((high - low) / (high + low), 1e-4), 0.99)
    note = (
        f"the book as one V3 range ±{width:.2%} around the current price {price:g} "
        f"(the union of the ranges {low:g}–{high:g}, made symmetric)"
    )
    return PoolSpec("v3", value, width), note


def _forecast(inputs: PlanInputs) -> RebalanceForecast:
    model = inputs.forecast
    price = float(inputs.price)
    lp_value = float(sum((c.value(inputs.price) for c in inputs.curves), Decimal(0)))
    pool, note = _pool_spec(inputs.curves, price, max(lp_value, 1e-9))
    steps = max(1, round(model.days * _DAY_S / model.step_s))
    paths = gbm_paths(
        n_paths=model.paths,
        steps=steps,
        step_s=model.step_s,
        sigma_annual=model.sigma_annual,
        start_price=price,
        seed=model.seed,
    )
    times = np.arange(steps + 1, dtype=np.float64) * model.step_s
    config = BacktestConfig(
        policy=model.policy, pool=pool, venue=model.venue, hedge_ratio=model.hedge_ratio
    )
    results = [run_backtest(PricePath(times_s=times, prices=p), config) for p in paths]
    n = len(results)
    return RebalanceForecast(
        days=model.days,
        sigma_annual=_dec(model.sigma_annual, Decimal("0.0001")),
        sigma_source=model.sigma_source,
        paths=n,
        step_s=_dec(model.step_s, Decimal(1)),
        expected_rebalances=_dec(sum(r.rebalances for r in results) / n),
        expected_cost_quote=_dec(sum(r.hedging_cost_quote for r in results) / n),
        expected_funding_quote=_dec(sum(r.funding_quote for r in results) / n),
        model=f"backtest of {n} seeded GBM paths; {note}",
    )


def plan_hedge(inputs: PlanInputs) -> PlanResult:
    """The plan for ``inputs``: price grid (±50 % in 10 % steps plus the V3 range edges inside
    it), hedge options at ``inputs.ratios`` and the rebalance forecast.

    Raises ``ValueError`` for a non-positive price or mark or a volatility that is not finite
    or beyond ``MAX_SIGMA``.
    """
    if not (inputs.price > 0 and inputs.mark_price > 0):
        raise ValueError("price and mark must be > 0")
    sigma = inputs.forecast.sigma_annual
    if not math.isfinite(sigma) or not 0 <= sigma <= MAX_SIGMA:
        raise ValueError(f"volatility must be a finite number from 0 to {MAX_SIGMA:g}")
    return PlanResult(
        block=inputs.block,
        block_timestamp=inputs.block_timestamp,
        price=_q(inputs.price),
        mark_price=_q(inputs.mark_price),
        delta_base=inputs.delta_base,
        value_quote=inputs.value_quote,
        hedge_ratio=inputs.hedge_ratio,
        positions=inputs.curves,
        grid=_grid(inputs),
        hedges=tuple(_hedge_option(inputs, r) for r in inputs.ratios),
        funding=inputs.funding,
        leverage=inputs.margin.leverage,
        margin_mode=inputs.margin.mode,
        forecast=_forecast(inputs),
    )
