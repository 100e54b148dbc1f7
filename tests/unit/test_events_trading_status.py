"""The trading state the state message shows (``trading_status``) and when a guard tripped
(``GuardState.tripped_at``): pure, from the plan of a tick."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest
from test_plan import (
    FLATTEN,
    FREEZE,
    HALTED,
    NOW,
    OFF,
    REDUCING,
    plan,
    reads,
    snapshot,
)

from bot.core.gate import GuardState
from bot.core.killswitch import KillSwitchState
from bot.core.operator import OperatorState, TradingState
from bot.core.plan import TickPlan
from bot.core.trading_status import TradingStatus, TrippedGuard, trading_status
from bot.events import TickState
from bot.telemetry.wire import state_message

pytestmark = pytest.mark.unit

D = Decimal


def status_of(
    hedge: Decimal,
    operator: OperatorState | None = None,
    *,
    kill: KillSwitchState = OFF,
    age_s: float = 12.0,
    guard: GuardState | None = None,
) -> tuple[TradingStatus, TickPlan]:
    r = reads(hedge, snapshot(D(10), age_s=age_s), kill=kill)
    operator = operator or OperatorState()
    p = plan(r, operator, guard)
    return trading_status(operator, kill, p.view, p.breaches, p.guard_state), p


def test_a_hedging_bot_is_active_with_no_reasons() -> None:
    """No operator switch, no kill switch, no guard: active, nothing to explain."""
    status, _ = status_of(D(-10))
    assert status.state is TradingState.ACTIVE
    assert status.reasons == ()
    assert status.guards == ()


def test_operator_pause_and_flatten_are_said_in_words() -> None:
    """A pause halts and a flatten reduces, each with the operator named as the reason."""
    paused, _ = status_of(D(-10), HALTED)
    assert (paused.state, paused.reasons) == (TradingState.HALTED, ("paused by operator",))
    flat, _ = status_of(D(-10), REDUCING)
    assert (flat.state, flat.reasons) == (TradingState.REDUCING, ("flatten by operator",))


def test_kill_switch_names_its_mode_and_source_and_is_a_tripped_guard_since_now() -> None:
    """A freeze halts ("kill switch freeze (cli)"); the rule is listed as tripped at the
    tick's time with the switch's reason; a flatten reduces."""
    frozen, _ = status_of(D(-10), kill=FREEZE)
    assert frozen.state is TradingState.HALTED
    assert frozen.reasons == ("kill switch freeze (cli)",)
    assert frozen.guards == (TrippedGuard("kill_switch_freeze", NOW, "test"),)
    flattening, _ = status_of(D(-10), kill=FLATTEN)
    assert flattening.state is TradingState.REDUCING
    assert flattening.reasons == ("kill switch flatten (cli)",)


def test_the_strictest_wins_and_every_reason_is_kept() -> None:
    """Operator flatten with a kill-switch freeze: halted, both reasons in that order."""
    status, _ = status_of(D(-10), REDUCING, kill=FREEZE)
    assert status.state is TradingState.HALTED
    assert status.reasons == ("flatten by operator", "kill switch freeze (cli)")


def test_a_blocking_data_guard_halts_and_keeps_its_trip_time_across_ticks() -> None:
    """A stale block halts as "guard stale_block", stamped when it tripped; the next tick
    (still stale, later) keeps the first time; once fresh, the guard is gone."""
    status, p = status_of(D(-10), age_s=10_000)
    assert status.state is TradingState.HALTED
    assert "guard stale_block" in status.reasons
    (trip,) = [g for g in status.guards if g.name == "stale_block"]
    assert trip.since == NOW
    assert trip.detail
    again = reads(D(-10), snapshot(D(10), age_s=10_000, block=101))
    later = plan(replace(again, now_s=NOW + 60), guard=p.guard_state)
    assert dict(later.guard_state.tripped_at)["stale_block"] == NOW
    fresh = plan(reads(D(-10), snapshot(D(10), block=102)), guard=later.guard_state)
    assert "stale_block" not in dict(fresh.guard_state.tripped_at)
    assert fresh.guard_state.active == ()


def test_a_guard_restored_without_a_time_shows_since_unknown() -> None:
    """A rule the state holds without a trip time (tripped before a restart) has since None."""
    guard = GuardState(last_block=99, active=(("stale_block", "old"),))
    status, _ = status_of(D(-10), age_s=10_000, guard=guard)
    (trip,) = [g for g in status.guards if g.name == "stale_block"]
    assert trip.since is None


def test_the_state_message_carries_the_trading_status_on_the_wire() -> None:
    """A frozen, paused bot's TickState becomes a state message whose JSON says halted, why,
    and which guard tripped when."""
    status, p = status_of(D(-10), HALTED, kill=FREEZE)
    r = reads(D(-10), snapshot(D(10)), kill=FREEZE)
    tick = TickState(
        bot_id="b1",
        block=100,
        snapshot=snapshot(D(10)),
        quote=r.venue.quote,
        position=r.venue.position,
        decision=p.decision,
        pnl={},
        margin=p.margin,
        paused=True,
        flattening=False,
        trading=status,
    )
    body = json.loads(state_message(tick).to_json())
    assert body["trading_state"] == "halted"
    assert body["trading_reasons"] == ["paused by operator", "kill switch freeze (cli)"]
    assert body["guards_tripped"] == [
        {"name": "kill_switch_freeze", "since": NOW, "detail": "test"}
    ]
    assert body["paused"] is True
