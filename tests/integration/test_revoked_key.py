"""A key revoked while the daemon runs: the venue refuses the order request before making any
order, and the adapter says so with ``AuthenticationError`` (never an unknown outcome), on
both ccxt paths (real ``binanceusdm`` and ``hyperliquid`` clients against the emulators). The
emulators' own order logs are the witness that nothing was placed.

The ledger books it as a refusal (``Rejected``, the intent stored rejected, nothing left
to look up); the engine's part (trading halted, one critical alert) is in
``test_revoked_key_engine.py``.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest
from emulator_support import (
    HL_AGENT,
    HL_SYMBOL,
    SYMBOL,
    running_emulator,
    running_hyperliquid,
    started_exchange,
    started_hyperliquid_exchange,
    venue_clock,
)

from bot import errors
from bot.domain import OrderIntent, Side
from bot.exchange.client_ids import client_order_id
from bot.exchange.emulators.binance_usdm import EmulatorHandle
from bot.exchange.emulators.binance_usdm.auth import ApiCredentials
from bot.exchange.emulators.hyperliquid import HyperliquidHandle
from bot.exchange.ledger import OrderLedger, Rejected
from bot.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration

BOT = "revoked-key"


def revoke_binance_key(handle: EmulatorHandle) -> None:
    """The account's API key is deleted on the venue: every signed request is refused."""
    handle.emulator._credentials = ApiCredentials("a-new-key-0123456789", "a-new-secret-0123")


def revoke_hyperliquid_agent(handle: HyperliquidHandle) -> None:
    """The master removes the API wallet: its signatures are no longer the account's."""
    handle.emulator.registry.agents.discard(HL_AGENT.address.lower())


def sell(symbol: str, seq: int) -> OrderIntent:
    """A 0.1 IOC sell capped 0.5 % under 2000 (Hyperliquid needs a price on every order)."""
    return OrderIntent(
        client_order_id(BOT, 100, seq), symbol, Side.SELL, Decimal("0.1"), False, Decimal(1990)
    )


async def test_binance_revoked_key_is_an_authentication_error_and_no_order() -> None:
    """After an accepted order the key is revoked: the next submit raises
    AuthenticationError (the venue's -2015/-1022 refusal), the venue logs no second order."""
    clock = venue_clock()
    async with running_emulator(clock) as handle, started_exchange(handle, clock) as exchange:
        await exchange.submit(sell(SYMBOL, 1))
        revoke_binance_key(handle)
        with pytest.raises(errors.AuthenticationError):
            await exchange.submit(sell(SYMBOL, 2))
        assert len(handle.venue.order_log()) == 1


async def test_hyperliquid_revoked_agent_is_an_authentication_error_and_no_order() -> None:
    """After an accepted order the agent wallet is removed: the next submit raises
    AuthenticationError with the venue's text, the venue logs no second order."""
    clock = venue_clock()
    async with (
        running_hyperliquid(clock) as handle,
        started_hyperliquid_exchange(handle, clock) as exchange,
    ):
        await exchange.submit(sell(HL_SYMBOL, 1))
        revoke_hyperliquid_agent(handle)
        with pytest.raises(errors.AuthenticationError, match="does not exist"):
            await exchange.submit(sell(HL_SYMBOL, 2))
        assert len(handle.emulator.venue.order_log()) == 1


async def test_ledger_books_a_revoked_key_as_a_refusal(tmp_path: Path) -> None:
    """The ledger's place() after the key was revoked: Rejected with the AuthenticationError
    (the intent stored as rejected, nothing to look up), and no order on the venue."""
    clock = venue_clock()
    store = await SqliteStore.open(tmp_path / "store.sqlite")
    try:
        async with running_emulator(clock) as handle, started_exchange(handle, clock) as exchange:
            ledger = OrderLedger(exchange, store, BOT, clock)
            await ledger.open()
            revoke_binance_key(handle)
            result = await ledger.place(sell(SYMBOL, 1))
            assert handle.venue.order_log() == []
            assert isinstance(result, Rejected), result
            assert isinstance(result.error, errors.AuthenticationError)
            assert not ledger.pending
            assert await store.unresolved_intents() == []
            with closing(sqlite3.connect(tmp_path / "store.sqlite")) as db:
                statuses = db.execute("SELECT status FROM intents").fetchall()
            assert statuses == [("rejected",)]
    finally:
        await store.close()
