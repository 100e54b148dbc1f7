"""The intent transition table: every allowed move works, every other one is a loud bug."""

from __future__ import annotations

from decimal import Decimal
from itertools import product

import pytest

from bot.domain import Order, OrderIntent, OrderStatus, Side
from bot.exchange.intent_tracker import (
    PENDING_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    IllegalTransition,
    IntentState,
    IntentTracker,
    stored_status,
)

pytestmark = pytest.mark.unit


def intent(cid: str = "hb-00000000-1-1") -> OrderIntent:
    return OrderIntent(cid, "ETH/USDT:USDT", Side.SELL, Decimal("0.5"), False, None)


def order(cid: str, status: OrderStatus) -> Order:
    return Order(cid, "1", "ETH/USDT:USDT", Side.SELL, Decimal("0.5"), Decimal("0.5"),
                 Decimal(2000), status, False)  # fmt: skip


@pytest.mark.parametrize(("start", "end"), list(product(IntentState, IntentState)))
def test_only_table_transitions_are_applied(start: IntentState, end: IntentState) -> None:
    """A move in TRANSITIONS is applied; any other raises IllegalTransition and leaves the
    intent where it was."""
    tracker = IntentTracker()
    tracker.track(intent(), 1, start)
    if end in TRANSITIONS[start]:
        moved = tracker.apply(intent().client_order_id, end)
        assert moved.state is end
        assert (tracker.get(intent().client_order_id) is None) == (end in TERMINAL_STATES)
    else:
        with pytest.raises(IllegalTransition, match=f"{start.value} -> {end.value}"):
            tracker.apply(intent().client_order_id, end)
        assert tracker.get(intent().client_order_id) is not None
        assert tracker.get(intent().client_order_id).state is start  # type: ignore[union-attr]


def test_every_state_is_pending_terminal_or_before_sending() -> None:
    """Each state is exactly one of: not yet sent, pending, terminal; terminal states have
    no way out, and every other state can reach a terminal one."""
    before = {IntentState.INTENT, IntentState.SUBMITTED}
    for state in IntentState:
        assert [state in before, state in PENDING_STATES, state in TERMINAL_STATES].count(True) == 1
    for state in TERMINAL_STATES:
        assert TRANSITIONS[state] == frozenset()
    for state in set(IntentState) - TERMINAL_STATES:
        assert TRANSITIONS[state] & TERMINAL_STATES


def test_unknown_resolves_to_found_or_not_placed_never_back_to_sending() -> None:
    """An unknown outcome is found (any venue state) or confirmed absent; it is never sent
    again (no way back to INTENT or SUBMITTED)."""
    assert IntentState.NOT_PLACED in TRANSITIONS[IntentState.UNKNOWN]
    assert IntentState.FILLED in TRANSITIONS[IntentState.UNKNOWN]
    assert not TRANSITIONS[IntentState.UNKNOWN] & {IntentState.INTENT, IntentState.SUBMITTED}
    assert stored_status(IntentState.NOT_PLACED) is OrderStatus.REJECTED
    assert stored_status(IntentState.SUBMITTED) is OrderStatus.NEW  # looked up after a crash


def test_tracking_twice_or_an_order_of_another_id_is_a_bug() -> None:
    """One client id is tracked once; an order is applied only to its own intent."""
    tracker = IntentTracker()
    tracker.track(intent("a"), 1, IntentState.INTENT)
    with pytest.raises(IllegalTransition, match="already tracked"):
        tracker.track(intent("a"), 1, IntentState.INTENT)
    tracker.apply("a", IntentState.SUBMITTED)
    with pytest.raises(IllegalTransition, match="order b applied to intent a"):
        tracker.apply("a", IntentState.FILLED, order("b", OrderStatus.FILLED))
    with pytest.raises(IllegalTransition, match="not tracked"):
        tracker.apply("zzz", IntentState.SUBMITTED)
