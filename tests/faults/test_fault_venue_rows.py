"""Venue answers the ccxt adapter cannot trust, through the whole engine: the real ccxt client
against the Binance emulator, a real Uniswap pool on anvil. An unreadable position row must
fail the tick and alert, never be read as flat (which would sell the whole delta again)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from fault_world import fault_world

from bot.sim.anvil import Anvil

pytestmark = pytest.mark.faults

# with these four fields gone the real ccxt binanceusdm client reports the row:
# contracts None, side "short", notional present
NULL_CONTRACTS = {"positionAmt": None, "markPrice": None, "liquidationPrice": None}


async def test_position_row_with_null_contracts_trades_nothing_and_alerts(
    anvil_node: Anvil, tmp_path: Path
) -> None:
    """Hedge open; the venue's row loses its size for three ticks: no order, the hedge stays
    where it was (not doubled, tripled), each tick alerts venue.unreadable; then it recovers."""
    async with fault_world(anvil_node, tmp_path) as fw:
        opening = await fw.tick()
        assert opening is not None
        hedge = opening.position.size_base
        assert hedge < 0
        orders = len(fw.venue_orders())
        fw.emulator.corrupt_position_rows(NULL_CONTRACTS)
        price = fw.world.target_price
        for step in range(1, 4):
            block = await fw.move(price * (1 + Decimal(step) / 1000))
            assert await fw.bot.engine.tick(block) is None
            assert len(fw.venue_orders()) == orders
            assert fw.emulator.venue.position().size_base == hedge
        assert fw.telemetry.alerts().count("venue.unreadable") == 3
        assert "VenueDataError" in fw.telemetry.errors()[-1]["error"]
        fw.emulator.faults.reset()
        resumed = await fw.tick()
        assert resumed is not None
        assert resumed.position.size_base == hedge
        assert abs(fw.emulator.venue.position().size_base) < 2 * abs(hedge) * Decimal("0.8")


@pytest.mark.parametrize("zero", ["0", "0.00000000"])
async def test_entry_price_zero_on_the_open_hedge_trades_nothing_and_alerts(
    anvil_node: Anvil, tmp_path: Path, zero: str
) -> None:
    """Issue 11 (adversarial): the row's entryPrice turns 0 with the hedge open. ccxt drops
    such a row, which read as flat and sold the hedge again every tick; now each tick alerts
    venue.unreadable, places nothing, and the hedge stays where it was."""
    async with fault_world(anvil_node, tmp_path) as fw:
        opening = await fw.tick()
        assert opening is not None
        hedge = opening.position.size_base
        assert hedge < 0
        orders = len(fw.venue_orders())
        fw.emulator.corrupt_position_rows({"entryPrice": zero})
        price = fw.world.target_price
        for step in range(1, 3):
            block = await fw.move(price * (1 + Decimal(step) / 1000))
            assert await fw.bot.engine.tick(block) is None
            assert len(fw.venue_orders()) == orders
            assert fw.emulator.venue.position().size_base == hedge
        assert fw.telemetry.alerts().count("venue.unreadable") == 2
        assert "entryPrice 0 on an open position" in fw.telemetry.errors()[-1]["error"]
