"""Every intent's state, moved only along an explicit transition table.

Hummingbot's ``ClientOrderTracker`` + ``InFlightOrder`` are the model: one tracker owns the
state of every order this bot meant to place and applies every update to it; an update the
table does not allow is never ignored. Unlike Hummingbot's time-nonce ids, our client ids
are deterministic ``(bot, block, seq)``, so a retry after a crash finds the same order
instead of creating a second one.

::

    intent ──> submitted ──> open ─────────> filled | partially_filled | canceled | expired
                   │  │         │                 | rejected   (accepted, then refused)
                   │  │         └──> unknown
                   │  └──> filled | partially_filled | canceled | expired | rejected
                   └──> unknown ──> (found) open | filled | ... | rejected
                                └──> not_placed     (confirmed absent: never re-sent)
    intent ──> rejected        (refused before anything was sent: rate limit, venue down)

The venue may report any of its statuses for an order it has, at any look-up, while the
intent is unsettled (a real venue can accept an order, then reject or expire it): every such
answer is in the table. What is still outside it is an answer no venue should give (an order
under another client id): :meth:`IntentTracker.apply_answer` raises
:class:`IllegalVenueAnswer` for it, a domain error (the engine halts trading and alerts),
while a move the ledger itself makes outside the table raises ``IllegalTransition`` (a bug).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import StrEnum

from bot.domain import Order, OrderIntent, OrderStatus
from bot.errors import HedgebotError

__all__ = [
    "PENDING_STATES",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "IllegalTransition",
    "IllegalVenueAnswer",
    "IntentState",
    "IntentTracker",
    "TrackedIntent",
    "state_of_order",
    "stored_status",
]


class IntentState(StrEnum):
    """Where an intent is in its life (a superset of the venue's ``OrderStatus``)."""

    INTENT = "intent"  # written ahead, not sent yet
    SUBMITTED = "submitted"  # on its way to the venue
    OPEN = "open"  # the venue has it working
    UNKNOWN = "unknown"  # sent, outcome not known: looked up by client id, never re-sent
    FILLED = "filled"
    PARTIALLY_FILLED = "partially_filled"  # IOC: the remainder was cancelled
    CANCELED = "canceled"
    EXPIRED = "expired"  # IOC with nothing filled
    REJECTED = "rejected"  # the venue refused it, or it was never sent
    NOT_PLACED = "not_placed"  # an unknown outcome confirmed absent after the grace period


TERMINAL_STATES = frozenset(
    {
        IntentState.FILLED,
        IntentState.PARTIALLY_FILLED,
        IntentState.CANCELED,
        IntentState.EXPIRED,
        IntentState.REJECTED,
        IntentState.NOT_PLACED,
    }
)
PENDING_STATES = frozenset({IntentState.OPEN, IntentState.UNKNOWN})

_VENUE_FINAL = frozenset(
    {
        IntentState.FILLED,
        IntentState.PARTIALLY_FILLED,
        IntentState.CANCELED,
        IntentState.EXPIRED,
        IntentState.REJECTED,
    }
)

TRANSITIONS: dict[IntentState, frozenset[IntentState]] = {
    IntentState.INTENT: frozenset({IntentState.SUBMITTED, IntentState.REJECTED}),
    IntentState.SUBMITTED: frozenset({IntentState.OPEN, IntentState.UNKNOWN, *_VENUE_FINAL}),
    # an open order looked up again may still be open, or since filled, cancelled, expired or
    # rejected by the venue; one that cannot be looked up is unknown
    IntentState.OPEN: frozenset({IntentState.OPEN, IntentState.UNKNOWN, *_VENUE_FINAL}),
    IntentState.UNKNOWN: frozenset(
        {IntentState.UNKNOWN, IntentState.OPEN, IntentState.NOT_PLACED, *_VENUE_FINAL}
    ),
    **{state: frozenset() for state in TERMINAL_STATES},
}

_FROM_ORDER: dict[OrderStatus, IntentState] = {
    OrderStatus.NEW: IntentState.OPEN,  # accepted, not yet working: still pending
    OrderStatus.OPEN: IntentState.OPEN,
    OrderStatus.FILLED: IntentState.FILLED,
    OrderStatus.PARTIALLY_FILLED: IntentState.PARTIALLY_FILLED,
    OrderStatus.CANCELED: IntentState.CANCELED,
    OrderStatus.REJECTED: IntentState.REJECTED,
    OrderStatus.EXPIRED: IntentState.EXPIRED,
    OrderStatus.UNKNOWN: IntentState.UNKNOWN,
}

_STORED: dict[IntentState, OrderStatus] = {
    IntentState.INTENT: OrderStatus.NEW,
    IntentState.SUBMITTED: OrderStatus.NEW,  # a crash here: looked up at the next start
    IntentState.OPEN: OrderStatus.OPEN,
    IntentState.UNKNOWN: OrderStatus.UNKNOWN,
    IntentState.FILLED: OrderStatus.FILLED,
    IntentState.PARTIALLY_FILLED: OrderStatus.PARTIALLY_FILLED,
    IntentState.CANCELED: OrderStatus.CANCELED,
    IntentState.EXPIRED: OrderStatus.EXPIRED,
    IntentState.REJECTED: OrderStatus.REJECTED,
    IntentState.NOT_PLACED: OrderStatus.REJECTED,  # nothing was placed, as for a refusal
}


def state_of_order(order: Order) -> IntentState:
    """The intent state a venue order reports."""
    return _FROM_ORDER[order.status]


def stored_status(state: IntentState) -> OrderStatus:
    """The status column value the store keeps for ``state`` (unchanged since schema 1)."""
    return _STORED[state]


class IllegalTransition(RuntimeError):
    """A move of the ledger's own the transition table does not allow: a bug, never data."""


class IllegalVenueAnswer(HedgebotError):
    """The venue answered for an unsettled intent what no venue should (e.g. an order under
    another client id). The intent stays unsettled (looked up again, nothing new is sent);
    the engine fails the tick and halts trading (alert ``order.illegal_answer``).

    ``client_order_id``: the intent's id; ``answer``: the venue's answer in words."""

    def __init__(self, client_order_id: str, answer: str, detail: str) -> None:
        super().__init__(f"intent {client_order_id}: the venue answered {answer}: {detail}")
        self.client_order_id = client_order_id
        self.answer = answer


@dataclass(frozen=True, slots=True)
class TrackedIntent:
    """One intent and what is known of it: ``order`` is the venue's latest word, if any."""

    intent: OrderIntent
    block: int
    state: IntentState
    order: Order | None = None

    @property
    def client_order_id(self) -> str:
        """The deterministic client id."""
        return self.intent.client_order_id

    @property
    def pending(self) -> bool:
        """Sent and not settled: no new order may go out while this is True."""
        return self.state in PENDING_STATES


class IntentTracker:
    """Owns the state of every intent of this process; ``apply`` is the only way to move one."""

    def __init__(self) -> None:
        self._tracked: dict[str, TrackedIntent] = {}

    def track(self, intent: OrderIntent, block: int, state: IntentState) -> TrackedIntent:
        """Start tracking ``intent`` (a new one in INTENT, a restored one in its stored
        state); tracking one client id twice raises ``IllegalTransition``."""
        if intent.client_order_id in self._tracked:
            raise IllegalTransition(f"intent {intent.client_order_id} is already tracked")
        tracked = TrackedIntent(intent, block, state)
        self._tracked[intent.client_order_id] = tracked
        return tracked

    def apply(
        self, client_order_id: str, state: IntentState, order: Order | None = None
    ) -> TrackedIntent:
        """Move one intent to ``state`` (with the venue's ``order`` when it reported one).

        Raises ``IllegalTransition`` for an untracked id, a transition outside
        :data:`TRANSITIONS`, or an order under another client id.
        """
        current = self._tracked.get(client_order_id)
        if current is None:
            raise IllegalTransition(f"intent {client_order_id} is not tracked")
        if state not in TRANSITIONS[current.state]:
            raise IllegalTransition(
                f"intent {client_order_id}: {current.state.value} -> {state.value} "
                "is not in the transition table"
            )
        if order is not None and order.client_order_id != client_order_id:
            raise IllegalTransition(
                f"order {order.client_order_id} applied to intent {client_order_id}"
            )
        moved = replace(current, state=state, order=order or current.order)
        if moved.state in TERMINAL_STATES:
            del self._tracked[client_order_id]  # settled: the store keeps its record
        else:
            self._tracked[client_order_id] = moved
        return moved

    def apply_answer(
        self, client_order_id: str, order: Order, state: IntentState | None = None
    ) -> TrackedIntent:
        """Move one intent to ``state`` (default: the state the venue's ``order`` reports) on
        the venue's answer to a submit, a look-up or a cancel. Raises ``IllegalVenueAnswer``
        (nothing moved) for an answer the table does not allow, ``IllegalTransition`` for an
        untracked id."""
        current = self._tracked.get(client_order_id)
        if current is None:
            raise IllegalTransition(f"intent {client_order_id} is not tracked")
        state = state or state_of_order(order)
        answer = f"{order.status.value} for order {order.client_order_id}"
        if order.client_order_id != client_order_id:
            raise IllegalVenueAnswer(client_order_id, answer, "another client id")
        if state not in TRANSITIONS[current.state]:
            detail = f"{current.state.value} -> {state.value} is not in the transition table"
            raise IllegalVenueAnswer(client_order_id, answer, detail)
        return self.apply(client_order_id, state, order)

    def get(self, client_order_id: str) -> TrackedIntent | None:
        """The tracked intent, or None (never tracked, or settled)."""
        return self._tracked.get(client_order_id)

    def pending(self) -> Iterator[TrackedIntent]:
        """Sent and unsettled intents, oldest first."""
        return (t for t in self._tracked.values() if t.pending)

    def __len__(self) -> int:
        return len(self._tracked)
