"""The venue's answers against the transition table: every status a venue can report for an
unsettled intent moves it; an answer no venue should give is a domain error, not a bug."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.domain import Order, OrderIntent, OrderStatus, Side
from bot.errors import HedgebotError
from bot.exchange.intent_tracker import (
    TERMINAL_STATES,
    IllegalVenueAnswer,
    IntentState,
    IntentTracker,
    state_of_order,
)

pytestmark = pytest.mark.unit

CID = "hb-00000000-1-1"


def intent() -> OrderIntent:
    return OrderIntent(CID, "ETH/USDT:USDT", Side.SELL, Decimal("0.5"), False, None)


def answer(status: OrderStatus, cid: str = CID) -> Order:
    return Order(cid, "1", "ETH/USDT:USDT", Side.SELL, Decimal("0.5"), Decimal(0), None,
                 status, False)  # fmt: skip


UNSETTLED = (IntentState.SUBMITTED, IntentState.OPEN, IntentState.UNKNOWN)


@pytest.mark.parametrize("start", UNSETTLED)
@pytest.mark.parametrize("status", list(OrderStatus))
def test_every_venue_status_moves_an_unsettled_intent(
    start: IntentState, status: OrderStatus
) -> None:
    """Sent, working or unknown: whatever status the venue reports for the order is applied
    (an accepted order may later be rejected or expire on a real venue)."""
    tracker = IntentTracker()
    tracker.track(intent(), 1, start)
    moved = tracker.apply_answer(CID, answer(status))
    assert moved.state is state_of_order(answer(status))
    assert moved.order == answer(status)
    assert (tracker.get(CID) is None) == (moved.state in TERMINAL_STATES)


def test_open_then_rejected_is_a_settled_rejection() -> None:
    """The case that used to end the daemon: open -> rejected."""
    tracker = IntentTracker()
    tracker.track(intent(), 1, IntentState.OPEN)
    assert tracker.apply_answer(CID, answer(OrderStatus.REJECTED)).state is IntentState.REJECTED
    assert tracker.get(CID) is None


@pytest.mark.parametrize("start", UNSETTLED)
def test_an_order_of_another_client_id_is_an_illegal_answer_and_moves_nothing(
    start: IntentState,
) -> None:
    """A domain error (the engine fails the tick and halts) naming the intent and the answer;
    the intent stays where it was."""
    tracker = IntentTracker()
    tracker.track(intent(), 1, start)
    with pytest.raises(IllegalVenueAnswer) as raised:
        tracker.apply_answer(CID, answer(OrderStatus.FILLED, "someone-else"))
    assert isinstance(raised.value, HedgebotError)
    assert raised.value.client_order_id == CID
    assert raised.value.answer == "filled for order someone-else"
    assert CID in str(raised.value)
    assert tracker.get(CID) is not None
    assert tracker.get(CID).state is start  # type: ignore[union-attr]


def test_a_status_the_table_does_not_allow_from_where_the_intent_is_is_illegal() -> None:
    """Before it was sent an intent has no venue answer: one is illegal, nothing moves."""
    tracker = IntentTracker()
    tracker.track(intent(), 1, IntentState.INTENT)
    with pytest.raises(IllegalVenueAnswer, match="intent -> filled"):
        tracker.apply_answer(CID, answer(OrderStatus.FILLED))
    assert tracker.get(CID).state is IntentState.INTENT  # type: ignore[union-attr]
