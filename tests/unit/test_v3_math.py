"""Uniswap V3 core math: contract-exact tick math, amounts, fees and the continuous greeks."""

from __future__ import annotations

import math
from decimal import Context, Decimal
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.core.v3 import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    Q96,
    Q128,
    PairDecimals,
    amount0_delta,
    amount1_delta,
    fee_growth_inside,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
    position_amounts,
    price_to_tick,
    sqrt_price_x96_from_price,
    tick_to_price,
    uncollected_fees,
    v3_delta,
    v3_gamma,
    v3_impermanent_loss,
    v3_value,
)
from bot.core.v3_position import V3PoolState, V3PositionState, V3TickState, v3_exposure

pytestmark = pytest.mark.unit

ticks = st.integers(MIN_TICK, MAX_TICK)
liquidities = st.integers(1, 2**128 - 1)
prices = st.floats(1e-3, 1e6)
float_liquidity = st.floats(1e-3, 1e9)


@st.composite
def ranges(draw: st.DrawFn) -> tuple[float, float]:
    """A price range [lower, upper] with upper/lower >= 1.01."""
    lower = draw(st.floats(1e-2, 1e5))
    width = draw(st.floats(1.01, 100.0))
    return lower, lower * width


# --- TickMath against values the contracts pin ---------------------------------------------


def test_known_contract_values() -> None:
    """getSqrtRatioAtTick matches TickMath's constants and published test vectors."""
    assert get_sqrt_ratio_at_tick(0) == Q96
    assert get_sqrt_ratio_at_tick(MIN_TICK) == MIN_SQRT_RATIO
    assert get_sqrt_ratio_at_tick(MAX_TICK) == MAX_SQRT_RATIO
    # v3-core test/__snapshots__/TickMath.spec.ts.snap
    assert get_sqrt_ratio_at_tick(50) == 79426470787362580746886972461
    assert get_sqrt_ratio_at_tick(-50) == 79030349367926598376800521322
    assert get_sqrt_ratio_at_tick(MIN_TICK + 1) == 4295343490
    assert get_sqrt_ratio_at_tick(MAX_TICK - 1) == 1461373636630004318706518188784493106690254656249
    assert get_tick_at_sqrt_ratio(MIN_SQRT_RATIO) == MIN_TICK
    assert get_tick_at_sqrt_ratio(MAX_SQRT_RATIO - 1) == MAX_TICK - 1
    with pytest.raises(ValueError, match="tick"):
        get_sqrt_ratio_at_tick(MAX_TICK + 1)
    with pytest.raises(ValueError, match="sqrt price"):
        get_tick_at_sqrt_ratio(MAX_SQRT_RATIO)


@given(ticks)
def test_sqrt_ratio_matches_real_sqrt(tick: int) -> None:
    """sqrt(1.0001^tick) * 2^96 within the contract's 1 in 10^9 or so of rounding."""
    exact = Decimal("1.0001") ** tick
    expected = exact.sqrt() * Q96
    got = Decimal(get_sqrt_ratio_at_tick(tick))
    assert abs(got / expected - 1) < Decimal("1e-8")


@given(st.integers(MIN_TICK, MAX_TICK - 1), st.floats(0, 1, exclude_max=True))
def test_tick_round_trip(tick: int, fraction: float) -> None:
    """getTickAtSqrtRatio is the greatest tick whose sqrt ratio does not exceed the input."""
    sqrt_at, sqrt_next = get_sqrt_ratio_at_tick(tick), get_sqrt_ratio_at_tick(tick + 1)
    inside = sqrt_at + int((sqrt_next - sqrt_at) * fraction)
    assert get_tick_at_sqrt_ratio(sqrt_at) == tick
    assert get_tick_at_sqrt_ratio(min(inside, sqrt_next - 1)) == tick
    if sqrt_at > MIN_SQRT_RATIO:
        assert get_tick_at_sqrt_ratio(sqrt_at - 1) == tick - 1


