"""Hyperliquid's liquidation of the hedge, through the real ccxt ``hyperliquid`` client
against the emulator over HTTP: the emulator serves the liquidated user's fill as the venue
does (a ``liquidation`` object naming the account, no cloid), and the adapter's ``fills()``
gives it a client id recognised as a venue liquidation; a manual trade without a cloid
stays someone else's plain fill."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from emulator_support import (
    HL_MASTER,
    HL_SYMBOL,
    running_hyperliquid,
    started_hyperliquid_exchange,
    venue_clock,
)
from test_foreign_fills import hyperliquid_manual_sell

from bot.clock import ManualClock
from bot.domain import OrderIntent, Side
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.ccxt.order_ids import NO_CLIENT_ID
from bot.exchange.client_ids import client_order_id
from bot.exchange.emulators.hyperliquid import HyperliquidHandle
from bot.exchange.venue_liquidations import is_venue_liquidation

pytestmark = pytest.mark.integration


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


async def user_fills(hl: HyperliquidHandle) -> list[dict[str, Any]]:
    """The account's ``userFills`` rows as the venue's ``/info`` serves them."""
    body = {"type": "userFills", "user": HL_MASTER.address}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{hl.base_url}/info", json=body) as answer,
    ):
        rows = await answer.json()
    assert isinstance(rows, list)
    return rows


async def liquidate_a_short(hl: HyperliquidHandle, exchange: CcxtPerpExchange) -> Decimal:
    """Sell 1.0 as the bot would, then push the mark past the liquidation price; the price
    the venue closed at."""
    sell = OrderIntent(
        client_order_id("hl-liq", 100, 1),
        HL_SYMBOL,
        Side.SELL,
        Decimal("1.0"),
        False,
        Decimal(1990),
    )
    await exchange.submit(sell)
    position = await exchange.position()
    assert position.liquidation_price is not None
    hl.set_mark(position.liquidation_price * Decimal("1.05"))
    assert (await exchange.position()).size_base == 0
    assert hl.emulator.venue.liquidations == 1
    return hl.emulator.venue.fills(0)[-1].price


async def test_the_liquidated_fill_is_served_as_hyperliquid_serves_it(
    hl: HyperliquidHandle, exchange: CcxtPerpExchange
) -> None:
    """The venue's close carries ``liquidation`` {liquidatedUser: the account, markPx,
    method: market} and no cloid; the bot's own fill carries its cloid and no liquidation."""
    price = await liquidate_a_short(hl, exchange)
    closing, opening = await user_fills(hl)  # newest first
    assert "cloid" not in closing
    assert closing["liquidation"] == {
        "liquidatedUser": HL_MASTER.address.lower(),
        "markPx": closing["px"],
        "method": "market",
    }
    assert Decimal(closing["px"]) == price
    assert (closing["side"], closing["sz"]) == ("B", "1.0")
    assert "liquidation" not in opening
    assert opening["cloid"].startswith("0x")


async def test_fills_name_the_liquidation_and_not_a_manual_trade(
    hl: HyperliquidHandle, exchange: CcxtPerpExchange
) -> None:
    """``fills()`` gives the liquidation fill ``(liquidation <oid>)``, recognised as the
    venue's liquidation (so the position check names it); a sell sent without a cloid (the
    web app's) is someone else's fill and not a liquidation; the bot's own keeps its id."""
    price = await liquidate_a_short(hl, exchange)
    await hyperliquid_manual_sell(hl, 0.1)
    own, liquidation, manual = await exchange.fills(0)
    assert own.client_order_id == client_order_id("hl-liq", 100, 1)
    assert liquidation.client_order_id == f"(liquidation {liquidation.exchange_order_id})"
    assert (liquidation.side, liquidation.amount_base) == (Side.BUY, Decimal("1.0"))
    assert abs(liquidation.price - price) < Decimal("1e-9")  # ccxt reads px as a float
    assert manual.client_order_id == NO_CLIENT_ID
    assert manual.side is Side.SELL
    assert [is_venue_liquidation(f.client_order_id) for f in (own, liquidation, manual)] == [
        False,
        True,
        False,
    ]
