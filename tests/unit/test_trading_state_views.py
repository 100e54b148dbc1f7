"""The trading state reaches ``/healthz`` and the monitor (issue 17.1): after a kill-switch
freeze healthz says ``paused: true`` with the state, reasons and tripped guards, and the
monitor's status column says halted / reducing / paused instead of ``online``."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest
from rich.console import Console

from bot.clock import ManualClock
from bot.telemetry.messages import StateMessage
from bot.telemetry.metrics import Metrics
from bot.telemetry.monitor import MonitorView

pytestmark = pytest.mark.unit

PREFIX = "hedgebot"
FREEZE: dict[str, Any] = {
    "trading_state": "halted",
    "trading_reasons": ["kill switch freeze (cli)"],
    "guards_tripped": [
        {"name": "kill_switch_freeze", "since": 1_700_000_000.5, "detail": "operator request"}
    ],
}


def _state(**overrides: Any) -> dict[str, Any]:
    state: dict[str, Any] = {
        "bot_id": "b",
        "block": 7,
        "timestamp": int(time.time()),
        "price": "2000",
        "delta_base": "75.12346",
        "target_base": "-75.12346",
        "hedge_base": "-75.1",
        "drift_base": "0.02345",
        "band_base": "0.75",
        "margin_ratio": "0.0249",
        "pnl": {"net": "-138.55"},
        "published_at": time.time(),
    }
    state.update(overrides)
    return state


def _health_after(state: dict[str, Any]) -> dict[str, Any]:
    metrics = Metrics(max_tick_age_s=60, clock=ManualClock(1000.0))
    metrics.observe_tick(0.1)
    metrics.observe_state(StateMessage.model_validate(state))
    health = metrics.health()
    assert health.ok  # a halted bot is working: healthy, and it says it is not hedging
    return health.body


def test_healthz_after_a_freeze_says_paused_halted_and_why() -> None:
    """healthz after ``kill freeze``: paused true, trading_state halted, reason and guard."""
    body = _health_after(_state(paused=False, **FREEZE))
    assert body["paused"] is True
    assert body["trading_state"] == "halted"
    assert body["trading_reasons"] == ["kill switch freeze (cli)"]
    assert body["guards_tripped"] == [
        {"name": "kill_switch_freeze", "since": 1_700_000_000.5, "detail": "operator request"}
    ]
    assert json.loads(json.dumps(body)) == body  # the JSON the endpoint answers


def test_healthz_active_and_older_bots() -> None:
    """Active is not paused; a state without trading_state (older bot) keeps its own flag."""
    active = _health_after(_state(trading_state="active"))
    assert (active["paused"], active["trading_state"], active["guards_tripped"]) == (
        False,
        "active",
        [],
    )
    older = _health_after(_state(paused=True))
    assert (older["paused"], older["trading_state"]) == (True, None)


def test_trading_state_gauges() -> None:
    """``hedgebot_trading_state`` is 2 when halted, ``hedgebot_paused`` 1, one guard tripped."""
    metrics = Metrics(clock=ManualClock(1000.0))
    metrics.observe_state(StateMessage.model_validate(_state(**FREEZE)))
    text = metrics.exposition().decode()
    assert "hedgebot_trading_state 2.0" in text
    assert "hedgebot_paused 1.0" in text
    assert "hedgebot_guards_tripped 1.0" in text


def _row(state: dict[str, Any], status: bytes = b"online") -> str:
    view = MonitorView(prefix=PREFIX)
    view.apply(f"{PREFIX}/bot-1/status", status, time.time())
    # the state names the bot of its topic (a state under another bot's topic is not believed)
    state = {**state, "bot_id": "bot-1"}
    view.apply(f"{PREFIX}/bot-1/state", json.dumps(state).encode(), time.time())
    console = Console(file=io.StringIO(), record=True, width=80)
    console.print(view.render(time.time()))
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    return next(line for line in text.splitlines() if line.startswith("bot-1"))


@pytest.mark.parametrize(
    ("fields", "shown"),
    [
        (FREEZE, "halted"),
        ({"trading_state": "halted", "trading_reasons": ["paused by operator"]}, "paused"),
        (
            {"trading_state": "halted", "trading_reasons": ["paused by operator", "guard x"]},
            "halted",
        ),
        (
            {"trading_state": "reducing", "trading_reasons": ["kill switch flatten (cli)"]},
            "reducing",
        ),
        ({"trading_state": "active"}, "online"),
        ({"paused": True}, "paused"),  # a bot older than trading_state
    ],
)
def test_monitor_status_column_says_what_may_trade(fields: dict[str, Any], shown: str) -> None:
    """The status cell of an online bot is halted/reducing/paused while not active, and
    every number of the row stays visible in 80 columns."""
    row = _row(_state(**fields)).split()
    assert row[:3] == ["bot-1", shown, "7"]
    assert "75.1235" in row  # delta
    assert "-138.55" in row  # net PnL, not cut


def test_an_offline_bot_stays_offline() -> None:
    """The last state of a bot gone offline does not make it look halted or online."""
    assert _row(_state(**FREEZE), status=b"offline").split()[1] == "offline"
