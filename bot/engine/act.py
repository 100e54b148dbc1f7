"""The act step of a tick: the planned order placed once, every outcome recorded.

Write-ahead: the intent (deterministic client id) is stored before it is sent; a refusal
marks it rejected and is alerted; an unknown outcome marks it unknown, is alerted and raised
(resolved by client id before any new order, never re-sent); a terminal order is stored and
published as an ``order`` event.
"""

from __future__ import annotations

import os
import signal
from decimal import Decimal

import structlog

from bot.domain import TERMINAL_STATUSES, Decision, MarketRules, Order, OrderIntent, OrderStatus
from bot.engine.sink import EventFanOut
from bot.errors import (
    ExchangeError,
    ExchangeUnavailable,
    InsufficientMargin,
    InvalidOrder,
    OrderNotPlaced,
    OrderOutcomeUnknown,
)
from bot.events import Alert, OrderEvent
from bot.exchange.orders import OrderManager
from bot.ports import Clock
from bot.safety import safe_str
from bot.store.sqlite import SqliteStore

__all__ = ["CRASH_ENV", "ActSteps", "crash_point"]

log = structlog.get_logger("hedgebot.engine")

CRASH_ENV = "HEDGEBOT_CRASH_AT"  # test hook: SIGKILL this process at a named point of a tick


def crash_point(name: str) -> None:
    """Fault-injection hook for the crash tests: ``HEDGEBOT_CRASH_AT=name`` kills us here."""
    if os.environ.get(CRASH_ENV) == name:
        log.warning("engine.crash_injected", point=name)
        os.kill(os.getpid(), signal.SIGKILL)


class ActSteps:
    """Order placement; :class:`bot.engine.tick.TickRunner` provides the attributes."""

    bot_id: str
    orders: OrderManager
    store: SqliteStore
    clock: Clock
    events: EventFanOut
    _order_seq: int

    @property
    def rules(self) -> MarketRules:
        raise NotImplementedError

    async def _execute(self, block: int, decision: Decision, limit_price: Decimal) -> Order | None:
        assert decision.order_side is not None
        self._order_seq += 1
        client_id = self.orders.client_order_id(self.bot_id, block, self._order_seq)
        intent = OrderIntent(
            client_order_id=client_id,
            symbol=self.rules.symbol,
            side=decision.order_side,
            amount_base=decision.order_amount_base,
            reduce_only=decision.reduce_only,
            limit_price=limit_price,
        )
        await self.store.record_intent(self.clock.now(), block, intent)
        crash_point("before_submit")
        order = await self._submit(intent)
        if order is None:
            return None
        if order.status not in TERMINAL_STATUSES:
            await self.store.record_order(self.clock.now(), order)
            raise OrderOutcomeUnknown(f"order {client_id} is {order.status.value}", client_id)
        crash_point("after_fill")
        await self.store.record_order(self.clock.now(), order)
        crash_point("after_store")
        self.events.emit(OrderEvent(order))
        return order

    async def _submit(self, intent: OrderIntent) -> Order | None:
        """Send the intent; a refusal is recorded and alerted (None), an unknown raised."""
        client_id = intent.client_order_id
        try:
            return await self.orders.execute(intent)
        except (InsufficientMargin, InvalidOrder) as exc:
            await self.store.mark_intent(client_id, OrderStatus.REJECTED)
            self.events.emit(
                Alert.of("order.rejected", client_order_id=client_id, error=safe_str(exc))
            )
            return None
        except OrderNotPlaced as exc:
            await self.store.mark_intent(client_id, OrderStatus.REJECTED)
            self.events.emit(
                Alert.of("order.not_placed", client_order_id=client_id, error=safe_str(exc))
            )
            return None
        except ExchangeUnavailable:  # refused before anything was placed (incl. rate limits)
            await self.store.mark_intent(client_id, OrderStatus.REJECTED)
            raise
        except ExchangeError:  # OrderOutcomeUnknown and any failure after sending
            await self.store.mark_intent(client_id, OrderStatus.UNKNOWN)
            self.events.emit(Alert.of("order.outcome_unknown", client_order_id=client_id))
            raise
