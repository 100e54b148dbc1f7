"""The hedge position after an own order's fill, from the order's answer
(bot/core/fill_position.py): Binance's average-entry and isolated-margin bookkeeping. Sizes in
base units (short < 0), prices in quote per base."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.fill_position import position_after_fill
from bot.domain import Order, OrderStatus, PerpPosition, Side

D = Decimal
SHORT = PerpPosition(
    symbol="ETH/USDT:USDT",
    size_base=D(-4),
    entry_price=D(2000),
    mark_price=D(2100),
    unrealized_pnl=D(-400),
    margin=D(800),
    liquidation_price=D(2300),
    leverage=10,
)


def order(side: Side, filled: str, price: str | None) -> Order:
    return Order(
        client_order_id="hb-1",
        exchange_order_id="1",
        symbol=SHORT.symbol,
        side=side,
        amount_base=D(filled),
        filled_base=D(filled),
        average_price=None if price is None else D(price),
        status=OrderStatus.FILLED,
        reduce_only=side is Side.BUY,
    )


def test_growing_a_short_averages_the_entry_and_adds_margin() -> None:
    after = position_after_fill(SHORT, order(Side.SELL, "1", "2100"))
    assert after is not None
    assert after.size_base == D(-5)
    assert after.entry_price == D(2020)  # (4*2000 + 1*2100) / 5
    assert after.margin == D(1010)  # 800 + 2100/10
    assert after.unrealized_pnl == D(-5) * (D(2100) - D(2020))
    assert after.liquidation_price is None  # the venue's: unknown until the next read
    assert after.mark_price == SHORT.mark_price


def test_reducing_keeps_the_entry_and_scales_the_margin() -> None:
    after = position_after_fill(SHORT, order(Side.BUY, "1", "2100"))
    assert after is not None
    assert after.size_base == D(-3)
    assert after.entry_price == D(2000)
    assert after.margin == D(600)
    assert after.unrealized_pnl == D(-300)


def test_closing_is_flat_with_nothing_left() -> None:
    after = position_after_fill(SHORT, order(Side.BUY, "4", "2100"))
    assert after is not None
    assert (after.size_base, after.entry_price, after.margin, after.unrealized_pnl) == (0, 0, 0, 0)
    assert after.liquidation_price is None


def test_flipping_through_flat_enters_at_the_fill() -> None:
    after = position_after_fill(SHORT, order(Side.BUY, "6", "2100"))
    assert after is not None
    assert after.size_base == D(2)
    assert after.entry_price == D(2100)
    assert after.margin == D(420)
    assert after.unrealized_pnl == 0


def test_opening_from_flat() -> None:
    flat = replace(SHORT, size_base=D(0), entry_price=D(0), margin=D(0), unrealized_pnl=D(0))
    after = position_after_fill(flat, order(Side.SELL, "2.5", "2000"))
    assert after is not None
    assert after.size_base == D("-2.5")
    assert after.entry_price == D(2000)
    assert after.margin == D(500)
    assert after.unrealized_pnl == D("-2.5") * D(100)


def test_nothing_filled_is_the_position_before() -> None:
    assert position_after_fill(SHORT, order(Side.SELL, "0", None)) is SHORT


@pytest.mark.parametrize("price", [None, "0", "-1", "NaN", "Infinity"])
def test_a_fill_without_a_usable_price_is_unknown(price: str | None) -> None:
    """The caller then reads the position from the venue: never a guessed entry."""
    assert position_after_fill(SHORT, order(Side.SELL, "1", price)) is None


def test_a_leverage_below_one_is_unknown() -> None:
    assert position_after_fill(replace(SHORT, leverage=0), order(Side.SELL, "1", "2000")) is None


amounts = st.decimals(min_value=D("0.001"), max_value=D(100), places=3)
prices = st.decimals(min_value=D(1), max_value=D(10_000), places=2)


@given(amounts, prices, amounts, prices, st.sampled_from([Side.BUY, Side.SELL]))
def test_two_fills_on_one_side_average_like_one_fill_of_both(
    first: Decimal, p1: Decimal, second: Decimal, p2: Decimal, side: Side
) -> None:
    """Growing twice gives the size-weighted entry of all fills, and the size moves by the
    signed fills exactly."""
    flat = replace(SHORT, size_base=D(0), entry_price=D(0), margin=D(0), unrealized_pnl=D(0))
    one = position_after_fill(flat, order(side, str(first), str(p1)))
    assert one is not None
    two = position_after_fill(one, order(side, str(second), str(p2)))
    assert two is not None
    sign = 1 if side is Side.BUY else -1
    assert two.size_base == sign * (first + second)
    expected = (first * p1 + second * p2) / (first + second)
    assert abs(two.entry_price - expected) <= expected * D("1e-20")