@pytest.mark.parametrize("base_is_token0", [True, False])
@given(st.decimals(Decimal("0.01"), Decimal(1_000_000), places=4))
def test_price_tick_round_trip_with_decimals(base_is_token0: bool, price: Decimal) -> None:
    """A human price maps to the tick whose price range holds it, for both token orders."""
    pair: dict[str, Any] = {
        "base_is_token0": base_is_token0,
        "base_decimals": 18,
        "quote_decimals": 6,
    }
    tick = price_to_tick(price, **pair)
    neighbours = sorted([tick_to_price(tick, **pair), tick_to_price(tick + 1, **pair)])
    tolerance = Decimal("1e-20") * price
    assert neighbours[0] - tolerance <= price <= neighbours[1] + tolerance


def test_human_price_of_ticks() -> None:
    """ETH/USDT (18/6 decimals) at tick -200311 is about 2000 USDT, mirrored for token1 base."""
    p0 = tick_to_price(-200312, base_is_token0=True, base_decimals=18, quote_decimals=6)
    p1 = tick_to_price(200312, base_is_token0=False, base_decimals=18, quote_decimals=6)
    assert Decimal(1999) < p0 < Decimal(2001)
    assert abs(p0 - p1) < Decimal("1e-18")


# --- amounts as the pool computes them ----------------------------------------------------


@given(liquidities, ticks, ticks, ticks)
def test_amounts_by_range(liquidity: int, t_a: int, t_b: int, tick: int) -> None:
    """Below the range all token0, above all token1, inside both; never above the round-up."""
    lower, upper = sorted((t_a, t_b))
    assume(lower < upper)
    sqrt_p = get_sqrt_ratio_at_tick(tick)
    amount0, amount1 = position_amounts(liquidity, sqrt_p, tick, lower, upper)
    if tick < lower:
        assert amount1 == 0
    elif tick >= upper:
        assert amount0 == 0
    s_lo, s_hi = get_sqrt_ratio_at_tick(lower), get_sqrt_ratio_at_tick(upper)
    assert amount0 <= amount0_delta(s_lo, s_hi, liquidity, True)
    assert amount1 <= amount1_delta(s_lo, s_hi, liquidity, True)


def test_rounding_matches_sqrt_price_math() -> None:
    """SqrtPriceMath test vectors: 0.1 token of price 1 -> 1.21, rounded down then up."""
    sqrt_1 = Q96
    sqrt_121 = 87150978765690771352898345369  # encodePriceSqrt(121, 100)
    down = amount0_delta(sqrt_1, sqrt_121, 10**18, False)
    up = amount0_delta(sqrt_1, sqrt_121, 10**18, True)
    assert up == 90909090909090910
    assert down == up - 1
    assert amount1_delta(sqrt_1, sqrt_121, 10**18, True) == 100000000000000000
    assert amount1_delta(sqrt_1, sqrt_121, 10**18, False) == 100000000000000000 - 1


@given(st.integers(10**6, 2**100))
def test_full_range_reproduces_v2(liquidity: int) -> None:
    """Over the full tick range x = L/sqrtP and y = L*sqrtP (V2), to rounding."""
    low, high = -887220, 887220  # full range at tick spacing 60
    sqrt_p = 3543191142285914205922034323214  # ~2000 USDT per ETH, 18/6 decimals
    tick = get_tick_at_sqrt_ratio(sqrt_p)
    amount0, amount1 = position_amounts(liquidity, sqrt_p, tick, low, high)
    assert amount0 == pytest.approx(liquidity * Q96 / sqrt_p, rel=1e-9, abs=1)
    assert amount1 == pytest.approx(liquidity * sqrt_p / Q96, rel=1e-9, abs=1)


# --- fees: Q128 modular arithmetic -------------------------------------------------------


def test_fee_growth_wraps_modulo_2_256() -> None:
    """Fee growth outside above the global value (it wrapped) still gives the right inside."""
    big = 2**256 - 5 * Q128  # a lower tick initialised when growth was "negative"
    inside = fee_growth_inside(0, -60, 60, 10 * Q128, big, 2 * Q128)
    assert inside == (10 * Q128 - big - 2 * Q128) % 2**256 == 13 * Q128


