"""The configured book as functions of the price, and the volatility the bot has observed.

Curves use the core's own value/delta (``bot.core.amm`` for V2, ``bot.core.v3`` for ranges:
Uniswap V3 whitepaper eq. 6.29–6.30) at 60 significant digits; the volatility is the engine's
own EWMA (``PolicyState.observe_price``). Used by :mod:`bot.planner`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, localcontext

from bot.core.amm import v2_delta, v2_value
from bot.core.policy import DEFAULT_VOL_HALFLIFE_S, PolicyState
from bot.core.v3 import PairDecimals, v3_delta, v3_value
from bot.core.v3_position import range_prices
from bot.domain import PoolKind, PositionExposure

__all__ = ["PositionCurve", "ewma_sigma_annual", "v2_curve", "v3_curve"]

_PREC = 60


@dataclass(frozen=True, slots=True)
class PositionCurve:
    """One LP position as a function of the price: liquidity in human units (``sqrt(base ·
    quote)``) and, for V3, the range in quote per base (``None`` bounds for V2)."""

    id: str
    kind: PoolKind
    liquidity: Decimal
    lower: Decimal | None = None
    upper: Decimal | None = None

    def value(self, price: Decimal) -> Decimal:
        """Value in quote at ``price`` (quote per base)."""
        with localcontext() as ctx:
            ctx.prec = _PREC
            if self.lower is None or self.upper is None:
                return v2_value(self.liquidity, price)
            return v3_value(self.liquidity, price, self.lower, self.upper)

    def delta(self, price: Decimal) -> Decimal:
        """Delta in base at ``price``: V2 ``L/√P``; V3 all base below, 0 above the range."""
        with localcontext() as ctx:
            ctx.prec = _PREC
            if self.lower is None or self.upper is None:
                return v2_delta(self.liquidity, price)
            return v3_delta(self.liquidity, price, self.lower, self.upper)


def v2_curve(exposure: PositionExposure) -> PositionCurve:
    """The V2 curve through an exposure: ``L = sqrt(amount_base · amount_quote)``."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        liquidity = (exposure.amount_base * exposure.amount_quote).sqrt()
    return PositionCurve(exposure.id, "v2", liquidity)


def v3_curve(exposure: PositionExposure, pair: PairDecimals) -> PositionCurve:
    """The V3 curve of an exposure: raw liquidity over ``10^((dec0+dec1)/2)`` (as
    ``bot.core.v3.v3_exposure`` scales it) and the range edges at its ticks, quote per base.

    Raises ``ValueError`` when the exposure carries no ticks or liquidity.
    """
    if exposure.tick_lower is None or exposure.tick_upper is None or exposure.liquidity is None:
        raise ValueError(f"position {exposure.id} has no range")
    lower, upper = range_prices(exposure.tick_lower, exposure.tick_upper, pair)
    with localcontext() as ctx:
        ctx.prec = 40
        scale = Decimal(10) ** (Decimal(pair.base_decimals + pair.quote_decimals) / 2)
        liquidity = +(Decimal(exposure.liquidity) / scale)
    return PositionCurve(exposure.id, "v3", liquidity, lower, upper)


def ewma_sigma_annual(
    times_s: Iterable[float], prices: Iterable[Decimal], halflife_s: float = DEFAULT_VOL_HALFLIFE_S
) -> float | None:
    """The engine's EWMA volatility (``PolicyState.observe_price``) over a price history,
    annualised; None with fewer than two usable prices."""
    state = PolicyState()
    for t, price in zip(times_s, prices, strict=True):
        if price > 0:
            state = state.observe_price(t, price, halflife_s)
    return state.sigma_annual
