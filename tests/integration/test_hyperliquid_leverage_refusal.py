"""Hyperliquid refuses a start-up leverage call, start goes on at the venue's setting (issue 11
item 6, second review): the real ccxt ``hyperliquid`` client against the Hyperliquid emulator,
which refuses ``updateLeverage`` as the venue does (a switch of leverage type with a position
open; a leverage above the asset's ``maxLeverage``). ccxt's hyperliquid has no
``fetchLeverage``: the setting is read back from the open position's row (its
``leverage {type, value}``)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from emulator_support import (
    HL_SYMBOL,
    hyperliquid_settings,
    running_hyperliquid,
    started_hyperliquid_exchange,
    venue_clock,
)
from structlog.testing import capture_logs

from bot import errors
from bot.core.gate import margin_view
from bot.domain import OrderIntent, OrderStatus, Side
from bot.exchange.ccxt import CcxtPerpExchange
from bot.exchange.client_ids import client_order_id

pytestmark = pytest.mark.integration

SWITCH_REFUSED = "Cannot switch leverage type with open position."


def sell(nonce: int, amount: str) -> OrderIntent:
    return OrderIntent(
        client_order_id("hl-lev", nonce, 1), HL_SYMBOL, Side.SELL, Decimal(amount), False,
        Decimal(1900),
    )  # fmt: skip


async def test_type_switch_refused_with_a_position_open_starts_at_the_venues_setting() -> None:
    """Short 1 open isolated at 5x; a restart asking cross at 10x is refused by the venue:
    start completes, logs the refusal with the venue's 5x isolated, and the position, its
    margin (the isolated wallet) and the margin math use 5x isolated; the hedge trades."""
    clock = venue_clock()
    async with running_hyperliquid(clock) as emu:
        async with started_hyperliquid_exchange(emu, clock) as first:
            assert (await first.submit(sell(1, "1.0"))).status is OrderStatus.FILLED
            before = await first.position()
        asked = replace(hyperliquid_settings(emu), margin_mode="cross", leverage=10)
        adapter = CcxtPerpExchange(asked, clock)
        with capture_logs() as logs:
            await adapter.start()
        try:
            setup = adapter.account_setup
            assert setup is not None
            assert (setup.leverage, setup.margin_mode) == (5, "isolated")
            assert SWITCH_REFUSED in setup.note
            refused = [e for e in logs if e["event"] == "exchange.leverage_refused"]
            assert [
                (e["wanted"], e["current"], e["wanted_margin_mode"], e["current_margin_mode"])
                for e in refused
            ] == [(10, 5, "cross", "isolated")]
            assert SWITCH_REFUSED in refused[0]["reason"]
            assert (emu.emulator.venue.leverage, emu.emulator.venue.margin_mode) == (5, "isolated")
            position = await adapter.position()
            assert position == before
            assert position.leverage == 5
            assert position.margin == emu.emulator.venue.position().margin
            assert margin_view(position) == margin_view(before)
            assert (await adapter.submit(sell(2, "0.5"))).status is OrderStatus.FILLED
            assert (await adapter.position()).size_base == Decimal("-1.5")
        finally:
            await adapter.close()


async def test_same_type_with_a_position_open_takes_the_new_leverage() -> None:
    """Short 1 open isolated at 5x, restart asking isolated 10x: Hyperliquid changes leverage
    of an open position of the same type; no refusal, 10x is the setting and the row's."""
    clock = venue_clock()
    async with running_hyperliquid(clock) as emu:
        async with started_hyperliquid_exchange(emu, clock) as first:
            await first.submit(sell(3, "1.0"))
        adapter = CcxtPerpExchange(replace(hyperliquid_settings(emu), leverage=10), clock)
        with capture_logs() as logs:
            await adapter.start()
        try:
            assert adapter.account_setup is not None
            assert (adapter.account_setup.leverage, adapter.account_setup.margin_mode) == (
                10,
                "isolated",
            )
            assert not [e for e in logs if e["event"] == "exchange.leverage_refused"]
            assert (await adapter.position()).leverage == 10
        finally:
            await adapter.close()


async def test_without_a_position_the_venue_takes_another_type() -> None:
    """No position: cross at 10x is accepted (no refusal), and the venue holds it."""
    clock = venue_clock()
    async with running_hyperliquid(clock) as emu:
        asked = replace(hyperliquid_settings(emu), margin_mode="cross", leverage=10)
        adapter = CcxtPerpExchange(asked, clock)
        await adapter.start()
        try:
            assert adapter.account_setup is not None
            assert (adapter.account_setup.leverage, adapter.account_setup.margin_mode) == (
                10,
                "cross",
            )
            assert adapter.account_setup.note == ""
            assert (emu.emulator.venue.leverage, emu.emulator.venue.margin_mode) == (10, "cross")
        finally:
            await adapter.close()


async def test_refused_without_a_position_to_read_fails_start_in_one_line() -> None:
    """Leverage 26 above ETH's maxLeverage 25, no position: refused ("Invalid leverage
    value.") and nothing carries the venue's setting: start fails in one line naming the
    refusal and why it cannot be read back."""
    clock = venue_clock()
    async with running_hyperliquid(clock) as emu:
        adapter = CcxtPerpExchange(replace(hyperliquid_settings(emu), leverage=26), clock)
        with pytest.raises(errors.ExchangeError) as caught:
            await adapter.start()
    message = str(caught.value)
    assert "leverage refused" in message
    assert "Invalid leverage value." in message
    assert "no fetchLeverage in ccxt and no open position carrying it" in message
    assert "\n" not in message


async def test_above_the_max_with_a_position_open_starts_at_the_venues_leverage() -> None:
    """Leverage 26 refused with a short open at 5x isolated: start goes on at 5x isolated."""
    clock = venue_clock()
    async with running_hyperliquid(clock) as emu:
        async with started_hyperliquid_exchange(emu, clock) as first:
            await first.submit(sell(4, "1.0"))
        adapter = CcxtPerpExchange(replace(hyperliquid_settings(emu), leverage=26), clock)
        await adapter.start()
        try:
            assert adapter.account_setup is not None
            assert (adapter.account_setup.leverage, adapter.account_setup.margin_mode) == (
                5,
                "isolated",
            )
            assert "Invalid leverage value." in adapter.account_setup.note
        finally:
            await adapter.close()
