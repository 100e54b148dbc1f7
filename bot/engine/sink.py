"""The engine's one event fan-out: each typed event is logged, published and recorded once.

:class:`EventFanOut` implements :class:`bot.ports.EventSink`. An event goes, in the same tick,
to the log (one line, the event's name), to the telemetry adapter (MQTT, metrics, dashboard,
notifier, through ``EngineTelemetry``, as the typed event itself) and, for what operators read
back later (alerts, range changes, trading-state changes), to a buffer the engine writes to
the store within the tick's transaction (:meth:`EventFanOut.record`, then
:meth:`EventFanOut.recorded` once it committed). Fills and funding payments have their own
tables: the account step stores them and emits their events after the commit, so the store,
the log and MQTT see each exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import structlog

from bot.events import (
    Alert,
    Event,
    FillEvent,
    FundingEvent,
    OrderEvent,
    PositionMoved,
    RangeChange,
    TickFailed,
    TickState,
    TradingStateChanged,
)
from bot.ports import Clock, Store

__all__ = ["CommandSource", "EngineTelemetry", "EventFanOut", "NullTelemetry"]

log = structlog.get_logger("hedgebot.engine")


class EngineTelemetry(Protocol):
    """What the engine publishes; the MQTT adapter (``TelemetryBridge``) and the null sink
    implement it. Both calls take the engine's typed values; the adapter builds the wire
    payloads once (``bot.telemetry.wire``) and never raises into the tick."""

    def publish_state(self, state: TickState) -> None:
        """Latest state (retained); only the newest is kept when the broker is down."""
        ...

    def publish_event(self, event: Event) -> None:
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

    def publish_state(self, state: TickState) -> None:
        """Drop the state."""

    def publish_event(self, event: Event) -> None:
        """Drop the event."""

    def observe_tick(self, latency_s: float, *, ok: bool, skipped_blocks: int = 0) -> None:
        """Drop the figures."""


# the events operators read back from the store's ``events`` table
_RECORDED = (Alert, RangeChange, TradingStateChanged, PositionMoved)
MAX_UNRECORDED = 10_000  # events waiting for the store (it is down): the oldest go first
MAX_ALERT_NAMES = 1_000  # the engine's stats.alerts: the newest alert names


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
        self.dropped_unrecorded = 0  # events never stored: the buffer was full (store down)
        self._dropping = False

    def emit(self, event: Event) -> None:
        """Log, publish and (for operators' history) buffer ``event`` for the store."""
        if isinstance(event, Alert):
            self._alerts.append(event.name)
            if len(self._alerts) > MAX_ALERT_NAMES:
                del self._alerts[: len(self._alerts) - MAX_ALERT_NAMES]
        _log_line(event)
        self._telemetry().publish_event(event)
        if isinstance(event, _RECORDED):
            if len(self._unrecorded) >= MAX_UNRECORDED:
                self._drop_oldest()
            self._unrecorded.append((self._clock.now(), event.kind, event.data()))

    def _drop_oldest(self) -> None:
        """The buffer is full (the store has been down for a long time): the oldest event
        goes unrecorded (it was logged and published when it happened); counted, and logged
        once per outage."""
        del self._unrecorded[0]
        self.dropped_unrecorded += 1
        if not self._dropping:
            self._dropping = True
            log.warning("events.unrecorded_dropped", buffered=MAX_UNRECORDED)

    async def record(self, store: Store) -> int:
        """Write the buffered events (in the caller's transaction); how many were written.
        They stay buffered until :meth:`recorded` says the transaction committed."""
        for ts, kind, body in self._unrecorded:
            await store.record_event(ts, kind, body)
        return len(self._unrecorded)

    def recorded(self, count: int) -> None:
        """The first ``count`` buffered events are committed: forget them."""
        del self._unrecorded[:count]
        self._dropping = False  # the store writes again: a later overflow is logged anew

    async def flush(self, store: Store) -> None:
        """Write the buffered events in one transaction (``StoreError`` propagates and keeps
        them all buffered)."""
        if not self._unrecorded:
            return
        async with store.transaction():
            count = await self.record(store)
        self.recorded(count)


def _log_line(event: Event) -> None:
    """The one log line of an event (none for a decision: ``tick.completed`` says it)."""
    if isinstance(event, Alert):
        if event.logged:
            log.warning(event.name, **dict(event.context))
    elif isinstance(event, RangeChange):
        log.warning(event.name, **event.data())
    elif isinstance(event, PositionMoved):
        log.warning(event.kind, **event.data())
    elif isinstance(event, TradingStateChanged):
        log.info("trading_state.changed", **event.data())
    elif isinstance(event, OrderEvent):
        fields = {k: v for k, v in event.data().items() if k != "fee_quote"}
        log.info("order.completed", **fields)
    elif isinstance(event, FillEvent):
        log.info("fill.recorded", **event.data())
    elif isinstance(event, FundingEvent):
        data = event.data()
        del data["timestamp"]
        log.info("funding.settled", **data)
    elif isinstance(event, TickFailed) and event.logged:
        log.warning("tick.failed", **event.data())
