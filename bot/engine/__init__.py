"""The engine: the hedge loop of one bot (``loop``) and its tick (``tick``).

A tick is read -> plan -> act -> account -> publish: :mod:`bot.engine.reads` does every I/O
of the read step, :func:`bot.core.plan.plan_tick` is the pure plan, :mod:`bot.engine.tick`
places, accounts and publishes, :mod:`bot.engine.sink` is the one event fan-out, and
:mod:`bot.engine.loop` runs ticks on new heads and applies commands between them.
"""

from bot.core.plan import HedgeSettings, slippage_cap
from bot.crashpoints import CRASH_ENV, crash_point
from bot.engine.loop import ChainFinding, CheckedAtStart, Engine
from bot.engine.report import EngineStats, TickReport
from bot.engine.sink import CommandSource, EngineTelemetry, EventFanOut, NullTelemetry
from bot.engine.tick import TICK_FAULTS

__all__ = [
    "CRASH_ENV",
    "TICK_FAULTS",
    "ChainFinding",
    "CheckedAtStart",
    "CommandSource",
    "Engine",
    "EngineStats",
    "EngineTelemetry",
    "EventFanOut",
    "HedgeSettings",
    "NullTelemetry",
    "TickReport",
    "crash_point",
    "slippage_cap",
]
