"""Uniswap V3 position math, pure.

Integer functions port the contracts line by line (v3-core ``TickMath``, ``SqrtPriceMath``,
``FullMath``, ``UniswapV3Pool._modifyPosition``/``getFeeGrowthInside``, ``Position.update``), so
amounts and fees match ``decreaseLiquidity``/``collect`` to the wei. Human-unit functions take
and return ``Decimal`` (or ``float`` in the continuous helpers used by the backtester).

Human units: the price is quote per base whatever the token order; a position is, in human
units, a base/quote range position with liquidity ``L / 10^((dec0 + dec1) / 2)`` and price
bounds from its ticks (swapped when base is token1). Whitepaper eq. 6.29-6.30 give the amounts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from functools import lru_cache
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

MIN_TICK = -887272
MAX_TICK = 887272
MIN_SQRT_RATIO = 4295128739
MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342
Q96 = 1 << 96
Q128 = 1 << 128
_U128 = Q128 - 1
_U256 = (1 << 256) - 1

# TickMath.getSqrtRatioAtTick: 1/sqrt(1.0001)^(2^i) in Q128.128, i = 0..19
_TICK_FACTORS = (
    0xFFF97272373D413259A46990580E213A,
    0xFFF2E50F5F656932EF12357CF3C7FDCC,
    0xFFE5CACA7E10E4E61C3624EAA0941CD0,
    0xFFCB9843D60F6159C9DB58835C926644,
    0xFF973B41FA98C081472E6896DFB254C0,
    0xFF2EA16466C96A3843EC78B326B52861,
    0xFE5DEE046A99A2A811C461F1969C3053,
    0xFCBE86C7900A88AEDCFFC83B479AA3A4,
    0xF987A7253AC413176F2B074CF7815E54,
    0xF3392B0822B70005940C7A398E4B70F3,
    0xE7159475A2C29B7443B29C7FA6E889D9,
    0xD097F3BDFD2022B8845AD8F792AA5825,
    0xA9F746462D870FDF8A65DC1F90E061E5,
    0x70D869A156D2A1B890BB3DF62BAF32F7,
    0x31BE135F97D08FD981231505542FCFA6,
    0x9AA508B5B7A84E1C677DE54F3E99BC9,
    0x5D6AF8DEDB81196699C329225EE604,
    0x2216E584F5FA1EA926041BEDFE98,
    0x48A170391F7DC42444E8FA2,
)

FloatArray = NDArray[np.float64]
# the continuous helpers take one price (float or Decimal) or a whole path (a float array,
# with the other arguments broadcast to its shape): the backtester's LP curves are these
Num = TypeVar("Num", float, Decimal, FloatArray)


# --- FullMath / TickMath -------------------------------------------------------------------


def mul_div(a: int, b: int, denominator: int) -> int:
    """FullMath.mulDiv: floor(a * b / denominator), exact (full 512-bit product)."""
    return a * b // denominator


def mul_div_rounding_up(a: int, b: int, denominator: int) -> int:
    """FullMath.mulDivRoundingUp."""
    return -(-(a * b) // denominator)


@lru_cache(maxsize=1 << 16)
def get_sqrt_ratio_at_tick(tick: int) -> int:
    """TickMath.getSqrtRatioAtTick: sqrt(1.0001^tick) * 2^96, rounded up to a Q64.96.

    Memoised (a position's range edges are read every block); ``ValueError`` outside
    [MIN_TICK, MAX_TICK] (never cached)."""
    abs_tick = abs(tick)
    if abs_tick > MAX_TICK:
        raise ValueError(f"tick {tick} outside [{MIN_TICK}, {MAX_TICK}]")
    ratio = 0xFFFCB933BD6FAD37AA2D162D1A594001 if abs_tick & 1 else Q128
    for i, factor in enumerate(_TICK_FACTORS, start=1):
        if abs_tick & (1 << i):
            ratio = (ratio * factor) >> 128
    if tick > 0:
        ratio = _U256 // ratio
    return (ratio >> 32) + (0 if ratio % (1 << 32) == 0 else 1)


def get_tick_at_sqrt_ratio(sqrt_price_x96: int) -> int:
    """TickMath.getTickAtSqrtRatio: the greatest tick whose sqrt ratio is <= the argument."""
    if not MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO:
        raise ValueError("sqrt price outside [MIN_SQRT_RATIO, MAX_SQRT_RATIO)")
    ratio = sqrt_price_x96 << 32
    msb = ratio.bit_length() - 1
    r = ratio >> (msb - 127) if msb >= 128 else ratio << (127 - msb)
    log_2 = (msb - 128) << 64
    for shift in range(63, 49, -1):
        r = (r * r) >> 127
        f = r >> 128
        log_2 |= f << shift
        r >>= f
    log_sqrt10001 = log_2 * 255738958999603826347141
    tick_low = (log_sqrt10001 - 3402992956809132418596140100660247210) >> 128
    tick_high = (log_sqrt10001 + 291339464771989622907027621153398088495) >> 128
    if tick_low == tick_high:
        return tick_low
    return tick_high if get_sqrt_ratio_at_tick(tick_high) <= sqrt_price_x96 else tick_low


# --- SqrtPriceMath and the pool's burn amounts ---------------------------------------------


def amount0_delta(sqrt_a_x96: int, sqrt_b_x96: int, liquidity: int, round_up: bool) -> int:
    """SqrtPriceMath.getAmount0Delta: L * (sqrt_b - sqrt_a) / (sqrt_a * sqrt_b) in token0."""
    lo, hi = sorted((sqrt_a_x96, sqrt_b_x96))
    if lo <= 0:
        raise ValueError("sqrt price must be positive")
    numerator1, numerator2 = liquidity << 96, hi - lo
    if round_up:
        return -(-mul_div_rounding_up(numerator1, numerator2, hi) // lo)
    return mul_div(numerator1, numerator2, hi) // lo


def amount1_delta(sqrt_a_x96: int, sqrt_b_x96: int, liquidity: int, round_up: bool) -> int:
    """SqrtPriceMath.getAmount1Delta: L * (sqrt_b - sqrt_a) in token1."""
    lo, hi = sorted((sqrt_a_x96, sqrt_b_x96))
    if round_up:
        return mul_div_rounding_up(liquidity, hi - lo, Q96)
    return mul_div(liquidity, hi - lo, Q96)


def position_amounts(
    liquidity: int, sqrt_price_x96: int, tick: int, tick_lower: int, tick_upper: int
) -> tuple[int, int]:
    """(amount0, amount1) that burning ``liquidity`` returns: ``_modifyPosition``, rounded down.

    The range test uses the pool's current ``tick`` exactly as the contract does.
    """
    sqrt_lower = get_sqrt_ratio_at_tick(tick_lower)
    sqrt_upper = get_sqrt_ratio_at_tick(tick_upper)
    if tick < tick_lower:
        return amount0_delta(sqrt_lower, sqrt_upper, liquidity, False), 0
    if tick < tick_upper:
        return (
            amount0_delta(sqrt_price_x96, sqrt_upper, liquidity, False),
            amount1_delta(sqrt_lower, sqrt_price_x96, liquidity, False),
        )
    return 0, amount1_delta(sqrt_lower, sqrt_upper, liquidity, False)


# --- fees ----------------------------------------------------------------------------------


def fee_growth_inside(
    tick: int,
    tick_lower: int,
    tick_upper: int,
    fee_growth_global_x128: int,
    lower_outside_x128: int,
    upper_outside_x128: int,
) -> int:
    """UniswapV3Pool.getFeeGrowthInside for one token, modulo 2^256 like the contract."""
    below = (
        lower_outside_x128
        if tick >= tick_lower
        else (fee_growth_global_x128 - lower_outside_x128) & _U256
    )
    above = (
        upper_outside_x128
        if tick < tick_upper
        else (fee_growth_global_x128 - upper_outside_x128) & _U256
    )
    return (fee_growth_global_x128 - below - above) & _U256


def uncollected_fees(
    liquidity: int, fee_growth_inside_x128: int, fee_growth_inside_last_x128: int, tokens_owed: int
) -> int:
    """Position.update + tokensOwed: what ``collect(max, max)`` would pay for one token.

    ``uint128(mulDiv(inside - last, L, Q128))`` with unchecked 0.7 arithmetic: the difference
    wraps modulo 2^256, the cast and the sum wrap modulo 2^128.
    """
    growth = (fee_growth_inside_x128 - fee_growth_inside_last_x128) & _U256
    return (tokens_owed + (mul_div(growth, liquidity, Q128) & _U128)) & _U128


# --- human units: prices and ticks ---------------------------------------------------------


def price_from_sqrt_price_x96(
    sqrt_price_x96: int, *, base_is_token0: bool, base_decimals: int, quote_decimals: int
) -> Decimal:
    """Quote per base in human units from the pool's Q64.96 sqrt(token1/token0)."""
    squared = sqrt_price_x96 * sqrt_price_x96
    with localcontext() as ctx:
        ctx.prec = 40
        if base_is_token0:  # price = raw1/raw0 * 10^(dec0 - dec1)
            price = (
                Decimal(squared)
                / Decimal(1 << 192)
                * Decimal(10) ** (base_decimals - quote_decimals)
            )
        else:
            price = (
                Decimal(1 << 192)
                / Decimal(squared)
                * Decimal(10) ** (base_decimals - quote_decimals)
            )
    return +price


def sqrt_price_x96_from_price(
    price: Decimal, *, base_is_token0: bool, base_decimals: int, quote_decimals: int
) -> int:
    """floor(sqrt(token1/token0 raw) * 2^96) for a human price, clamped to the valid range."""
    if price <= 0:
        raise ValueError("price must be positive")
    scale = Fraction(10) ** (quote_decimals - base_decimals)
    raw = Fraction(price) * scale if base_is_token0 else 1 / (scale * Fraction(price))
    sqrt_x96 = math.isqrt(raw.numerator * (1 << 192) // raw.denominator)
    return min(max(sqrt_x96, MIN_SQRT_RATIO), MAX_SQRT_RATIO - 1)


def tick_to_price(
    tick: int, *, base_is_token0: bool, base_decimals: int, quote_decimals: int
) -> Decimal:
    """Quote per base at ``tick`` (from the contract's sqrt ratio)."""
    return price_from_sqrt_price_x96(
        get_sqrt_ratio_at_tick(tick),
        base_is_token0=base_is_token0,
        base_decimals=base_decimals,
        quote_decimals=quote_decimals,
    )


def price_to_tick(
    price: Decimal, *, base_is_token0: bool, base_decimals: int, quote_decimals: int
) -> int:
    """The pool tick at which the pool's price is ``price`` (quote per base)."""
    return get_tick_at_sqrt_ratio(
        sqrt_price_x96_from_price(
            price,
            base_is_token0=base_is_token0,
            base_decimals=base_decimals,
            quote_decimals=quote_decimals,
        )
    )


# --- continuous helpers (human units, base = token0, equal decimals) ------------------------


def _sqrt(x: Num) -> Num:
    if isinstance(x, Decimal):
        return x.sqrt()
    if isinstance(x, np.ndarray):
        root: FloatArray = np.sqrt(x)
        return root
    return math.sqrt(x)


def _clip(x: Num, lower: Num, upper: Num) -> Num:
    if isinstance(x, np.ndarray):
        clipped: FloatArray = np.clip(x, lower, upper)
        return clipped
    return min(max(x, lower), upper)


def v3_amounts(liquidity: Num, price: Num, lower: Num, upper: Num) -> tuple[Num, Num]:
    """(base, quote) of a range position; eq. 6.29-6.30 with the price clipped to the range."""
    sqrt_p = _sqrt(_clip(price, lower, upper))
    base = liquidity * (1 / sqrt_p - 1 / _sqrt(upper))
    quote = liquidity * (sqrt_p - _sqrt(lower))
    return base, quote


def v3_value(liquidity: Num, price: Num, lower: Num, upper: Num) -> Num:
    """Position value in quote at ``price``."""
    base, quote = v3_amounts(liquidity, price, lower, upper)
    return base * price + quote


def v3_delta(liquidity: Num, price: Num, lower: Num, upper: Num) -> Num:
    """d(value)/d(price) = the base amount: all base below the range, 0 above."""
    return v3_amounts(liquidity, price, lower, upper)[0]


def v3_gamma(liquidity: Num, price: Num, lower: Num, upper: Num) -> Num:
    """d(delta)/d(price) = -L / (2 P^(3/2)) inside the range, 0 outside."""
    if isinstance(price, np.ndarray):
        inside = (price > lower) & (price < upper)
        curvature: FloatArray = np.where(inside, -liquidity / (2 * price * _sqrt(price)), 0.0)
        return curvature
    if not lower < price < upper:
        return price * 0
    return -liquidity / (2 * price * _sqrt(price))


def v3_impermanent_loss(
    liquidity: Num, price: Num, lower: Num, upper: Num, entry_price: Num
) -> Num:
    """Position value minus the value of holding its entry amounts (<= 0), in quote."""
    base0, quote0 = v3_amounts(liquidity, entry_price, lower, upper)
    return v3_value(liquidity, price, lower, upper) - (base0 * price + quote0)


@dataclass(frozen=True, slots=True)
class PairDecimals:
    """Token ordering and decimals of a pool in base/quote terms."""

    base_is_token0: bool
    base_decimals: int
    quote_decimals: int
