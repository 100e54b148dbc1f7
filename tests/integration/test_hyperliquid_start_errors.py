"""Start-up refusals on Hyperliquid name their real cause (the real ccxt ``hyperliquid``
client against the emulator over HTTP): a vault the venue does not know is an
``AuthenticationError`` that says so, never "leverage refused ... cannot be read back"."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from emulator_support import HL_STRANGER, hyperliquid_settings, running_hyperliquid, venue_clock

from bot import errors
from bot.clock import ManualClock
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.emulators.hyperliquid import HyperliquidHandle

pytestmark = pytest.mark.integration


@pytest.fixture
def clock() -> ManualClock:
    return venue_clock()


@pytest.fixture
async def hl(clock: ManualClock) -> AsyncIterator[HyperliquidHandle]:
    async with running_hyperliquid(clock) as handle:
        yield handle


async def test_unknown_vault_is_an_authentication_error_naming_the_vault(
    hl: HyperliquidHandle, clock: ManualClock
) -> None:
    """The reviewer's case: a wrong ``vault_address`` read "leverage refused (... Vault not
    registered ...) and the venue's current leverage cannot be read back". The venue's text
    is an authentication refusal: start fails once, naming the vault, and places nothing."""
    settings = dataclasses.replace(hyperliquid_settings(hl), vault_address=HL_STRANGER.address)
    exchange = CcxtPerpExchange(settings, clock)
    try:
        with pytest.raises(errors.AuthenticationError) as info:
            await exchange.start()
    finally:
        await exchange.close()
    text = str(info.value)
    assert "Vault not registered" in text
    assert HL_STRANGER.address.lower() in text.lower()
    assert "leverage refused" not in text
    assert hl.emulator.venue.order_log() == []
