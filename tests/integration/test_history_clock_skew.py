"""Fills are never lost to clock skew between the host and the venue: the real ccxt
``hyperliquid`` client against the Hyperliquid emulator running years behind the host's
clock (the demo's fixed chain epoch) or a year ahead of it. ``VenueHistory`` over a real
SQLite store books the fill of an order placed after its cursor was set, and the cursor
follows the venue's own fill timestamp."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import pytest
from emulator_support import HL_SYMBOL, running_hyperliquid, started_hyperliquid_exchange

from bot.clock import ManualClock
from bot.domain import OrderIntent, Side
from bot.exchange.client_ids import client_order_id
from bot.sim.demo import DEMO_EPOCH
from bot.store.sqlite import SqliteStore
from bot.venue_history import VenueHistory

pytestmark = pytest.mark.integration

YEAR_S = 365 * 86_400


@pytest.mark.parametrize(
    "venue_start_s",
    [
        pytest.param(float(DEMO_EPOCH), id="venue-years-behind-host"),
        pytest.param(float(int(time.time()) + YEAR_S), id="venue-a-year-ahead-of-host"),
    ],
)
async def test_a_fill_is_booked_whatever_the_skew(tmp_path: Path, venue_start_s: float) -> None:
    """The cursor is set at the venue's (and bot's) time, an order fills a second later:
    the history read returns that fill once, its fee booked, and the cursor moves to the
    fill's venue timestamp; a second read books nothing new."""
    clock = ManualClock(t=venue_start_s)
    intent = OrderIntent(
        client_order_id("skew-test", 7, 1),
        HL_SYMBOL,
        Side.SELL,
        Decimal("0.5"),
        False,
        Decimal(1990),
    )
    store = await SqliteStore.open(tmp_path / "hedgebot.sqlite")
    try:
        async with (
            running_hyperliquid(clock) as hl,
            started_hyperliquid_exchange(hl, clock) as exchange,
        ):
            history = VenueHistory(exchange, store)
            await history.load(clock.now())
            cursor_ms = history.fills_since_ms
            clock.advance(1)
            async with store.transaction():
                await store.record_intent(clock.now(), 7, intent)
            await exchange.submit(intent)
            (venue_fill,) = hl.emulator.venue.fills(0)

            batch = await history.fetch_fills()
            async with store.transaction():
                fills, funding = await history.record(batch)
            history.committed(batch, fills, funding)

            assert [f.client_order_id for f in fills] == [intent.client_order_id]
            assert fills[0].timestamp == venue_fill.timestamp == cursor_ms + 1000
            # the venue's wire carries the fee to 6 decimals
            assert fills[0].fee_quote > 0
            assert abs(fills[0].fee_quote - venue_fill.fee_quote) <= Decimal("0.000001")
            assert history.fills_since_ms == venue_fill.timestamp

            again = await history.fetch_fills()
            async with store.transaction():
                assert await history.record(again) == ([], [])
    finally:
        await store.close()
