"""The trading state's reasons name the cause and the way out, in one place (issue 17):
a halt the bot made (venue refused authentication, an illegal venue answer, a position
mismatch) or a kill switch flatten's pause is not "paused by operator"; MQTT ``state``,
``/healthz``, the monitor and ``status`` all say the same words."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console
from test_plan import plan, reads, snapshot

from bot.clock import ManualClock
from bot.core.killswitch import KillSwitchState
from bot.core.operator import KILL_FLATTEN_CAUSE, OperatorState, TradingState
from bot.core.trading_status import (
    HALT_CAUSE_REASONS,
    last_state_cause,
    operator_reason,
    trading_status,
)
from bot.engine.control import OperatorControl
from bot.engine.sink import EventFanOut, NullTelemetry
from bot.status_trading import trading_summary
from bot.store.sqlite import SqliteStore
from bot.telemetry.monitor import MonitorView

pytestmark = pytest.mark.unit

HALTED = OperatorState(trading_state=TradingState.HALTED)
REDUCING = OperatorState(trading_state=TradingState.REDUCING)
OFF = KillSwitchState()
FLATTEN_FILE = KillSwitchState(mode="flatten", source=None)
FREEZE_CLI = KillSwitchState(mode="freeze", source="cli")
NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("cause", "reason"),
    [
        ("authentication_refused", "venue refused authentication — fix keys, then resume"),
        ("illegal_venue_answer", "illegal venue answer — check the account, then resume"),
        ("position_mismatch", "position mismatch — check the account, then resume"),
        ("venue_liquidation", "liquidated by the venue — check the account, then resume"),
        ("pause", "paused by operator"),
        (None, "paused by operator"),  # a store older than the change events
    ],
)
def test_a_halt_names_its_cause_and_the_way_out(cause: str | None, reason: str) -> None:
    """The same words from the engine's state (``trading_status``) and from the store
    (``trading_summary`` for ``status``)."""
    assert operator_reason(HALTED, OFF, cause) == reason
    assert trading_summary(HALTED, OFF, [], operator_cause=cause) == (
        TradingState.HALTED,
        [reason],
    )


def test_every_halt_cause_of_the_engine_has_its_words() -> None:
    """The causes the engine halts with (engine/halts.py, engine/position_watch.py)."""
    assert set(HALT_CAUSE_REASONS) == {
        "authentication_refused",
        "illegal_venue_answer",
        "position_mismatch",
        "venue_liquidation",
    }
    assert all(" — " in words and "resume" in words for words in HALT_CAUSE_REASONS.values())


def test_a_kill_switch_flatten_pause_says_clear_then_resume() -> None:
    """While the flatten is engaged: the switch named once, with the way out; cleared: the
    pause it left says resume. An operator's flatten and a freeze keep their words."""
    engaged = trading_summary(HALTED, FLATTEN_FILE, [], operator_cause=KILL_FLATTEN_CAUSE)
    assert engaged == (TradingState.HALTED, ["kill switch flatten (file) — clear, then resume"])
    cleared = operator_reason(HALTED, OFF, KILL_FLATTEN_CAUSE)
    assert cleared == "paused after a kill switch flatten — resume to trade"
    assert operator_reason(REDUCING, OFF, "flatten") == "flatten by operator"
    assert operator_reason(OperatorState(), OFF, "resume") is None
    frozen = trading_summary(HALTED, FREEZE_CLI, [], operator_cause="authentication_refused")
    assert frozen[1] == [
        "venue refused authentication — fix keys, then resume",
        "kill switch freeze (cli)",
    ]


def test_the_state_cause_is_the_last_change_of_the_state() -> None:
    """A hedge-ratio change while halted keeps the halt's cause; a resume replaces it."""
    halt = {"previous": "active", "current": "halted", "cause": "position_mismatch"}
    ratio = {"previous": "halted", "current": "halted", "cause": "set_hedge_ratio"}
    resume = {"previous": "halted", "current": "active", "cause": "resume"}
    assert last_state_cause([halt, ratio]) == "position_mismatch"
    assert last_state_cause([halt, ratio, resume]) == "resume"
    assert last_state_cause([ratio]) is None
    assert last_state_cause([]) is None


async def test_the_engine_keeps_and_restores_the_cause_from_the_store(tmp_path: Path) -> None:
    """OperatorControl on a real SQLite store: halted for a refused key, then a ratio
    change; the state's reasons name the key; a new control (a restart) restores the cause
    from the stored changes, and ``status`` (the store's view) says the same."""
    clock = ManualClock(NOW)
    store = await SqliteStore.open(tmp_path / "bot.sqlite")
    try:
        events = EventFanOut(NullTelemetry, clock, [])
        control = OperatorControl(store, events)
        await control.restore()
        await control.set_paused(True, "authentication_refused")
        await control.change(replace(control.state, hedge_ratio=Decimal("0.5")), "set_hedge_ratio")
        await events.flush(store)
        assert control.cause == "authentication_refused"
        tick = plan(reads(Decimal(-10), snapshot(Decimal(10), age_s=12.0)), control.state)
        status = trading_status(
            control.state, OFF, tick.view, tick.breaches, tick.guard_state, cause=control.cause
        )
        restarted = OperatorControl(store, EventFanOut(NullTelemetry, clock, []))
        await restarted.restore()
        stored = last_state_cause(await store.read_events("trading_state"))
    finally:
        await store.close()
    words = "venue refused authentication — fix keys, then resume"
    assert (status.state, status.reasons) == (TradingState.HALTED, (words,))
    assert restarted.state.trading_state is TradingState.HALTED
    assert restarted.cause == "authentication_refused"
    assert trading_summary(restarted.state, OFF, [], operator_cause=stored)[1] == [words]


def test_the_monitor_shows_why_a_bot_is_halted() -> None:
    """The state's reasons below the bots table, escaped; the status cell says halted."""
    state = {
        "bot_id": "b",
        "block": 7,
        "timestamp": int(NOW),
        "price": "2000",
        "delta_base": "1",
        "target_base": "-1",
        "hedge_base": "-1",
        "drift_base": "0",
        "band_base": "0.1",
        "published_at": NOW,
        "trading_state": "halted",
        "trading_reasons": ["venue refused authentication — fix keys, then resume", "[/x]"],
    }
    view = MonitorView(prefix="hedgebot")
    view.apply("hedgebot/b/status", b"online", NOW)
    view.apply("hedgebot/b/state", json.dumps(state).encode(), NOW)
    console = Console(file=io.StringIO(), record=True, width=120)
    console.print(view.render(NOW, 120))
    text = console.export_text()
    assert "b: halted: venue refused authentication — fix keys, then resume; [/x]" in text
    assert next(line for line in text.splitlines() if line.startswith("b ")).split()[1] == (
        "halted"
    )
