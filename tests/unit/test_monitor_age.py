"""The monitor's age is from the bot's own clock and its command events name the command."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from bot.telemetry.monitor import MonitorView

pytestmark = pytest.mark.unit

PREFIX = "hedgebot"
NOW = 1_800_000_000.0


def _frame(view: MonitorView) -> str:
    console = Console(file=io.StringIO(), record=True, width=80)
    console.print(view.render(NOW))
    return console.export_text()


def _state(timestamp: int, published_at: float) -> bytes:
    return json.dumps(
        {
            "bot_id": "sim",
            "block": 42,
            "timestamp": timestamp,
            "price": "2000",
            "delta_base": "75.038024498546075665",
            "target_base": "-75.038",
            "hedge_base": "-75.038",
            "drift_base": "0E-18",
            "band_base": "0.75",
            "published_at": published_at,
        }
    ).encode()


def test_age_is_since_published_not_since_the_simulated_block_time() -> None:
    """A simulated chain 33 h ahead of the wall: age is 4 s (published_at), and the block's
    chain time is shown apart; numbers rounded, no 0E-18, within 80 columns."""
    view = MonitorView(prefix=PREFIX)
    view.apply(f"{PREFIX}/sim/state", _state(int(NOW) + 33 * 3600, NOW - 4), NOW)
    row = next(line for line in _frame(view).splitlines() if line.startswith("sim"))
    cells = row.split()
    assert cells[2:5] == ["42", "17:00", "4s"]
    assert cells[5] == "75.0380"
    assert cells[7] == "0.0000"
    assert "E-" not in row
    assert max(len(line) for line in _frame(view).splitlines()) <= 80


def test_command_event_names_the_command_seen_on_the_cmd_topic() -> None:
    """The ack event of a command shows ``command pause``; an unseen id shows ``command``."""
    view = MonitorView(prefix=PREFIX)
    command = {"id": "c-1", "command": "pause", "params": {}, "ts": NOW, "sig": "00"}
    view.apply(f"{PREFIX}/sim/cmd", json.dumps(command).encode(), NOW)
    for command_id in ("c-1", "c-2"):
        event = {"type": "command", "ts": NOW, "data": {"id": command_id, "status": "ok"}}
        view.apply(f"{PREFIX}/sim/events", json.dumps(event).encode(), NOW)
    types = [view.event_type(event) for _, event in view.events]
    assert types == ["command pause", "command"]
    assert "command pause" in _frame(view)
