"""``VenueHistory``: the venue's fills and funding brought into the store, each exactly once.

The venue is the truth for what was paid; the store keeps it (idempotently, by trade id and
funding id) so PnL uses what was actually paid. Two cursors (persisted in the store's meta)
say where to read from next. Records stored by a tick that then failed stay buffered until
a tick completes, so the live attribution and the guards see each one exactly once.
"""

from __future__ import annotations

from typing import Protocol

import structlog

from bot.domain import Fill, FundingPayment
from bot.ports import PerpExchange
from bot.store.base import RecordStore
from bot.store.meta import Meta

__all__ = ["VenueHistory"]

log = structlog.get_logger("hedgebot.history")


class EventSink(Protocol):
    """Where fill and funding events go (the engine's telemetry)."""

    def publish_event(self, event_type: str, data: dict[str, object]) -> None:
        """One event."""
        ...


class VenueHistory:
    """Fills and funding since the cursors, stored once, handed out until attributed."""

    def __init__(self, exchange: PerpExchange, store: RecordStore, events: EventSink) -> None:
        self.exchange = exchange
        self.store = store
        self.events = events
        self.fills_since_ms = 0
        self.funding_since_ms = 0
        self._fills: list[Fill] = []
        self._funding: list[FundingPayment] = []

    async def load(self, now_s: float) -> None:
        """Restore the cursors; a new store's history starts now, since earlier venue fills
        are already in the position the attribution opens with (counting them would double
        them)."""
        first_ms = int(now_s * 1000)
        fills_ms = await self.store.get(Meta.FILLS_SINCE_MS)
        funding_ms = await self.store.get(Meta.FUNDING_SINCE_MS)
        self.fills_since_ms = first_ms if fills_ms is None else fills_ms
        self.funding_since_ms = first_ms if funding_ms is None else funding_ms

    async def sync(self) -> tuple[list[Fill], list[FundingPayment]]:
        """Store new fills and funding; the ones not yet attributed (see :meth:`attributed`)."""
        for fill in await self.exchange.fills(self.fills_since_ms):
            if await self.store.record_fill(fill):
                self._fills.append(fill)
                self.events.publish_event(
                    "fill",
                    {
                        "trade_id": fill.trade_id,
                        "client_order_id": fill.client_order_id,
                        "side": fill.side.value,
                        "amount_base": str(fill.amount_base),
                        "price": str(fill.price),
                        "fee_quote": str(fill.fee_quote),
                    },
                )
            self.fills_since_ms = max(self.fills_since_ms, fill.timestamp)
        for payment in await self.exchange.funding_payments(self.funding_since_ms):
            if await self.store.record_funding(payment):
                self._funding.append(payment)
                log.info(
                    "funding.settled",
                    amount_quote=str(payment.amount_quote),
                    rate=str(payment.rate),
                    position_base=str(payment.position_base),
                )
                self.events.publish_event(
                    "funding",
                    {
                        "amount_quote": str(payment.amount_quote),
                        "rate": str(payment.rate),
                        "position_base": str(payment.position_base),
                        "timestamp": payment.timestamp,
                    },
                )
            self.funding_since_ms = max(self.funding_since_ms, payment.timestamp)
        async with self.store.transaction():  # both cursors, or neither
            await self.store.set(Meta.FILLS_SINCE_MS, self.fills_since_ms)
            await self.store.set(Meta.FUNDING_SINCE_MS, self.funding_since_ms)
        return list(self._fills), list(self._funding)

    def attributed(self) -> None:
        """The last :meth:`sync`'s records reached the attribution: forget them."""
        self._fills.clear()
        self._funding.clear()
