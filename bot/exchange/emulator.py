"""Old import path of the Binance USD-M emulator, kept while callers move to
``bot.exchange.emulators.binance_usdm`` (and ``bot.exchange.emulators.cli`` for the
``hedgebot emulator`` command). New code imports from there."""

from bot.exchange.emulators.binance_usdm import (
    BinanceError,
    BinanceFuturesEmulator,
    EmulatorFaults,
    EmulatorHandle,
    HostileAnswer,
    RequestFailure,
    ccxt_urls,
    start_emulator,
)
from bot.exchange.emulators.cli import add_subcommand, run_emulator_command

__all__ = [
    "BinanceError",
    "BinanceFuturesEmulator",
    "EmulatorFaults",
    "EmulatorHandle",
    "HostileAnswer",
    "RequestFailure",
    "add_subcommand",
    "ccxt_urls",
    "run_emulator_command",
    "start_emulator",
]
