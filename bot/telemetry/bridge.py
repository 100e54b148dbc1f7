"""Adapts the engine's ``EngineTelemetry`` calls (typed values) to MQTT, Prometheus, the
dashboard feed and the notifier.

The engine hands over a :class:`bot.events.TickState` per tick and the frozen events of
:mod:`bot.events`; here each becomes its typed, versioned payload once
(:mod:`bot.telemetry.wire`) and every consumer reads that payload. A value that does not fit
the contract is logged and dropped: telemetry never raises into the tick.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING

import structlog
from pydantic import ValidationError

from bot.clock import WallClock
from bot.events import Event, TickState
from bot.ports import Clock
from bot.telemetry.messages import EventMessage, StateMessage
from bot.telemetry.metrics import Metrics
from bot.telemetry.mqtt import MqttTelemetry
from bot.telemetry.wire import UnknownEventType, event_message, state_message

if TYPE_CHECKING:
    from bot.telemetry.dashboard.feed import DashboardFeed
    from bot.telemetry.notify import Notifier

_log = structlog.get_logger("hedgebot.telemetry.bridge")
_HOST = socket.gethostname()
_ERROR_SOURCES = ("chain", "exchange", "broker")


class TelemetryBridge:
    """Implements ``bot.engine.EngineTelemetry`` over an MQTT publisher and/or metrics."""

    def __init__(
        self,
        mqtt: MqttTelemetry | None = None,
        metrics: Metrics | None = None,
        clock: Clock | None = None,
        feed: DashboardFeed | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.mqtt = mqtt
        self.metrics = metrics
        self.feed = feed  # the dashboard's live pages
        self.notifier = notifier  # alerts to people (apprise)
        self._clock: Clock = clock if clock is not None else WallClock()
        self.invalid_payloads = 0

    def publish_state(self, state: TickState) -> None:
        """The tick's state as the ``state`` message, stamped (wall-clock ``published_at``,
        ``host``, ``pid``), published retained; gauges, dashboard and summary updated."""
        try:
            message = state_message(
                state, published_at=self._clock.now(), host=_HOST, pid=os.getpid()
            )
        except ValidationError as exc:
            self.invalid_payloads += 1
            _log.error("telemetry.invalid_state", errors=exc.errors(include_url=False))
            return
        self.deliver_state(message)

    def deliver_state(self, message: StateMessage) -> None:
        """Hand a built ``state`` message to every consumer."""
        if self.mqtt is not None:
            self.mqtt.publish_state(message)
        if self.metrics is not None:
            self.metrics.observe_state(message)
        if self.feed is not None:
            self.feed.publish_state(message)
        if self.notifier is not None:
            self.notifier.publish_state(message)

    def publish_event(self, event: Event) -> None:
        """One event as an ``events`` message with its stable ``type``; a kind outside the
        contract is logged and dropped."""
        try:
            message = event_message(event, self._clock.now())
        except (UnknownEventType, ValidationError) as exc:
            self.invalid_payloads += 1
            _log.error("telemetry.unknown_event_type", type=event.kind, error=str(exc)[:200])
            return
        self.deliver_event(message)

    def deliver_event(self, message: EventMessage) -> None:
        """Hand a built ``events`` message to every consumer (errors and orders counted)."""
        data = message.data
        if self.metrics is not None and message.type == "error":
            source = data.get("source")
            if source in _ERROR_SOURCES:
                self.metrics.observe_error(source)
        if self.metrics is not None and message.type == "order":
            self.metrics.observe_order(str(data.get("status", "unknown")))
        if self.notifier is not None:
            self.notifier.publish_event(message)  # O(1): queued, sent by its own tasks
        if self.mqtt is not None:
            self.mqtt.publish_event(message)
        if self.feed is not None:
            self.feed.publish_event(message)

    def observe_tick(self, latency_s: float, *, ok: bool, skipped_blocks: int = 0) -> None:
        """Tick latency histogram, tick counter and superseded blocks."""
        if self.metrics is None:
            return
        self.metrics.observe_tick(latency_s, ok=ok)
        if skipped_blocks:
            self.metrics.observe_skipped_blocks(skipped_blocks)
