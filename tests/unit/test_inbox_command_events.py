"""Every ``command`` event names the command and its id (issue 17.4): accepted and applied,
refused by the engine, and refused by the inbox before the engine (unsigned, stale, schema,
retained, queue full)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.telemetry.auth import OperatorKey
from bot.telemetry.commands import CommandValidator
from bot.telemetry.inbox import CommandInbox, command_name
from bot.telemetry.messages import EventMessage
from bot.telemetry.settings import Topics

pytestmark = pytest.mark.unit

KEY = OperatorKey("unit-test-operator-key-0123456789abcdef")
NOW = 1_700_000_000
TOPICS = Topics("hedgebot/bot1")


def _inbox(events: list[EventMessage], queue_size: int = 4) -> CommandInbox:
    clock = ManualClock(float(NOW))
    validator = CommandValidator(operator_key=KEY, clock=clock)
    return CommandInbox(
        TOPICS,
        validator,
        queue_size=queue_size,
        clock=clock,
        publish_event=events.append,
        wake=lambda: None,
    )


def _signed(body: dict[str, Any]) -> bytes:
    return json.dumps(KEY.signed(TOPICS.cmd, body)).encode()


def _only(events: list[EventMessage]) -> dict[str, Any]:
    assert len(events) == 1, events
    assert events[0].type == "command"
    return events[0].data


async def test_applied_and_engine_refused_commands_are_named() -> None:
    """The engine's ok and its refusal each publish an event with the command's name."""
    events: list[EventMessage] = []
    inbox = _inbox(events)
    await inbox.receive(_signed({"id": "p-1", "command": "pause", "ts": NOW}), retained=False)
    await inbox.receive(
        _signed({"id": "r-1", "command": "rebalance_now", "ts": NOW}), retained=False
    )
    assert events == []  # queued: the engine answers
    await inbox.ack("p-1", True)
    await inbox.ack("r-1", False, "trading is paused: resume first")
    assert [(e.data["id"], e.data["command"], e.data["status"]) for e in events] == [
        ("p-1", "pause", "ok"),
        ("r-1", "rebalance_now", "rejected"),
    ]
    assert events[1].data["reason"] == "trading is paused: resume first"


@pytest.mark.parametrize(
    ("payload", "command", "reason_part"),
    [
        (json.dumps({"id": "u-1", "command": "pause"}).encode(), "pause", "unsigned"),
        (_signed({"id": "s-1", "command": "resume", "ts": NOW - 3600}), "resume", "stale"),
        (
            _signed({"id": "v-1", "command": "set_hedge_ratio", "ts": NOW, "params": {}}),
            "set_hedge_ratio",
            "value",
        ),
        (_signed({"id": "x-1", "command": "launch_rockets", "ts": NOW}), "launch_rockets", ""),
    ],
)
async def test_inbox_refusals_name_the_command(
    payload: bytes, command: str, reason_part: str
) -> None:
    """A command refused before the engine still names itself in the event (and its id)."""
    events: list[EventMessage] = []
    await _inbox(events).receive(payload, retained=False)
    data = _only(events)
    assert data["command"] == command
    assert data["id"] == json.loads(payload)["id"]
    assert data["status"] == "rejected"
    assert reason_part in data["reason"]


async def test_retained_and_queue_full_refusals_name_the_command() -> None:
    """A retained command and one that finds the queue full are named too."""
    events: list[EventMessage] = []
    inbox = _inbox(events, queue_size=1)
    await inbox.receive(_signed({"id": "k-1", "command": "flatten", "ts": NOW}), retained=True)
    assert _only(events)["command"] == "flatten"
    events.clear()
    await inbox.receive(_signed({"id": "q-1", "command": "pause", "ts": NOW}), retained=False)
    await inbox.receive(_signed({"id": "q-2", "command": "resume", "ts": NOW}), retained=False)
    data = _only(events)
    assert (data["id"], data["command"], data["status"]) == ("q-2", "resume", "rejected")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"not json", None),
        (b"[1,2]", None),
        (b'{"command": 7}', None),
        (b'{"command": "\\u001b[2Jpause"}', "\\x1b[2Jpause"),
        (json.dumps({"command": "x" * 100}).encode(), "x" * 31 + "…"),
        (b"[" * 100_000, None),
    ],
)
def test_command_name_is_bounded_and_never_raises(payload: bytes, expected: str | None) -> None:
    """Whatever a message holds, the name is escaped, at most 32 characters, or None."""
    assert command_name(payload) == expected
