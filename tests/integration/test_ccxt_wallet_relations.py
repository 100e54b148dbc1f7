"""An isolated wallet that disagrees with the rest of its row is a read error (issue 11
item 1, second review): the real ccxt binanceusdm client against the emulator, whose
``corrupt_position_rows`` puts the reviewer's numbers into the positionRisk rows it serves."""

from __future__ import annotations

from decimal import Decimal

import pytest
from emulator_support import SYMBOL, started_exchange

from bot import errors
from bot.clock import ManualClock
from bot.domain import OrderIntent, Side
from bot.exchange.emulators.binance_usdm import EmulatorHandle

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"isolatedWallet": "5000"}, r"isolatedMargin \S+ disagrees with isolatedWallet 5000"),
        ({"isolatedWallet": "40"}, r"isolatedMargin \S+ disagrees with isolatedWallet 40"),
        (
            {"isolatedWallet": "5000", "isolatedMargin": "5000"},
            r"liquidationPrice \S+ disagrees with isolatedWallet 5000",
        ),
    ],
)
async def test_a_wallet_the_row_contradicts_is_a_read_error(
    emulator: EmulatorHandle, clock: ManualClock, fields: dict[str, str], message: str
) -> None:
    """Short 1 open on an isolated account (wallet about 400): a wallet of 5000 or 40, alone
    or with a matching isolated margin, is VenueDataError naming both fields (it read as a
    margin of 5000); the venue's position is untouched and the true wallet reads once fixed."""
    async with started_exchange(emulator, clock) as exchange:
        await exchange.submit(OrderIntent("rel-1", SYMBOL, Side.SELL, Decimal(1), False))
        good = await exchange.position()
        assert Decimal(390) < good.margin < Decimal(400)
        emulator.corrupt_position_rows(fields)
        with pytest.raises(errors.VenueDataError, match=message):
            await exchange.position()
        assert emulator.venue.position().size_base == Decimal(-1)
        emulator.faults.reset()
        assert await exchange.position() == good
