"""Uniswap V2 LP math: delta is the base reserve share and the derivative of value."""

from __future__ import annotations

from decimal import Context, Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.amm import (
    PANCAKE_V2_FEE,
    pending_fee_liquidity,
    raw_share,
    to_units,
    v2_delta,
    v2_exposure,
    v2_gamma,
    v2_il_fraction,
    v2_value,
)
from bot.domain import TokenInfo, V2PoolRead

pytestmark = pytest.mark.unit

WETH = TokenInfo("0x" + "1" * 40, "WETH", 18)
USDT = TokenInfo("0x" + "2" * 40, "USDT", 6)

WIDE = Context(prec=100)
prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(1_000_000), places=4)
liquidities = st.decimals(min_value=Decimal("0.001"), max_value=Decimal(10**9), places=6)


def _read(reserve_weth: int, reserve_usdt: int, supply: int, balance: int, weth_first: bool):
    token0, token1 = (WETH, USDT) if weth_first else (USDT, WETH)
    r0, r1 = (reserve_weth, reserve_usdt) if weth_first else (reserve_usdt, reserve_weth)
    return V2PoolRead("0x" + "3" * 40, token0, token1, r0, r1, supply, balance)


@given(liquidity=liquidities, price=prices)
def test_delta_is_numerical_derivative_of_value(liquidity: Decimal, price: Decimal) -> None:
    """dV/dP by central differences equals v2_delta."""
    with localcontext() as ctx:
        ctx.prec = 60
        h = price * Decimal("1e-12")
        numeric = (v2_value(liquidity, price + h) - v2_value(liquidity, price - h)) / (2 * h)
        assert abs(numeric - v2_delta(liquidity, price)) <= abs(numeric) * Decimal("1e-15")


@given(liquidity=liquidities, price=prices)
def test_gamma_is_numerical_derivative_of_delta(liquidity: Decimal, price: Decimal) -> None:
    """d(delta)/dP by central differences equals v2_gamma (negative: short volatility)."""
    with localcontext() as ctx:
        ctx.prec = 60
        h = price * Decimal("1e-12")
        numeric = (v2_delta(liquidity, price + h) - v2_delta(liquidity, price - h)) / (2 * h)
        gamma = v2_gamma(liquidity, price)
        assert gamma < 0
        assert abs(numeric - gamma) <= abs(numeric) * Decimal("1e-15")


@given(
    reserve_weth=st.integers(min_value=10**15, max_value=10**30),
    price=st.integers(min_value=1, max_value=100_000),
    supply=st.integers(min_value=10**6, max_value=10**30),
    share_ppm=st.integers(min_value=0, max_value=1_000_000),
    weth_first=st.booleans(),
)
def test_delta_equals_base_reserve_share_to_the_wei(
    reserve_weth: int, price: int, supply: int, share_ppm: int, weth_first: bool
) -> None:
    """V2 delta = floor(balance * base reserve / supply), in either token order."""
    reserve_usdt = max(1, reserve_weth * price // 10**12)
    balance = supply * share_ppm // 1_000_000
    read = _read(reserve_weth, reserve_usdt, supply, balance, weth_first)
    exposure = v2_exposure(read, base_is_token0=weth_first, position_id="lp")
    expected_wei = balance * reserve_weth // supply
    assert exposure.delta_base == to_units(expected_wei, 18)
    assert exposure.amount_base.scaleb(18, WIDE) == expected_wei
    assert exposure.amount_quote.scaleb(6, WIDE) == balance * reserve_usdt // supply
    assert exposure.value_quote >= 0


def test_exposure_price_value_and_gamma_worked_example() -> None:
    """1000 WETH / 2,000,000 USDT, 25% share: 250 base, 500k quote, price 2000, value 1M."""
    read = _read(1000 * 10**18, 2_000_000 * 10**6, 4 * 10**18, 10**18, weth_first=False)
    exposure = v2_exposure(read, base_is_token0=False, position_id="lp")
    assert exposure.price == Decimal(2000)
    assert exposure.amount_base == Decimal(250)
    assert exposure.amount_quote == Decimal(500_000)
    assert exposure.value_quote == Decimal(1_000_000)
    assert exposure.gamma == Decimal(-250) / Decimal(4000)


def test_raw_share_rounds_down_like_burn() -> None:
    """burn pays floor(liquidity * reserve / totalSupply)."""
    assert raw_share(10, 1, 3) == 3
    assert raw_share(10, 0, 3) == 0
    assert raw_share(10, 1, 0) == 0


@given(entry=prices, price=prices)
def test_impermanent_loss_is_never_positive(entry: Decimal, price: Decimal) -> None:
    """IL vs holding is <= 0 at every price."""
    assert v2_il_fraction(entry, price) <= Decimal("1e-50")


@given(entry=prices)
def test_impermanent_loss_is_zero_at_entry(entry: Decimal) -> None:
    """No loss when the price is back at entry."""
    assert v2_il_fraction(entry, entry) == 0


def test_impermanent_loss_known_value() -> None:
    """A 4x move costs 20% versus holding (2*2/5 - 1)."""
    assert v2_il_fraction(Decimal(100), Decimal(400)) == Decimal("-0.2")


def test_empty_pool_refused() -> None:
    """A pair with an empty reserve has no price: refuse rather than divide by zero."""
    read = _read(0, 10**6, 10**18, 10**17, weth_first=True)
    with pytest.raises(ValueError, match="empty reserve"):
        v2_exposure(read, base_is_token0=True, position_id="lp")


def test_pending_fee_mint_follows_mint_fee() -> None:
    """_mintFee: supply·(√k − √kLast)/(5·√k + √kLast), PancakeSwap's 8/(17, 8); else nothing."""
    # sqrt(k) grows 100 -> 121 (k 10_000 -> 14_641) on a supply of 1_000_000
    assert pending_fee_liquidity(121, 121, 10_000, 10**6, fee_on=True) == 21 * 10**6 // 705
    assert pending_fee_liquidity(121, 121, 10_000, 10**6, fee_on=True, share=PANCAKE_V2_FEE) == (
        10**6 * 21 * 8 // (121 * 17 + 100 * 8)
    )
    assert pending_fee_liquidity(121, 121, 10_000, 10**6, fee_on=False) == 0
    assert pending_fee_liquidity(121, 121, 0, 10**6, fee_on=True) == 0
    assert pending_fee_liquidity(100, 100, 10_000, 10**6, fee_on=True) == 0


def test_exposure_divides_by_the_supply_burn_sees() -> None:
    """With the fee on, the LP's share is taken of the supply plus the pending fee mint."""
    weth, usdt = 4 * 10**18, 8_000 * 10**6
    supply, balance = 10**17, 10**16
    k_last = (weth // 2) * (usdt // 2)  # sqrt(k) doubled since the last mint
    read = V2PoolRead(
        "0x" + "3" * 40, WETH, USDT, weth, usdt, supply, balance, k_last=k_last, fee_on=True
    )
    minted = pending_fee_liquidity(weth, usdt, k_last, supply, fee_on=True)
    assert minted > 0
    exposure = v2_exposure(read, True, "lp")
    assert exposure.amount_base == to_units(balance * weth // (supply + minted), 18)
    assert exposure.amount_quote == to_units(balance * usdt // (supply + minted), 6)
