"""The engine's event fan-out holds a bounded number of events while the store is down."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from bot.clock import ManualClock
from bot.engine.sink import MAX_ALERT_NAMES, MAX_UNRECORDED, EventFanOut, NullTelemetry
from bot.events import Alert

pytestmark = pytest.mark.unit


def test_unrecorded_events_are_capped_oldest_dropped_counted_and_logged_once() -> None:
    """Past MAX_UNRECORDED waiting events the oldest go, each counted, with one warning per
    outage; once a write commits, a later overflow is warned about again. The alert names the
    engine keeps are capped too, newest kept."""
    alerts: list[str] = []
    sink = EventFanOut(NullTelemetry, ManualClock(0.0), alerts)
    with capture_logs() as logs:
        for n in range(MAX_UNRECORDED + 5):
            sink.emit(Alert.of(f"test.alert_{n}", logged=False))
    assert len(sink._unrecorded) == MAX_UNRECORDED
    assert sink.dropped_unrecorded == 5
    assert sink._unrecorded[0][2]["alert"] == "test.alert_5"  # the five oldest went
    assert [e["event"] for e in logs] == ["events.unrecorded_dropped"]
    assert len(alerts) == MAX_ALERT_NAMES
    assert alerts[-1] == f"test.alert_{MAX_UNRECORDED + 4}"

    sink.recorded(10)  # the store is back: ten committed
    with capture_logs() as logs:
        for n in range(11):
            sink.emit(Alert.of(f"test.again_{n}", logged=False))
    assert sink.dropped_unrecorded == 6
    assert [e["event"] for e in logs] == ["events.unrecorded_dropped"]
