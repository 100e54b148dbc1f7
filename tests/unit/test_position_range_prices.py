"""A position's range as prices and where the pool price sits in it (issue 18 item 1): the
exposure's ``price_lower``/``price_upper`` are ``tick_to_price`` at its ticks in either token
order, the pool price lies between them exactly when the position is in range, and a V2
exposure names its pair as ``pool`` with no range."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.amm import v2_exposure
from bot.core.v3 import PairDecimals, get_sqrt_ratio_at_tick, tick_to_price
from bot.core.v3_position import (
    V3PoolState,
    V3PositionState,
    V3TickState,
    range_position,
    range_prices,
    v3_exposure,
)
from bot.domain import PositionExposure, TokenInfo, V2PoolRead

pytestmark = pytest.mark.unit

ZERO = V3TickState(0, 0)
POOL = "0x1F98431c8aD98523631AE4a59f267346ea31F984"


def _human(pair: PairDecimals) -> dict[str, Any]:
    return {
        "base_is_token0": pair.base_is_token0,
        "base_decimals": pair.base_decimals,
        "quote_decimals": pair.quote_decimals,
    }


def _exposure(
    pair: PairDecimals, sqrt_p: int, tick: int, lower: int, upper: int
) -> PositionExposure:
    position = V3PositionState(lower, upper, 10**18, 0, 0, 0, 0)
    pool = V3PoolState(sqrt_p, tick, 10**18, 0, 0)
    return v3_exposure("p", pool, ZERO, ZERO, position, pair, pool_id=POOL)


@pytest.mark.parametrize("base_is_token0", [True, False], ids=["base=token0", "base=token1"])
def test_range_prices_are_the_ticks_prices_lower_first(base_is_token0: bool) -> None:
    """Base = token0: the lower tick is the lower price; base = token1: the lower tick is the
    upper price. Either way price_lower < price_upper, each equal to tick_to_price exactly."""
    pair = PairDecimals(base_is_token0=base_is_token0, base_decimals=18, quote_decimals=6)
    lower_tick, upper_tick = (-201_000, -195_000) if base_is_token0 else (195_000, 201_000)
    at_lower = tick_to_price(lower_tick, **_human(pair))
    at_upper = tick_to_price(upper_tick, **_human(pair))
    mid = (lower_tick + upper_tick) // 2
    exposure = _exposure(pair, get_sqrt_ratio_at_tick(mid), mid, lower_tick, upper_tick)
    expected = (at_lower, at_upper) if base_is_token0 else (at_upper, at_lower)
    assert (exposure.price_lower, exposure.price_upper) == expected
    assert expected[0] < expected[1]
    assert range_prices(lower_tick, upper_tick, pair) == expected
    assert exposure.pool == POOL


@settings(max_examples=300, deadline=None)
@given(
    base_is_token0=st.booleans(),
    decimals=st.sampled_from([(18, 6), (6, 18), (18, 18), (8, 6)]),
    lower=st.integers(-50_000, 50_000),
    width=st.integers(1, 4_000),
    offset=st.integers(-3, 4_003),
    halfway=st.booleans(),
)
def test_pool_price_is_inside_the_range_prices_exactly_when_in_range(
    base_is_token0: bool,
    decimals: tuple[int, int],
    lower: int,
    width: int,
    offset: int,
    halfway: bool,
) -> None:
    """The pool at a tick (on it or halfway to the next): in_range is true exactly when the
    price lies in the range's prices (base = token0: [lower, upper); token1: (lower, upper])."""
    pair = PairDecimals(base_is_token0, decimals[0], decimals[1])
    upper = lower + width
    tick = lower + offset
    sqrt_p = get_sqrt_ratio_at_tick(tick)
    if halfway:
        sqrt_p = (sqrt_p + get_sqrt_ratio_at_tick(tick + 1)) // 2
    exposure = _exposure(pair, sqrt_p, tick, lower, upper)
    low, high, price = exposure.price_lower, exposure.price_upper, exposure.price
    assert low is not None
    assert high is not None
    inside = low <= price < high if base_is_token0 else low < price <= high
    assert exposure.in_range is inside
    assert exposure.in_range is (lower <= tick < upper)
    where = range_position(price, low, high)
    assert where is not None
    assert (Decimal(0) <= where <= Decimal(1)) is (low <= price <= high)


def test_range_position_is_the_fraction_of_the_way_up_unclamped() -> None:
    """0 at the lower edge, 1 at the upper, 0.25 a quarter up; outside the range below 0 or
    above 1 (the page clamps); None for a full range or an empty one."""
    lo, hi = Decimal(1000), Decimal(3000)
    assert range_position(Decimal(1000), lo, hi) == 0
    assert range_position(Decimal(3000), lo, hi) == 1
    assert range_position(Decimal(1500), lo, hi) == Decimal("0.25")
    assert range_position(Decimal(500), lo, hi) == Decimal("-0.25")
    assert range_position(Decimal(4000), lo, hi) == Decimal("1.5")
    assert range_position(Decimal(1500), None, None) is None
    assert range_position(Decimal(1500), lo, None) is None
    assert range_position(Decimal(1500), hi, hi) is None


def test_v2_exposure_names_its_pair_and_has_no_range() -> None:
    """A V2 position's pool is the pair it was read from; its range is the full one (None)."""
    pair = "0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc"
    read = V2PoolRead(
        pair=pair,
        token0=TokenInfo("0x" + "1" * 40, "WETH", 18),
        token1=TokenInfo("0x" + "2" * 40, "USDC", 6),
        reserve0=100 * 10**18,
        reserve1=200_000 * 10**6,
        total_supply=10**20,
        lp_balance=10**19,
    )
    exposure = v2_exposure(read, True, "lp")
    assert exposure.pool == pair
    assert (exposure.price_lower, exposure.price_upper) == (None, None)
    assert range_position(exposure.price, exposure.price_lower, exposure.price_upper) is None
