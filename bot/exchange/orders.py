"""``OrderManager``: deterministic client ids, resolution of unknown outcomes, reconciliation.

Rules (ARCHITECTURE.md, "Exchange truth" and "Idempotency"):

* every order comes from an intent whose client id is a pure function of (bot, block, seq);
* a submit that times out or disconnects after sending is *unknown*, never failed: it is
  resolved by asking the venue for that client id before anything else is sent;
* while any intent is unresolved, no new order is placed (``OrderOutcomeUnknown``);
* an intent the venue provably never saw is re-sent with the *same* client id, so even a
  venue that did see it refuses the copy.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from bot import errors
from bot.domain import Order, OrderIntent
from bot.ports import PerpExchange

__all__ = ["OrderManager", "ReconcileReport", "client_order_id"]

log = structlog.get_logger("hedgebot.orders")

_CLIENT_ID_MAX = 36  # Binance's limit; also fits Bybit/OKX


def client_order_id(bot_id: str, block: int, seq: int) -> str:
    """``hb-<bot hash>-<block>-<seq>``: unique per bot and tick, the same on every retry."""
    digest = hashlib.sha256(bot_id.encode()).hexdigest()[:8]
    cid = f"hb-{digest}-{block}-{seq}"
    if len(cid) > _CLIENT_ID_MAX:
        raise ValueError(f"client order id {cid} longer than {_CLIENT_ID_MAX}")
    return cid


@dataclass
class ReconcileReport:
    """What start-up reconciliation found for the store's unresolved intents."""

    resolved: list[Order] = field(default_factory=list)
    never_seen: list[OrderIntent] = field(default_factory=list)
    unknown: list[OrderIntent] = field(default_factory=list)


class OrderManager:
    """Places orders through a ``PerpExchange`` without ever losing or duplicating one."""

    def __init__(
        self,
        exchange: PerpExchange,
        *,
        resolve_attempts: int = 5,
        resolve_backoff_s: float = 0.2,
    ) -> None:
        self.exchange = exchange
        self.resolve_attempts = resolve_attempts
        self.resolve_backoff_s = resolve_backoff_s
        self.pending: dict[str, OrderIntent] = {}

    @staticmethod
    def client_order_id(bot_id: str, block: int, seq: int) -> str:
        """See :func:`client_order_id`."""
        return client_order_id(bot_id, block, seq)

    async def _lookup(self, client_id: str) -> Order | None:
        """Ask the venue for ``client_id``, retrying transient failures with backoff."""
        delay = self.resolve_backoff_s
        last: errors.ExchangeError | None = None
        for _ in range(self.resolve_attempts):
            try:
                return await self.exchange.fetch_order(client_id)
            except errors.RateLimited as exc:
                last = exc
                await asyncio.sleep(exc.retry_after_s or delay)
            except errors.ExchangeUnavailable as exc:
                last = exc
                await asyncio.sleep(delay)
            delay *= 2
        raise errors.OrderOutcomeUnknown(
            f"order {client_id} still unknown after {self.resolve_attempts} look-ups: {last}",
            client_id,
        )

    async def resolve_pending(self) -> ReconcileReport:
        """Look up every pending (unknown) order; raise ``OrderOutcomeUnknown`` if one stays so.

        A pending intent the venue never saw is dropped, not re-sent: the market has moved
        since it was decided, and the next tick decides again from the venue's position.
        """
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

    async def _submit_once(self, intent: OrderIntent) -> Order:
        """Submit; on an unknown outcome, resolve by client id before returning."""
        try:
            return await self.exchange.submit(intent)
        except errors.OrderOutcomeUnknown:
            log.warning("order.outcome_unknown", client_order_id=intent.client_order_id)
            self.pending[intent.client_order_id] = intent
        order = await self._lookup(intent.client_order_id)
        if order is None:
            # the venue never saw it: the same id again (duplicates are refused by the venue)
            order = await self.exchange.submit(intent)
        self.pending.pop(intent.client_order_id, None)
        return order

    async def execute(self, intent: OrderIntent) -> Order:
        """Place ``intent`` once; unknown outcomes are resolved before returning.

        Raises ``OrderOutcomeUnknown`` (the intent stays pending) when the venue cannot tell,
        and the venue's refusal (``InvalidOrder``, ``InsufficientMargin``) as it is.
        """
        if self.pending:
            raise errors.OrderOutcomeUnknown(
                "earlier orders are unresolved: call resolve_pending() first",
                next(iter(self.pending)),
            )
        return await self._submit_once(intent)

    async def reconcile(self, intents: Sequence[OrderIntent]) -> ReconcileReport:
        """Start-up: find each stored unresolved intent on the venue by its client id."""
        report = ReconcileReport()
        for intent in intents:
            try:
                order = await self._lookup(intent.client_order_id)
            except errors.OrderOutcomeUnknown:
                report.unknown.append(intent)
                self.pending[intent.client_order_id] = intent
                continue
            if order is None:
                report.never_seen.append(intent)
            else:
                report.resolved.append(order)
        return report
