"""A Hyperliquid emulator over the simulated venue: ``/info`` and ``/exchange`` for the
unmodified ccxt ``hyperliquid`` client, with the venue's signature checks and rules."""

from bot.exchange.emulators.clock import OffsetClock
from bot.exchange.emulators.hyperliquid.accounts import CCXT_BUILDER, AccountRegistry
from bot.exchange.emulators.hyperliquid.faults import HyperliquidFaults
from bot.exchange.emulators.hyperliquid.serve import (
    HyperliquidHandle,
    add_hyperliquid_dialect,
    serve_hyperliquid,
    start_hyperliquid_emulator,
)
from bot.exchange.emulators.hyperliquid.server import HyperliquidEmulator, hyperliquid_venue_params

__all__ = [
    "CCXT_BUILDER",
    "AccountRegistry",
    "HyperliquidEmulator",
    "HyperliquidFaults",
    "HyperliquidHandle",
    "OffsetClock",
    "add_hyperliquid_dialect",
    "hyperliquid_venue_params",
    "serve_hyperliquid",
    "start_hyperliquid_emulator",
]
