"""Old import path of the emulator fault switches and admin parsers, kept while callers move
to ``bot.exchange.emulators.admin`` (``admin_number``, ``admin_int``) and
``bot.exchange.emulators.binance_usdm.faults``. New code imports from there."""

from bot.exchange.emulators.admin import admin_int, admin_number
from bot.exchange.emulators.binance_usdm.faults import (
    LEVERAGE_REFUSALS,
    EmulatorFaults,
    HostileAnswer,
    RequestFailure,
    hostile_answer,
    hostile_response,
    request_failure,
)

__all__ = [
    "LEVERAGE_REFUSALS",
    "EmulatorFaults",
    "HostileAnswer",
    "RequestFailure",
    "admin_int",
    "admin_number",
    "hostile_answer",
    "hostile_response",
    "request_failure",
]
