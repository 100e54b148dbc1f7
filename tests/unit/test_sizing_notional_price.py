"""The minimum-notional check values an order at the price the venue does: the mark, or the
order's limit price (the IOC cap) where the venue says so (``MarketRules.min_notional_price``)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from bot.core.sizing import notional_price, size_order
from bot.domain import MarketRules, Side

pytestmark = pytest.mark.unit

MARK = Decimal(2000)
CAPS = (Decimal(2010), Decimal(1990))  # (buy, sell) IOC caps at 50 bps
AT_MARK = MarketRules(
    "ETH/USDC:USDC", Decimal("0.0001"), Decimal("0.1"), Decimal("0.0001"), Decimal(10)
)
AT_LIMIT = replace(AT_MARK, min_notional_price="limit")


def test_notional_price_per_rule_and_side() -> None:
    assert notional_price(Side.SELL, MARK, AT_MARK, CAPS) == MARK
    assert notional_price(Side.SELL, MARK, AT_LIMIT, CAPS) == Decimal(1990)
    assert notional_price(Side.BUY, MARK, AT_LIMIT, CAPS) == Decimal(2010)
    assert notional_price(Side.SELL, MARK, AT_LIMIT, None) == MARK  # caps unknown: the mark


def test_sell_at_a_cap_below_ten_dollars_is_refused_before_sending() -> None:
    """0.005 x 2000 = 10 at the mark, 0.005 x 1990 = 9.95 at the cap Hyperliquid checks."""
    assert (
        size_order(Decimal("0.005"), Decimal(0), MARK, AT_MARK, limit_prices=CAPS).refusal is None
    )
    sell = size_order(Decimal("0.005"), Decimal(0), MARK, AT_LIMIT, limit_prices=CAPS)
    assert (sell.side, sell.refusal) == (Side.SELL, "below_min_notional")
    # a buy of 0.005 is capped at 2010: 10.05, the venue takes it
    buy = size_order(Decimal("-0.005"), Decimal(0), MARK, AT_LIMIT, limit_prices=CAPS)
    assert (buy.side, buy.refusal) == (Side.BUY, None)


def test_reduce_only_stays_exempt_at_the_limit_price() -> None:
    """Closing a 0.005 long with a sell of 0.005 (cap 1990: 9.95) is reduce-only: exempt."""
    sizing = size_order(Decimal("0.005"), Decimal("0.005"), MARK, AT_LIMIT, limit_prices=CAPS)
    assert (sizing.side, sizing.reduce_only, sizing.refusal) == (Side.SELL, True, None)
