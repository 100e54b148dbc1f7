"""A V3 position's exposure at one block, exactly as the contracts would pay it.

The pool's, the range edges' and the position's state as read on chain (``slot0``, ``ticks``,
``positions``), the fees the position has earned (``getFeeGrowthInside`` and
``Position.update``: Q128 modular arithmetic) and the amounts, value and delta in human units
(:func:`v3_exposure`), built on the integer math of :mod:`bot.core.v3`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from bot.core.amm import to_units
from bot.core.v3 import (
    PairDecimals,
    fee_growth_inside,
    position_amounts,
    price_from_sqrt_price_x96,
    tick_to_price,
    uncollected_fees,
)
from bot.domain import PositionExposure

__all__ = [
    "V3PoolState",
    "V3PositionState",
    "V3TickState",
    "position_fees",
    "range_position",
    "range_prices",
    "v3_exposure",
]


@dataclass(frozen=True, slots=True)
class V3PoolState:
    """slot0 and fee growth of one pool at one block."""

    sqrt_price_x96: int
    tick: int
    liquidity: int
    fee_growth_global0_x128: int
    fee_growth_global1_x128: int


@dataclass(frozen=True, slots=True)
class V3TickState:
    """``ticks(t)`` fee growth outside (both tokens)."""

    fee_growth_outside0_x128: int
    fee_growth_outside1_x128: int


@dataclass(frozen=True, slots=True)
class V3PositionState:
    """A position as ``NonfungiblePositionManager.positions`` or ``pool.positions`` gives it."""

    tick_lower: int
    tick_upper: int
    liquidity: int
    fee_growth_inside0_last_x128: int
    fee_growth_inside1_last_x128: int
    tokens_owed0: int
    tokens_owed1: int
    # the part of tokens_owed that is withdrawn principal (decreaseLiquidity/burn not yet
    # collected), not fees: see bot.core.v3_owed
    principal_owed0: int = 0
    principal_owed1: int = 0


def position_fees(
    pool: V3PoolState, lower: V3TickState, upper: V3TickState, position: V3PositionState
) -> tuple[int, int]:
    """Uncollected fees (fees0, fees1), raw units: fee growth only.

    What ``collect(max, max)`` pays now minus the withdrawn principal still owed
    (``principal_owed*``), which is the LP's capital, not income.
    """
    fees = []
    for glob, lo, up, last, owed in (
        (
            pool.fee_growth_global0_x128,
            lower.fee_growth_outside0_x128,
            upper.fee_growth_outside0_x128,
            position.fee_growth_inside0_last_x128,
            position.tokens_owed0 - position.principal_owed0,
        ),
        (
            pool.fee_growth_global1_x128,
            lower.fee_growth_outside1_x128,
            upper.fee_growth_outside1_x128,
            position.fee_growth_inside1_last_x128,
            position.tokens_owed1 - position.principal_owed1,
        ),
    ):
        inside = fee_growth_inside(
            pool.tick, position.tick_lower, position.tick_upper, glob, lo, up
        )
        fees.append(uncollected_fees(position.liquidity, inside, last, owed))
    return fees[0], fees[1]


def range_prices(tick_lower: int, tick_upper: int, pair: PairDecimals) -> tuple[Decimal, Decimal]:
    """(lower, upper) edge prices of a tick range, quote per base (``tick_to_price`` at both
    ticks with the pair's decimals): ``lower <= upper`` in either token order (base = token1:
    the lower tick is the upper price)."""
    edges = [
        tick_to_price(
            tick,
            base_is_token0=pair.base_is_token0,
            base_decimals=pair.base_decimals,
            quote_decimals=pair.quote_decimals,
        )
        for tick in (tick_lower, tick_upper)
    ]
    return min(edges), max(edges)


def range_position(price: Decimal, lower: Decimal | None, upper: Decimal | None) -> Decimal | None:
    """Where ``price`` sits in ``[lower, upper]``: ``(price - lower) / (upper - lower)``, a
    fraction (0 at the lower edge, 1 at the upper; below 0 / above 1 outside the range, not
    clamped), 40 significant digits. None for a full range (either edge None) or an empty one
    (``upper <= lower``)."""
    if lower is None or upper is None or upper <= lower:
        return None
    with localcontext() as ctx:
        ctx.prec = 40
        return (price - lower) / (upper - lower)


def v3_exposure(
    position_id: str,
    pool: V3PoolState,
    lower: V3TickState,
    upper: V3TickState,
    position: V3PositionState,
    pair: PairDecimals,
    *,
    include_fees_in_delta: bool = False,
    pool_id: str | None = None,
) -> PositionExposure:
    """Amounts, value, delta, gamma and fees of one position, in human units.

    Amounts are what a full ``decreaseLiquidity`` returns plus the withdrawn principal still
    owed (``principal_owed*``): that is the LP's too, it only no longer moves with the price,
    so it adds its base to the delta and nothing to gamma. ``fees_*`` hold fee growth only.
    ``price_lower``/``price_upper`` are the range's edges (:func:`range_prices`); ``pool_id``
    (the pool's address, V4: its id hex) is carried as the exposure's ``pool``.
    """
    in_range0, in_range1 = position_amounts(
        position.liquidity, pool.sqrt_price_x96, pool.tick, position.tick_lower, position.tick_upper
    )
    amount0 = in_range0 + position.principal_owed0
    amount1 = in_range1 + position.principal_owed1
    fees0, fees1 = position_fees(pool, lower, upper, position)
    dec0, dec1 = (
        (pair.base_decimals, pair.quote_decimals)
        if pair.base_is_token0
        else (pair.quote_decimals, pair.base_decimals)
    )
    human0, human1 = to_units(amount0, dec0), to_units(amount1, dec1)
    fee_h0, fee_h1 = to_units(fees0, dec0), to_units(fees1, dec1)
    amount_base, amount_quote = (human0, human1) if pair.base_is_token0 else (human1, human0)
    fees_base, fees_quote = (fee_h0, fee_h1) if pair.base_is_token0 else (fee_h1, fee_h0)
    price = price_from_sqrt_price_x96(
        pool.sqrt_price_x96,
        base_is_token0=pair.base_is_token0,
        base_decimals=pair.base_decimals,
        quote_decimals=pair.quote_decimals,
    )
    in_range = position.tick_lower <= pool.tick < position.tick_upper
    gamma = Decimal(0)
    if in_range and position.liquidity > 0:
        with localcontext() as ctx:
            ctx.prec = 40
            liquidity_human = Decimal(position.liquidity) / Decimal(10) ** (
                Decimal(dec0 + dec1) / 2
            )
            gamma = +(-liquidity_human / (2 * price * price.sqrt()))
    price_lower, price_upper = range_prices(position.tick_lower, position.tick_upper, pair)
    delta = amount_base
    if include_fees_in_delta:
        with localcontext() as ctx:
            ctx.prec = 100  # exact: both are wei-exact decimals
            delta = amount_base + fees_base
    return PositionExposure(
        id=position_id,
        kind="v3",
        amount_base=amount_base,
        amount_quote=amount_quote,
        value_quote=amount_base * price + amount_quote,
        delta_base=delta,
        gamma=gamma,
        price=price,
        fees_base=fees_base,
        fees_quote=fees_quote,
        in_range=in_range,
        tick_lower=position.tick_lower,
        tick_upper=position.tick_upper,
        liquidity=position.liquidity,
        price_lower=price_lower,
        price_upper=price_upper,
        pool=pool_id,
    )
