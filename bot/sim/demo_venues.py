"""The demo's perp venue: paper and the Binance emulator come from the local world
(``LocalWorld.open_exchange``); ``hyperliquid`` is the real ccxt ``hyperliquid`` client
against the Hyperliquid emulator over HTTP, signed by an approved agent wallet.

The Hyperliquid venue keeps Hyperliquid's economics (``hyperliquid_venue_params``: 4.5 bp
taker, hourly funding, 0.0001 ETH step, $10 minimum) with the demo config's starting balance,
leverage and margin mode; the hedge symbol is ``ETH/USDC:USDC``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Literal

from eth_account import Account

from bot.clock import ManualClock
from bot.config import Settings
from bot.ports import PerpExchange
from bot.sim.localnet import LocalWorld

__all__ = [
    "DEMO_HL_AGENT_KEY",
    "DEMO_HL_MASTER_KEY",
    "HL_DEMO_SYMBOL",
    "DemoVenue",
    "open_demo_exchange",
]

DemoVenue = Literal["paper", "emulator", "hyperliquid"]
HL_DEMO_SYMBOL = "ETH/USDC:USDC"
# local throwaway keys of the demo's emulated account and its API (agent) wallet
DEMO_HL_MASTER_KEY = "0x" + "d1" * 32
DEMO_HL_AGENT_KEY = "0x" + "d2" * 32


def demo_settings(settings: Settings, venue: DemoVenue) -> Settings:
    """``settings`` with the hedge symbol of ``venue`` (Hyperliquid margins ETH in USDC)."""
    if venue != "hyperliquid":
        return settings
    exchange = settings.exchange.model_copy(update={"symbol": HL_DEMO_SYMBOL})
    return settings.model_copy(update={"exchange": exchange})


async def open_demo_exchange(
    stack: AsyncExitStack,
    venue: DemoVenue,
    world: LocalWorld,
    settings: Settings,
    clock: ManualClock,
    workdir: Path,
) -> tuple[PerpExchange, Callable[[Decimal], None]]:
    """The demo's venue (closed with ``stack``) and a setter that moves its mark."""
    if venue != "hyperliquid":
        return await world.open_exchange(stack, venue, settings, clock, workdir)
    from bot.exchange.ccxt import CcxtPerpExchange, CcxtPerpSettings
    from bot.exchange.emulators.hyperliquid import (
        hyperliquid_venue_params,
        start_hyperliquid_emulator,
    )

    master, agent = Account.from_key(DEMO_HL_MASTER_KEY), Account.from_key(DEMO_HL_AGENT_KEY)
    params = replace(
        hyperliquid_venue_params(),
        initial_balance=settings.exchange.paper.initial_balance,
        leverage=settings.exchange.leverage,
        margin_mode=settings.exchange.margin_mode,
    )
    handle = await start_hyperliquid_emulator(
        "127.0.0.1", 0, master.address, clock, agents=[agent.address], venue_params=params
    )
    stack.push_async_callback(handle.close)
    ccxt_settings = CcxtPerpSettings(
        exchange_id="hyperliquid",
        symbol=HL_DEMO_SYMBOL,
        wallet_address=master.address,
        api_secret=DEMO_HL_AGENT_KEY,
        sandbox=True,
        leverage=settings.exchange.leverage,
        margin_mode=settings.exchange.margin_mode,
        urls=handle.ccxt_urls(),
        enable_rate_limit=False,  # loopback: ccxt's 50 ms spacing would only add latency
    )
    return CcxtPerpExchange(ccxt_settings, clock), handle.set_mark
