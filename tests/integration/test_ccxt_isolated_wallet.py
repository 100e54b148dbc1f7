"""An isolated account's position row without its isolated wallet is a read error, never its
initial margin (issue 11 review 3): the real ccxt binanceusdm client against the emulator,
whose ``corrupt_position_rows`` nulls fields of the positionRisk rows it serves."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

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
        (
            {"isolatedMargin": None, "isolatedWallet": None},
            "without marginType or isolatedMargin",
        ),
        (
            {"isolatedMargin": None, "isolatedWallet": None, "initialMargin": "5000",
             "positionInitialMargin": "5000"},
            "without marginType or isolatedMargin",
        ),
        (  # ccxt then takes the row for cross: it contradicts the account's isolated mode
            {"isolatedMargin": "0", "isolatedWallet": "0"},
            "marginMode cross contradicts the account's isolated",
        ),
        ({"isolatedWallet": None}, "isolatedWallet None on an open isolated position"),
    ],
)  # fmt: skip
async def test_isolated_row_without_its_wallet_is_a_read_error(
    emulator: EmulatorHandle, clock: ManualClock, fields: dict[str, Any], message: str
) -> None:
    """Short 2 open on an isolated account; the row's wallet nulled: VenueDataError (not a
    margin of 800 or 5000), the venue's position untouched, and the wallet read once fixed."""
    async with started_exchange(emulator, clock) as exchange:
        assert exchange.account_setup is not None
        assert exchange.account_setup.margin_mode == "isolated"
        await exchange.submit(OrderIntent("iso-1", SYMBOL, Side.SELL, Decimal(2), False))
        good = await exchange.position()
        assert Decimal(0) < good.margin < Decimal(800)  # the wallet: 800 initial less the fee
        emulator.corrupt_position_rows(fields)
        with pytest.raises(errors.VenueDataError, match=message):
            await exchange.position()
        assert emulator.venue.position().size_base == Decimal(-2)
        emulator.faults.reset()
        assert await exchange.position() == good
