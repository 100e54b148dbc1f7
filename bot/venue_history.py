"""``VenueHistory``: the venue's fills and funding brought into the store, each exactly once.

The venue is the truth for what was paid; the store keeps it (idempotently, by trade id and
funding id) so PnL uses what was actually paid. Two cursors (persisted in the store's meta)
say where to read from next. A tick reads the venue first (:meth:`VenueHistory.fetch_fills`,
:meth:`VenueHistory.fetch_funding`, no writes), stores the batch inside its one transaction
(:meth:`VenueHistory.record`: the new records and both cursors) and, once that committed,
advances the cursors in memory (:meth:`VenueHistory.committed`). A transaction rolled back
leaves the cursors where they were, so the next tick reads and stores the same records
again, and they count as new once. Records stored by a tick that then failed (its funding
read) wait until a tick completes (:meth:`VenueHistory.take`), so the live attribution sees
each exactly once. The engine emits the new ones as ``FillEvent``/``FundingEvent`` after
the commit. Someone else's fills on the account are stored as foreign and logged
(``fill.foreign``) once committed, never handed to the attribution.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import structlog

from bot.domain import Fill, FundingPayment
from bot.ports import PerpExchange
from bot.store.base import RecordStore
from bot.store.meta import Meta

__all__ = ["VenueBatch", "VenueHistory"]

log = structlog.get_logger("hedgebot.history")


@dataclass(frozen=True, slots=True)
class VenueBatch:
    """What one read of the venue's history returned, and the cursors (venue ms) after it."""

    fills: tuple[Fill, ...]
    funding: tuple[FundingPayment, ...]
    fills_since_ms: int
    funding_since_ms: int


class VenueHistory:
    """Fills and funding since the cursors: read, stored once, cursors advanced on commit."""

    def __init__(self, exchange: PerpExchange, store: RecordStore) -> None:
        self.exchange = exchange
        self.store = store
        self.fills_since_ms = 0
        self.funding_since_ms = 0
        self._fills: list[Fill] = []  # stored, not yet attributed
        self._funding: list[FundingPayment] = []
        self._foreign: list[Fill] = []  # someone else's fills the last record() stored

    async def load(self, now_s: float) -> None:
        """Restore the cursors; a new store's history starts now, since earlier venue fills
        are already in the position the attribution opens with (counting them would double
        them). A cursor the store does not have yet is written at once (both in one
        transaction), before the first order can be placed: a crash after that order's
        submit and before any tick stored a fill then still books its fill (and fee) at the
        restart, and the restart's reconciliation counts it, instead of starting the history
        after it. ``StoreError`` propagates."""
        first_ms = int(now_s * 1000)
        fills_ms = await self.store.get(Meta.FILLS_SINCE_MS)
        funding_ms = await self.store.get(Meta.FUNDING_SINCE_MS)
        self.fills_since_ms = first_ms if fills_ms is None else fills_ms
        self.funding_since_ms = first_ms if funding_ms is None else funding_ms
        if fills_ms is None or funding_ms is None:
            async with self.store.transaction():
                await self.store.set(Meta.FILLS_SINCE_MS, self.fills_since_ms)
                await self.store.set(Meta.FUNDING_SINCE_MS, self.funding_since_ms)

    async def fetch_fills(self) -> VenueBatch:
        """Our fills since the fills cursor (a venue read only; raises ``ExchangeError``)."""
        fills = tuple(await self.exchange.fills(self.fills_since_ms))
        newest = max((f.timestamp for f in fills), default=self.fills_since_ms)
        return VenueBatch(fills, (), max(self.fills_since_ms, newest), self.funding_since_ms)

    async def fetch_funding(self, batch: VenueBatch) -> VenueBatch:
        """``batch`` with the funding payments since the funding cursor (a venue read only;
        raises ``ExchangeError``)."""
        funding = tuple(await self.exchange.funding_payments(self.funding_since_ms))
        newest = max((p.timestamp for p in funding), default=self.funding_since_ms)
        return replace(batch, funding=funding, funding_since_ms=max(self.funding_since_ms, newest))

    async def record(self, batch: VenueBatch) -> tuple[list[Fill], list[FundingPayment]]:
        """Store ``batch`` and both cursors (call inside the tick's transaction); the bot's
        own fills and the payments the store did not know before. ``StoreError`` propagates.

        Someone else's fills on the account (client id no intent of this bot: another
        bot's, a manual trade; intents are written before their order is sent, so an own
        fill always finds its intent) are stored as foreign (``record_fill(own=False)``) and
        not returned: they are no trade of the bot's, so they never reach its PnL or its
        ``fill`` events; the position check reports them (``position.mismatch``)."""
        intents = await self.store.intent_blocks() if batch.fills else {}
        own: list[Fill] = []
        self._foreign = []
        for fill in batch.fills:
            is_own = fill.client_order_id in intents
            if await self.store.record_fill(fill, own=is_own):
                (own if is_own else self._foreign).append(fill)
        new_funding = [p for p in batch.funding if await self.store.record_funding(p)]
        async with self.store.transaction():  # both cursors, or neither
            await self.store.set(Meta.FILLS_SINCE_MS, batch.fills_since_ms)
            await self.store.set(Meta.FUNDING_SINCE_MS, batch.funding_since_ms)
        return own, new_funding

    def committed(
        self, batch: VenueBatch, fills: list[Fill], funding: list[FundingPayment]
    ) -> None:
        """The transaction that recorded ``batch`` committed: read on from its cursors; its
        new ``fills`` and ``funding`` wait for the attribution (:meth:`take`)."""
        self.fills_since_ms = batch.fills_since_ms
        self.funding_since_ms = batch.funding_since_ms
        for fill in self._foreign:
            log.warning(
                "fill.foreign",
                trade_id=fill.trade_id,
                client_order_id=fill.client_order_id,
                side=fill.side.value,
                amount_base=str(fill.amount_base),
                price=str(fill.price),
            )
        self._foreign = []
        self._fills.extend(fills)
        self._funding.extend(funding)

    def pending(self) -> tuple[list[Fill], list[FundingPayment]]:
        """The stored records not yet attributed (a failed tick's included)."""
        return list(self._fills), list(self._funding)

    def take(self) -> tuple[list[Fill], list[FundingPayment]]:
        """The stored records not yet attributed, handed out once."""
        taken = (self._fills, self._funding)
        self._fills, self._funding = [], []
        return taken
