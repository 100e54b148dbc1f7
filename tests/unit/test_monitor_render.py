"""The monitor renders peer data as text, whatever a peer publishes (issue 12.10)."""

from __future__ import annotations

import io
import json
import time

import pytest
from rich.console import Console

from bot.telemetry.monitor import MonitorView

pytestmark = pytest.mark.unit

PREFIX = "hedgebot"


def _render(view: MonitorView) -> str:
    console = Console(file=io.StringIO(), record=True, width=240)
    console.print(view.render(time.time()))
    return console.export_text()


def _state(**overrides: object) -> bytes:
    state: dict[str, object] = {
        "bot_id": "b",
        "block": 7,
        "timestamp": int(time.time()),
        "price": "2000",
        "delta_base": "1.25",
        "target_base": "-1.25",
        "hedge_base": "-1.2",
        "drift_base": "0.05",
        "band_base": "0.1",
    }
    state.update(overrides)
    return json.dumps(state).encode()


def test_markup_in_a_command_id_is_shown_literally() -> None:
    """A command event whose id is ``[/evil]`` renders, showing ``[/evil]`` (it froze before)."""
    view = MonitorView(prefix=PREFIX)
    event = {"type": "command", "ts": time.time(), "data": {"id": "[/evil]", "status": "ok"}}
    view.apply(f"{PREFIX}/bot1/events", json.dumps(event).encode(), time.time())
    text = _render(view)
    assert '"id":"[/evil]"' in text


def test_markup_in_a_bot_id_and_status_is_shown_literally() -> None:
    """Bot ids come from topics and statuses from payloads: both are text, not markup."""
    view = MonitorView(prefix=PREFIX)
    view.apply(f"{PREFIX}/[evil]/status", b"[bold red]online[/]", time.time())
    view.apply(f"{PREFIX}/[link=x]b/state", _state(bot_id="[link=x]b"), time.time())
    text = _render(view)
    assert "[evil]" in text
    assert "[bold red]online[/]" in text
    assert "[link=x]b" in text


def test_hostile_numbers_and_timestamps_still_render() -> None:
    """Huge values and impossible timestamps render as text, not as a failure: each value
    beyond 1e18 is shown as ``?`` (never its digits, never an exponent) and named with its
    reason below the table."""
    view = MonitorView(prefix=PREFIX)
    view.apply(
        f"{PREFIX}/big/state",
        _state(
            bot_id="big",
            block=10**40,
            timestamp=10**30,
            delta_base="1e999999999",
            hedge_base="-1e20",
        ),
        time.time(),
    )
    event = {"type": "alert", "ts": 1e300, "data": {"msg": "\u001b[2J"}}
    view.apply(f"{PREFIX}/big/events", json.dumps(event).encode(), time.time())
    text = _render(view)
    row = next(line for line in text.splitlines() if line.startswith("big "))
    # block, time, delta and hedge: not believed, so "?"; drift and net PnL are plausible
    assert row.split()[2:8] == ["?", "?", "?", "?", "?", "0.0500"]
    assert (
        "big: implausible state: block: beyond ±1e18; timestamp: beyond ±1e18; "
        "delta_base: beyond ±1e18 (+1 more)"
    ) in text
    assert "e+" not in text
    assert "E+" not in text
    assert "9999" not in text


def test_oversized_payload_is_refused_not_parsed() -> None:
    """A message larger than any state is noted as a problem and not parsed."""
    view = MonitorView(prefix=PREFIX)
    view.apply(f"{PREFIX}/b/state", b"{" + b" " * (2 * 1024 * 1024) + b"}", time.time())
    assert view.bots["b"].problem == "bad state payload: 2097154 bytes"
    assert "bad state payload" in _render(view)


def test_margin_is_a_percentage_like_status() -> None:
    """The margin column says ``2.49 %`` (status's units), not the raw ratio ``0.025``."""
    view = MonitorView(prefix=PREFIX)
    view.apply(f"{PREFIX}/m/state", _state(bot_id="m", margin_ratio="0.0249"), time.time())
    text = _render(view)
    assert "2.49 %" in text
    assert "0.025" not in text
