"""Transition shim: the engine's former ``OrderManager`` API over the ledger's machinery.

Superseded by :class:`bot.exchange.ledger.OrderLedger` (issue 13, item 2). Kept only while
``bot/engine.py`` and ``bot/app.py`` still import it; it holds no logic of its own: the venue
calls and their retry rules are :class:`~bot.exchange.venue_calls.VenueCalls`, start-up
reconciliation is the ledger's. Delete this module once nothing imports it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import structlog

from bot import errors
from bot.domain import TERMINAL_STATUSES, Order, OrderIntent
from bot.exchange.client_ids import client_id_prefix, client_order_id
from bot.exchange.ledger import OrderLedger
from bot.exchange.ledger_store import LedgerStore
from bot.exchange.position_check import OnMismatch, StartupReconciliation
from bot.exchange.venue_calls import LedgerSettings, Sleep, VenueCalls
from bot.ports import PerpExchange

__all__ = [
    "OrderManager",
    "ReconcileReport",
    "StartupReconciliation",
    "client_id_prefix",
    "client_order_id",
]

log = structlog.get_logger("hedgebot.orders")


@dataclass
class ReconcileReport:
    """What a look-up of unresolved intents found."""

    resolved: list[Order] = field(default_factory=list)
    never_seen: list[OrderIntent] = field(default_factory=list)
    unknown: list[OrderIntent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _At:
    """A clock stopped at ``t`` (the caller's ``now``)."""

    t: float

    def now(self) -> float:
        return self.t


class OrderManager:
    """The exception-raising order API of the engine, over ``VenueCalls`` (see module doc)."""

    def __init__(
        self,
        exchange: PerpExchange,
        *,
        on_mismatch: OnMismatch = "pause",
        sleep: Sleep = asyncio.sleep,
        settings: LedgerSettings | None = None,
    ) -> None:
        self.calls = VenueCalls(exchange, settings or LedgerSettings(), sleep)
        self.on_mismatch: OnMismatch = on_mismatch
        self.pending: dict[str, OrderIntent] = {}

    @property
    def exchange(self) -> PerpExchange:
        """The venue."""
        return self.calls.exchange

    @exchange.setter
    def exchange(self, value: PerpExchange) -> None:
        self.calls.exchange = value

    @property
    def resolve_backoff_s(self) -> float:
        """First back-off between look-ups (doubles each time)."""
        return self.calls.settings.resolve_backoff_s

    @resolve_backoff_s.setter
    def resolve_backoff_s(self, value: float) -> None:
        self.calls.settings = replace(self.calls.settings, resolve_backoff_s=value)

    @staticmethod
    def client_order_id(bot_id: str, block: int, seq: int) -> str:
        """See :func:`bot.exchange.client_ids.client_order_id`."""
        return client_order_id(bot_id, block, seq)

    async def resolve_pending(self) -> ReconcileReport:
        """Look up every pending order; raise ``OrderOutcomeUnknown`` if one stays so."""
        report = await self.reconcile(list(self.pending.values()))
        for order in report.resolved:
            self.pending.pop(order.client_order_id, None)
            log.info(
                "order.resolved", client_order_id=order.client_order_id, status=order.status.value
            )
        for intent in report.never_seen:
            self.pending.pop(intent.client_order_id, None)
            log.warning("order.never_seen", client_order_id=intent.client_order_id)
        if report.unknown:
            ids = ", ".join(i.client_order_id for i in report.unknown)
            raise errors.OrderOutcomeUnknown(
                f"orders still unknown: {ids}", report.unknown[0].client_order_id
            )
        return report

    async def execute(self, intent: OrderIntent) -> Order:
        """Place ``intent`` once; raises the venue's refusal, ``OrderNotPlaced`` (confirmed
        absent) or ``OrderOutcomeUnknown`` (the intent stays pending)."""
        if self.pending:
            raise errors.OrderOutcomeUnknown(
                "earlier orders are unresolved: call resolve_pending() first",
                next(iter(self.pending)),
            )
        cid = intent.client_order_id
        try:
            order = await self.calls.send(intent)
        except (errors.InvalidOrder, errors.InsufficientMargin, errors.ExchangeUnavailable):
            raise
        except errors.OrderOutcomeUnknown:
            log.warning("order.outcome_unknown", client_order_id=cid)
        except BaseException:
            self.pending[cid] = intent
            raise
        else:
            if order.status in TERMINAL_STATUSES:
                return order
        self.pending[cid] = intent
        confirmed = await self.calls.confirm(cid)
        self.pending.pop(cid, None)
        if confirmed is None:
            log.warning("order.not_placed", client_order_id=cid)
            raise errors.OrderNotPlaced(f"order {cid} was never placed", cid)
        return confirmed

    async def reconcile(
        self, intents: Sequence[OrderIntent], *, open_is_unknown: bool = True
    ) -> ReconcileReport:
        """Find each unresolved intent on the venue by its client id."""
        report = ReconcileReport()
        for intent in intents:
            try:
                order = await self.calls.lookup(intent.client_order_id)
            except errors.OrderOutcomeUnknown:
                order, unknown = None, True
            else:
                unknown = (
                    order is not None
                    and open_is_unknown
                    and (order.status not in TERMINAL_STATUSES)
                )
            if unknown:
                report.unknown.append(intent)
                self.pending[intent.client_order_id] = intent
            elif order is None:
                report.never_seen.append(intent)
            else:
                report.resolved.append(order)
        return report

    async def reconcile_at_start(
        self, store: LedgerStore, *, bot_id: str, fills_since_ms: int, now: float
    ) -> StartupReconciliation:
        """The ledger's start-up reconciliation (:meth:`OrderLedger.reconcile_at_start`)."""
        ledger = OrderLedger(
            self.exchange,
            store,
            bot_id,
            _At(now),
            settings=self.calls.settings,
            on_mismatch=self.on_mismatch,
        )
        ledger.venue = self.calls
        await ledger.open()
        return await ledger.reconcile_at_start(fills_since_ms=fills_since_ms)
