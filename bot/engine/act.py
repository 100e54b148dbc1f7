"""The act step of a tick: the planned order placed once through the ledger, every outcome
branched on.

The :class:`~bot.exchange.ledger.OrderLedger` writes the intent ahead (deterministic client
id), records every outcome and hits the crash points; this step only turns its
:data:`~bot.exchange.place_results.PlaceResult` into what the tick does: a placed order is
an ``order`` event; a refusal (``InvalidOrder``, ``InsufficientMargin``) is the alert
``order.rejected``; a submit never sent (``ExchangeUnavailable``, rate limits included)
fails the tick as a venue error; an order confirmed absent is ``order.not_placed``; an
unknown outcome is ``order.outcome_unknown`` and fails the tick (settled by client id before
any new order, never re-sent).
"""

from __future__ import annotations

from decimal import Decimal

from bot.domain import Decision, Order
from bot.engine.control import OperatorControl
from bot.engine.sink import EventFanOut
from bot.errors import ExchangeUnavailable
from bot.events import Alert, OrderEvent
from bot.exchange.ledger import (
    POSITION_CHECK_EVERY_TICKS,
    NotPlaced,
    OrderLedger,
    Placed,
    PlaceResult,
    Rejected,
)
from bot.safety import safe_str

__all__ = ["ActSteps"]


class ActSteps:
    """Order placement; :class:`bot.engine.tick.TickRunner` provides the attributes."""

    ledger: OrderLedger
    events: EventFanOut
    control: OperatorControl
    _ticks_since_position_check: int

    async def _execute(self, block: int, decision: Decision, limit_price: Decimal) -> Order | None:
        """Place the decision's order at ``limit_price`` (quote per base); the placed order,
        or None when nothing was placed (alerted). Raises ``ExchangeUnavailable`` when the
        order was never sent and ``OrderOutcomeUnknown`` when its outcome is unknown."""
        assert decision.order_side is not None
        intent = self.ledger.next_intent(
            block,
            decision.order_side,
            decision.order_amount_base,
            reduce_only=decision.reduce_only,
            limit_price=limit_price,
            reason=decision.reason,
        )
        return self._outcome(await self.ledger.place(intent))

    def _outcome(self, result: PlaceResult) -> Order | None:
        """What the tick does with the ledger's answer (see the module doc)."""
        client_id = result.intent.client_order_id
        if isinstance(result, Placed):
            self.events.emit(OrderEvent(result.order))
            return result.order
        if isinstance(result, Rejected):
            if isinstance(result.error, ExchangeUnavailable):
                raise result.error  # nothing was sent: a venue error of this tick
            self.events.emit(  # logged once, by the ledger
                Alert.of(
                    "order.rejected",
                    logged=False,
                    client_order_id=client_id,
                    error=safe_str(result.error),
                )
            )
            return None
        if isinstance(result, NotPlaced):
            self.events.emit(  # logged once, by the ledger
                Alert.of(
                    "order.not_placed", logged=False, client_order_id=client_id, error=result.reason
                )
            )
            return None
        self.events.emit(Alert.of("order.outcome_unknown", client_order_id=client_id))
        raise result.error

    async def _check_position(self, venue_position_base: Decimal) -> None:
        """Every ``POSITION_CHECK_EVERY_TICKS`` ticks, the venue's position (base units, read
        after the tick's orders settled and its fills were stored) against the ledger's
        record. A new mismatch is the alert ``position.mismatch`` (logged by the ledger); it
        pauses trading when ``exchange.on_mismatch`` is ``pause`` (``adopt``: the ledger
        took the venue's position as its baseline)."""
        self._ticks_since_position_check += 1
        if self._ticks_since_position_check < POSITION_CHECK_EVERY_TICKS:
            return
        self._ticks_since_position_check = 0
        check = await self.ledger.check_position(venue_position_base)
        if check.ok or check.repeated:
            return
        self.events.emit(
            Alert.of(
                "position.mismatch",
                logged=False,
                venue_position_base=str(check.venue_position_base),
                expected_position_base=str(check.expected_position_base),
                foreign_fills=[f.trade_id for f in check.foreign_fills],
                action=check.action,
            )
        )
        if check.action == "paused":
            await self.control.set_paused(True, "position_mismatch")
