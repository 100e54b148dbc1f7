"""The bot page's event log: every stored or live type has a filter, commands are shown, and
an event both stored and in the live tail is shown once (issue 18 review)."""

from __future__ import annotations

import pytest

from bot.telemetry.dashboard.history import EVENT_KINDS, SAME_EVENT_S, event_log, kind_of
from bot.telemetry.messages import EventType

pytestmark = pytest.mark.unit

ALERT = {"alert": "margin.warn", "ratio": "0.4"}


def test_an_alert_stored_and_in_the_live_tail_is_shown_once() -> None:
    """The store's row and the live copy (stamped by another clock read) are one row."""
    recorded = [{"ts": 100.0, "type": "alert", **ALERT}]
    live = [{"ts": 100.004, "type": "alert", "data": dict(ALERT)}]
    log = event_log(recorded, live)
    assert [(row["type"], row["ts"]) for row in log] == [("alert", 100.0)]


def test_two_real_alerts_alike_both_stay() -> None:
    """Alerts with equal data far apart are two events; a live one not stored yet stays."""
    recorded = [{"ts": 100.0, "type": "alert", **ALERT}]
    live = [
        {"ts": 100.0, "type": "alert", "data": dict(ALERT)},
        {"ts": 100.0 + SAME_EVENT_S + 600, "type": "alert", "data": dict(ALERT)},
    ]
    assert [row["ts"] for row in event_log(recorded, live)] == [100.0 + SAME_EVENT_S + 600, 100.0]


def test_stored_commands_are_command_rows_and_the_live_copy_is_dropped() -> None:
    """The store's commands table gives ``command`` rows (name, status, reason); the hub's
    live event of the same id is not shown again."""
    commands = [
        {"ts": 50.0, "id": "web-1", "command": "pause", "status": "ok", "params": {}},
        {"ts": 60.0, "id": "m-2", "command": "set_hedge_ratio", "status": "rejected",
         "params": {"value": "9"}, "reason": "too big"},
    ]  # fmt: skip
    live = [{"ts": 61.5, "type": "command", "data": {"id": "m-2", "status": "rejected"}}]
    log = event_log([], live, frozenset({"command"}), commands)
    assert [(row["data"]["command"], row["data"]["status"]) for row in log] == [
        ("set_hedge_ratio", "rejected"),
        ("pause", "ok"),
    ]


def test_every_wire_and_stored_type_has_a_filter() -> None:
    """No event type falls outside every filter (``trading_state`` did)."""
    for event_type in EventType.__args__:  # type: ignore[attr-defined]
        assert kind_of(event_type) in EVENT_KINDS, event_type
    state = [{"ts": 1.0, "type": "trading_state", "previous": "active", "current": "halted",
              "cause": "pause"}]  # fmt: skip
    log = event_log(state, [], frozenset({"trading_state"}))
    assert [row["data"]["cause"] for row in log] == ["pause"]