def test_uncollected_fees_wrap_like_solidity() -> None:
    """inside - last wraps mod 2^256, the product is floored, the owed sum wraps mod 2^128."""
    assert uncollected_fees(10**18, 3 * Q128, 2**256 - Q128, 7) == 7 + 4 * 10**18
    assert uncollected_fees(1, Q128 + Q128 // 2, 0, 0) == 1  # floor(1.5)
    assert uncollected_fees(2**128 - 1, 2 * Q128, Q128, 5) == 4  # 2^128 - 1 + 5 mod 2^128


growth = st.integers(0, 2**256 - 1)


@given(st.integers(-1000, 1000), growth, growth, growth, growth)
def test_fee_growth_inside_adds_across_adjacent_ranges(
    tick: int, glob: int, out_a: int, out_b: int, out_c: int
) -> None:
    """inside(a, b) + inside(b, c) == inside(a, c) modulo 2^256, wherever the price is."""
    a, b, c = -300, 0, 300
    left = fee_growth_inside(tick, a, b, glob, out_a, out_b)
    right = fee_growth_inside(tick, b, c, glob, out_b, out_c)
    assert (left + right) % 2**256 == fee_growth_inside(tick, a, c, glob, out_a, out_c)


# --- continuous helpers ------------------------------------------------------------------


@given(float_liquidity, ranges())
def test_value_continuous_at_both_edges(liquidity: float, bounds: tuple[float, float]) -> None:
    """Value has no jump when the price crosses either end of the range."""
    lower, upper = bounds
    for edge in (lower, upper):
        below, above = edge * (1 - 1e-12), edge * (1 + 1e-12)
        left = v3_value(liquidity, below, lower, upper)
        right = v3_value(liquidity, above, lower, upper)
        assert left == pytest.approx(right, rel=1e-9)


@given(float_liquidity, ranges(), st.floats(0.001, 0.999))
def test_delta_is_numerical_derivative(
    liquidity: float, bounds: tuple[float, float], where: float
) -> None:
    """delta = d(value)/d(price) inside the range (central difference in Decimal)."""
    lower, upper = (Decimal(repr(b)) for b in bounds)
    price = lower + (upper - lower) * Decimal(repr(where))
    liq = Decimal(repr(liquidity))
    h = price * Decimal("1e-12")
    numeric = (v3_value(liq, price + h, lower, upper) - v3_value(liq, price - h, lower, upper)) / (
        2 * h
    )
    assert float(numeric) == pytest.approx(float(v3_delta(liq, price, lower, upper)), rel=1e-6)
    gamma = (v3_delta(liq, price + h, lower, upper) - v3_delta(liq, price - h, lower, upper)) / (
        2 * h
    )
    assert float(gamma) == pytest.approx(float(v3_gamma(liq, price, lower, upper)), rel=1e-6)


@given(float_liquidity, ranges(), st.floats(1.0001, 100.0))
def test_delta_outside_range(liquidity: float, bounds: tuple[float, float], k: float) -> None:
    """Above the range delta is 0; below it is the whole base amount (and gamma 0 both)."""
    lower, upper = bounds
    full_base = liquidity * (1 / math.sqrt(lower) - 1 / math.sqrt(upper))
    assert v3_delta(liquidity, upper * k, lower, upper) == 0
    assert v3_delta(liquidity, lower / k, lower, upper) == pytest.approx(full_base, rel=1e-12)
    assert v3_gamma(liquidity, upper * k, lower, upper) == 0
    assert v3_gamma(liquidity, lower / k, lower, upper) == 0


@given(float_liquidity, prices)
def test_full_range_is_v2(liquidity: float, price: float) -> None:
    """Range (0, inf): value = 2 sqrt(L^2 P) and delta = L / sqrt(P), the V2 formulas."""
    assert v3_value(liquidity, price, 0.0, math.inf) == pytest.approx(
        2 * math.sqrt(liquidity**2 * price), rel=1e-12
    )
    assert v3_delta(liquidity, price, 0.0, math.inf) == pytest.approx(
        liquidity / math.sqrt(price), rel=1e-12
    )


@given(float_liquidity, ranges(), prices, prices)
def test_impermanent_loss_never_positive(
    liquidity: float, bounds: tuple[float, float], entry: float, price: float
) -> None:
    """An LP position is never worth more than holding its entry amounts."""
    lower, upper = bounds
    il = v3_impermanent_loss(liquidity, price, lower, upper, entry)
    scale = v3_value(liquidity, price, lower, upper) + 1.0
    assert il <= 1e-9 * scale
    assert v3_impermanent_loss(liquidity, entry, lower, upper, entry) == pytest.approx(
        0, abs=1e-9 * scale
    )


# --- exposure in human units -------------------------------------------------------------


@pytest.mark.parametrize("base_is_token0", [True, False])
def test_exposure_matches_continuous_math(base_is_token0: bool) -> None:
    """Integer amounts and Decimal greeks agree with the continuous human-unit formulas."""
    pair = PairDecimals(base_is_token0=base_is_token0, base_decimals=18, quote_decimals=6)
    human: dict[str, Any] = {
        "base_is_token0": base_is_token0,
        "base_decimals": 18,
        "quote_decimals": 6,
    }
    lo_t, hi_t = sorted(price_to_tick(Decimal(p), **human) for p in (1600, 2500))
    sqrt_p = sqrt_price_x96_from_price(Decimal(2000), **human)
    pool = V3PoolState(sqrt_p, get_tick_at_sqrt_ratio(sqrt_p), 0, 0, 0)
    liquidity = 4 * 10**15
    position = V3PositionState(lo_t, hi_t, liquidity, 0, 0, 0, 0)
    zero = V3TickState(0, 0)
    exposure = v3_exposure("p", pool, zero, zero, position, pair)
    lower, upper = sorted(tick_to_price(t, **human) for t in (lo_t, hi_t))
    liq_h = Decimal(liquidity) / Decimal(10) ** 12
    assert exposure.in_range
    assert exposure.price == pytest.approx(Decimal(2000), rel=Decimal("1e-20"))
    assert float(exposure.delta_base) == pytest.approx(
        float(v3_delta(liq_h, exposure.price, lower, upper)), rel=1e-12
    )
    assert float(exposure.value_quote) == pytest.approx(
        float(v3_value(liq_h, exposure.price, lower, upper)), rel=1e-9
    )
    assert float(exposure.gamma) == pytest.approx(
        float(v3_gamma(liq_h, exposure.price, lower, upper)), rel=1e-12
    )


def test_fees_count_in_delta_only_when_asked() -> None:
    """include_fees_in_delta adds uncollected base fees (token1 here) to the delta."""
    pair = PairDecimals(base_is_token0=False, base_decimals=18, quote_decimals=6)
    pool = V3PoolState(Q96 * 1000, get_tick_at_sqrt_ratio(Q96 * 1000), 0, 0, 0)
    position = V3PositionState(-600, 600, 10**18, 0, 0, 0, 5 * 10**17)  # owed: 0.5 base
    zero = V3TickState(0, 0)
    plain = v3_exposure("p", pool, zero, zero, position, pair)
    with_fees = v3_exposure("p", pool, zero, zero, position, pair, include_fees_in_delta=True)
    assert not plain.in_range
    assert plain.fees_base == Decimal("0.5")
    assert plain.delta_base == plain.amount_base
    assert with_fees.delta_base == plain.amount_base + Decimal("0.5")


@settings(max_examples=50)
@given(st.integers(1, 2**100), st.integers(-5000, 5000))
def test_delta_is_all_base_below_and_zero_above_for_token1_base(liquidity: int, tick: int) -> None:
    """With base = token1 the human range is mirrored: high raw tick means low base price."""
    pair = PairDecimals(base_is_token0=False, base_decimals=18, quote_decimals=18)
    zero = V3TickState(0, 0)
    position = V3PositionState(-600, 600, liquidity, 0, 0, 0, 0)
    sqrt_p = get_sqrt_ratio_at_tick(tick)
    exposure = v3_exposure("p", V3PoolState(sqrt_p, tick, 0, 0, 0), zero, zero, position, pair)
    if tick >= 600:  # raw price above range: all token1 = all base, base is cheap
        assert exposure.amount_quote == 0
        assert exposure.delta_base == exposure.amount_base
        # all of it in token1, rounded down as decreaseLiquidity pays (dust liquidity: 0 wei)
        span = get_sqrt_ratio_at_tick(600) - get_sqrt_ratio_at_tick(-600)
        assert exposure.delta_base.scaleb(18, Context(prec=100)) == liquidity * span // 2**96
    elif tick < -600:
        assert exposure.delta_base == 0
