"""Shared set-up for tests that drive the real ccxt clients through the emulators:
``binanceusdm`` (``running_emulator``, ``started_exchange``) and ``hyperliquid``
(``running_hyperliquid``, ``hyperliquid_settings``, ``started_hyperliquid_exchange``)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any, Literal

import ccxt.async_support as ccxt_async
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from bot.clock import ManualClock
from bot.exchange.ccxt import CcxtPerpExchange, CcxtPerpSettings
from bot.exchange.ccxt.settings import BuilderFee
from bot.exchange.emulators.binance_usdm import EmulatorHandle, start_emulator
from bot.exchange.emulators.hyperliquid import HyperliquidHandle, start_hyperliquid_emulator
from bot.exchange.venue import VenueParams

API_KEY = "test-key-0123456789"
API_SECRET = "test-secret-0123456789"
SYMBOL = "ETH/USDT:USDT"
MARK = Decimal(2000)


def venue_clock() -> ManualClock:
    """A manual clock starting at the current second."""
    return ManualClock(t=float(int(time.time())))


@asynccontextmanager
async def running_emulator(clock: ManualClock) -> AsyncIterator[EmulatorHandle]:
    """A fresh venue behind the emulator on a free port, mark at ``MARK``."""
    handle = await start_emulator("127.0.0.1", 0, API_KEY, API_SECRET, VenueParams(), clock)
    handle.set_mark(MARK)
    try:
        yield handle
    finally:
        await handle.close()


def settings_for(
    handle: EmulatorHandle,
    *,
    secret: str = API_SECRET,
    key: str = API_KEY,
    timeout_ms: int = 3000,
    symbol: str = SYMBOL,
) -> CcxtPerpSettings:
    """Adapter settings pointing binanceusdm at ``handle``."""
    return CcxtPerpSettings(
        exchange_id="binanceusdm",
        symbol=symbol,
        api_key=key,
        api_secret=secret,
        leverage=5,
        margin_mode="isolated",
        urls=handle.ccxt_urls(),
        timeout_ms=timeout_ms,
        enable_rate_limit=False,
    )


@asynccontextmanager
async def started_exchange(
    handle: EmulatorHandle, clock: ManualClock, *, timeout_ms: int = 3000
) -> AsyncIterator[CcxtPerpExchange]:
    """A started ``CcxtPerpExchange`` on ``handle``; closed on exit."""
    exchange = CcxtPerpExchange(settings_for(handle, timeout_ms=timeout_ms), clock)
    await exchange.start()
    try:
        yield exchange
    finally:
        await exchange.close()


@asynccontextmanager
async def raw_ccxt_client(handle: EmulatorHandle) -> AsyncIterator[Any]:
    """The bare ccxt binanceusdm client on ``handle``, markets loaded (the README snippet),
    on a host whose clock is the venue's (it signs with the venue clock, no time sync)."""
    client = ccxt_async.binanceusdm(
        {
            "apiKey": API_KEY,
            "secret": API_SECRET,
            "options": {"fetchCurrencies": False, "fetchMargins": False},
        }
    )
    client.urls["api"].update(handle.ccxt_urls())
    venue_clock_ = handle.emulator.clock
    client.milliseconds = lambda: int(venue_clock_.now() * 1000)
    try:
        await client.load_markets()
        yield client
    finally:
        await client.close()


@pytest.fixture
def clock() -> ManualClock:
    """The venue's clock, driven by the test."""
    return venue_clock()


@pytest.fixture
async def emulator(clock: ManualClock) -> AsyncIterator[EmulatorHandle]:
    """A fresh venue behind the emulator, one per test."""
    async with running_emulator(clock) as handle:
        yield handle


# ------------------------------------------------------------------ Hyperliquid

HL_SYMBOL = "ETH/USDC:USDC"
HL_MASTER: LocalAccount = Account.from_key("0x" + "a1" * 32)  # the account (wallet address)
HL_AGENT: LocalAccount = Account.from_key("0x" + "a2" * 32)  # its approved API wallet
HL_STRANGER: LocalAccount = Account.from_key("0x" + "a3" * 32)  # neither


@asynccontextmanager
async def running_hyperliquid(
    clock: ManualClock, *, mark: Decimal = MARK, venue_params: VenueParams | None = None
) -> AsyncIterator[HyperliquidHandle]:
    """A fresh Hyperliquid emulator on a free port: ``HL_MASTER``'s account with ``HL_AGENT``
    approved, mark at ``mark``, the venue on ``clock``."""
    handle = await start_hyperliquid_emulator(
        "127.0.0.1",
        0,
        HL_MASTER.address,
        clock,
        agents=[HL_AGENT.address],
        venue_params=venue_params,
    )
    handle.set_mark(mark)
    try:
        yield handle
    finally:
        await handle.close()


def hyperliquid_settings(
    handle: HyperliquidHandle,
    *,
    agent: LocalAccount = HL_AGENT,
    timeout_ms: int = 3000,
    leverage: int = 5,
    margin_mode: Literal["isolated", "cross"] = "isolated",
    builder: BuilderFee | None = None,
) -> CcxtPerpSettings:
    """Adapter settings for ccxt ``hyperliquid`` (sandbox) on ``handle``, trading
    ``HL_MASTER``'s account with ``agent``'s key."""
    return CcxtPerpSettings(
        exchange_id="hyperliquid",
        symbol=HL_SYMBOL,
        wallet_address=HL_MASTER.address,
        api_secret=agent.key.hex(),
        sandbox=True,
        leverage=leverage,
        margin_mode=margin_mode,
        urls=handle.ccxt_urls(),
        timeout_ms=timeout_ms,
        enable_rate_limit=False,
        builder=builder,
    )


@asynccontextmanager
async def started_hyperliquid_exchange(
    handle: HyperliquidHandle,
    clock: ManualClock,
    *,
    agent: LocalAccount = HL_AGENT,
    timeout_ms: int = 3000,
) -> AsyncIterator[CcxtPerpExchange]:
    """A started ``CcxtPerpExchange`` (the real ccxt hyperliquid client) on ``handle``;
    closed on exit."""
    settings = hyperliquid_settings(handle, agent=agent, timeout_ms=timeout_ms)
    exchange = CcxtPerpExchange(settings, clock)
    await exchange.start()
    try:
        yield exchange
    finally:
        await exchange.close()
