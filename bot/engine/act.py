"""The act step of a tick: the planned order placed once through the ledger, every outcome
branched on.

The :class:`~bot.exchange.ledger.OrderLedger` writes the intent ahead (deterministic client
id), records every outcome and hits the crash points; this step only turns its
:data:`~bot.exchange.place_results.PlaceResult` into what the tick does: a placed order is
an ``order`` event; a refusal (``InvalidOrder``, ``InsufficientMargin``) is the alert
``order.rejected``; a refused key (``AuthenticationError``, nothing placed) halts trading
(:mod:`bot.engine.halts`); a submit never sent (``ExchangeUnavailable``, rate limits included)
fails the tick as a venue error; an order confirmed absent is ``order.not_placed``; an
unknown outcome is ``order.outcome_unknown`` and fails the tick (settled by client id before
any new order, never re-sent).
"""

from __future__ import annotations

from decimal import Decimal

from bot.domain import Decision, Order
from bot.engine.cadence import VenueCadence
from bot.engine.position_watch import PositionWatch
from bot.engine.sink import EventFanOut
from bot.errors import AuthenticationError, ExchangeUnavailable
from bot.events import Alert, OrderEvent
from bot.exchange.ledger import (
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
    position_watch: PositionWatch
    cadence: VenueCadence

    async def _execute(self, block: int, decision: Decision, limit_price: Decimal) -> Order | None:
        """Place the decision's order at ``limit_price`` (quote per base); the placed order,
        or None when nothing was placed (alerted). Raises ``ExchangeUnavailable`` when the
        order was never sent, ``AuthenticationError`` when the venue refused the key and
        ``OrderOutcomeUnknown`` when its outcome is unknown."""
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
            self.position_watch.own_order(result.order)
            self.cadence.own_order(placed=True)
            return result.order
        if isinstance(result, Rejected):
            if isinstance(result.error, ExchangeUnavailable | AuthenticationError):
                raise result.error  # a venue error of this tick; the key refused halts trading
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
        raise result.error  # the tick's failure, logged once: by this alert
