"""Hyperliquid's $10 minimum is size x the order's limit price, not size x mark: the sizing
check the bot runs before sending agrees with what the venue (the emulator, through the real
ccxt ``hyperliquid`` client over HTTP) refuses. The reviewer's case: a sell of 0.005 capped at
1990 is $9.95 to the venue though it is $10 at the 2000 mark."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal

import pytest
from emulator_support import (
    HL_SYMBOL,
    running_hyperliquid,
    started_hyperliquid_exchange,
    venue_clock,
)

from bot import errors
from bot.clock import ManualClock
from bot.core.plan import slippage_cap
from bot.core.sizing import size_order
from bot.domain import OrderIntent, Side
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.client_ids import client_order_id
from bot.exchange.emulators.hyperliquid import HyperliquidHandle

pytestmark = pytest.mark.integration

BOT = "hl-min-notional"


@pytest.fixture
def clock() -> ManualClock:
    return venue_clock()


@pytest.fixture
async def hl(clock: ManualClock) -> AsyncIterator[HyperliquidHandle]:
    async with running_hyperliquid(clock) as handle:
        yield handle


@pytest.fixture
async def exchange(hl: HyperliquidHandle, clock: ManualClock) -> AsyncIterator[CcxtPerpExchange]:
    async with started_hyperliquid_exchange(hl, clock) as started:
        yield started


async def test_sizing_checks_the_cap_price_the_venue_checks(
    hl: HyperliquidHandle, exchange: CcxtPerpExchange
) -> None:
    rules = await exchange.market_rules()
    assert rules.min_notional_price == "limit"
    assert rules.min_notional == Decimal(10)
    quote = await exchange.quote()
    assert quote.mark_price == Decimal(2000)
    mark_only = replace(quote, bid=None, ask=None)  # the cap from the mark alone
    caps = (
        slippage_cap(Side.BUY, mark_only, Decimal(50), rules.price_tick),
        slippage_cap(Side.SELL, mark_only, Decimal(50), rules.price_tick),
    )
    assert caps == (Decimal(2010), Decimal(1990))
    drift = Decimal("0.005")  # a short too small by 0.005: a sell of 0.005
    sizing = size_order(drift, Decimal(0), quote.mark_price, rules, limit_prices=caps)
    assert sizing.refusal == "below_min_notional"
    at_mark = size_order(drift, Decimal(0), quote.mark_price, rules)  # the old check: passes
    assert at_mark.refusal is None
    intent = OrderIntent(client_order_id(BOT, 100, 1), HL_SYMBOL, Side.SELL, drift, False, caps[1])
    with pytest.raises(errors.MinNotionalError, match=r"minimum value of \$10"):
        await exchange.submit(intent)  # the venue agrees with the sizing check
    assert hl.emulator.venue.order_log() == []
    bigger = size_order(Decimal("0.0051"), Decimal(0), quote.mark_price, rules, limit_prices=caps)
    assert bigger.refusal is None  # 0.0051 x 1990 = 10.149: the venue takes it
    filled = await exchange.submit(
        OrderIntent(
            client_order_id(BOT, 100, 2), HL_SYMBOL, Side.SELL, bigger.amount_base, False, caps[1]
        )
    )
    assert filled.filled_base == Decimal("0.0051")
