"""Adapts the engine's ``EngineTelemetry`` calls (plain dicts) to MQTT and Prometheus.

The engine hands over dicts; here they become the typed, versioned payloads of
``messages.py``. A payload that does not validate is logged and dropped: telemetry never
raises into the tick.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any, get_args

import structlog
from pydantic import ValidationError

from bot.clock import WallClock
from bot.ports import Clock
from bot.telemetry.messages import EventMessage, EventType, StateMessage
from bot.telemetry.metrics import Metrics
from bot.telemetry.mqtt import MqttTelemetry

if TYPE_CHECKING:
    from bot.telemetry.dashboard.feed import DashboardFeed
    from bot.telemetry.notify import Notifier

_log = structlog.get_logger("hedgebot.telemetry.bridge")
_EVENT_TYPES: frozenset[str] = frozenset(get_args(EventType))
_HOST = socket.gethostname()


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

    def publish_state(self, state: dict[str, Any]) -> None:
        """Validate the engine's state dict, stamp it (wall-clock ``published_at``, ``host``,
        ``pid``), publish it retained and update the gauges."""
        stamped = {**state, "published_at": self._clock.now(), "host": _HOST, "pid": os.getpid()}
        try:
            message = StateMessage.model_validate(stamped)
        except ValidationError as exc:
            self.invalid_payloads += 1
            _log.error("telemetry.invalid_state", errors=exc.errors(include_url=False))
            return
        if self.mqtt is not None:
            self.mqtt.publish_state(message)
        if self.metrics is not None:
            self.metrics.observe_state(message)
        if self.feed is not None:
            self.feed.publish_state(message)
        if self.notifier is not None:
            self.notifier.observe_state(state)

    def publish_event(self, event_type: str, data: dict[str, Any]) -> None:
        """Publish one event with a stable ``type``; unknown types are logged and dropped."""
        if event_type not in _EVENT_TYPES:
            self.invalid_payloads += 1
            _log.error("telemetry.unknown_event_type", type=event_type)
            return
        if self.metrics is not None and event_type == "error":
            source = data.get("source")
            if source in ("chain", "exchange", "broker"):
                self.metrics.observe_error(source)
        if self.metrics is not None and event_type == "order":
            self.metrics.observe_order(str(data.get("status", "unknown")))
        if self.notifier is not None:
            self.notifier.submit(event_type, data)  # O(1): queued, sent by its own tasks
        if self.mqtt is None and self.feed is None:
            return
        event = EventMessage.model_validate(
            {"type": event_type, "ts": self._clock.now(), "data": data}
        )
        if self.mqtt is not None:
            self.mqtt.publish_event(event)
        if self.feed is not None:
            self.feed.publish_event(event)

    def observe_tick(self, latency_s: float, *, ok: bool, skipped_blocks: int = 0) -> None:
        """Tick latency histogram, tick counter and superseded blocks."""
        if self.metrics is None:
            return
        self.metrics.observe_tick(latency_s, ok=ok)
        if skipped_blocks:
            self.metrics.observe_skipped_blocks(skipped_blocks)
