"""The engine's one event fan-out: each typed event is logged, published and recorded once.

:class:`EventFanOut` implements :class:`bot.ports.EventSink`. An event goes, in the same tick,
to the log (one line, the event's name), to the telemetry adapter (MQTT, metrics, dashboard,
notifier, through ``EngineTelemetry``) and, for what operators read back later (alerts, range
changes, trading-state changes), to a buffer the engine writes to the store within the tick
(:meth:`EventFanOut.flush`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import structlog

from bot.events import (
    Alert,
    Event,
    OrderEvent,
    RangeChange,
    TickFailed,
    TradingStateChanged,
)
from bot.ports import Clock, Store

__all__ = ["CommandSource", "EngineTelemetry", "EventFanOut", "NullTelemetry"]

log = structlog.get_logger("hedgebot.engine")


class EngineTelemetry(Protocol):
    """What the engine publishes; the MQTT adapter and the null sink implement it."""

    def publish_state(self, state: dict[str, Any]) -> None:
        """Latest state (retained); only the newest is kept when the broker is down."""
        ...

    def publish_event(self, event_type: str, data: dict[str, Any]) -> None:
        """One event; dropped (and counted) when it cannot be delivered."""
        ...

    def observe_tick(self, latency_s: float, *, ok: bool, skipped_blocks: int = 0) -> None:
        """Tick latency and outcome for metrics."""
        ...


class CommandSource(Protocol):
    """Where operator commands come from (MQTT); the engine applies them between ticks."""

    commands: asyncio.Queue[Any]

    async def ack(self, command_id: str, ok: bool, reason: str | None = None) -> None:
        """Answer a command on ``cmd/ack``."""
        ...


class NullTelemetry:
    """Publishes nothing."""

    def publish_state(self, state: dict[str, Any]) -> None:
        """Drop the state."""

    def publish_event(self, event_type: str, data: dict[str, Any]) -> None:
        """Drop the event."""

    def observe_tick(self, latency_s: float, *, ok: bool, skipped_blocks: int = 0) -> None:
        """Drop the figures."""


class EventFanOut:
    """Log + telemetry + store for every typed event of the engine (an ``EventSink``)."""

    def __init__(
        self,
        telemetry: Callable[[], EngineTelemetry],
        clock: Clock,
        alerts: list[str],
    ) -> None:
        self._telemetry = telemetry  # read at each event: tests swap the engine's telemetry
        self._clock = clock
        self._alerts = alerts  # the engine's stats.alerts
        self._unrecorded: list[tuple[float, str, dict[str, Any]]] = []

    def emit(self, event: Event) -> None:
        """Log, publish and (for operators' history) buffer ``event`` for the store."""
        data = event.data()
        telemetry = self._telemetry()
        if isinstance(event, Alert):
            self._alerts.append(event.name)
            if event.logged:
                log.warning(event.name, **dict(event.context))
            telemetry.publish_event("alert", data)
            self._unrecorded.append((self._clock.now(), "alert", data))
        elif isinstance(event, RangeChange):
            log.warning(event.name, **data)
            telemetry.publish_event(event.name, data)
            self._unrecorded.append((self._clock.now(), event.name, data))
        elif isinstance(event, TradingStateChanged):
            log.info("trading_state.changed", **data)
            telemetry.publish_event("trading_state", data)
            self._unrecorded.append((self._clock.now(), "trading_state", data))
        else:
            self._log_other(event, data)
            telemetry.publish_event(event.wire_type, data)

    @staticmethod
    def _log_other(event: Event, data: dict[str, Any]) -> None:
        if isinstance(event, OrderEvent):
            fields = {k: v for k, v in data.items() if k != "fee_quote"}
            log.info("order.completed", **fields)
        elif isinstance(event, TickFailed) and event.logged:
            log.warning("tick.failed", **data)

    async def flush(self, store: Store) -> None:
        """Write the buffered events to the store (``StoreError`` propagates; the events not
        yet written stay buffered)."""
        while self._unrecorded:
            ts, kind, body = self._unrecorded[0]
            await store.record_event(ts, kind, body)
            self._unrecorded.pop(0)
