"""The account step of a tick: what it saw and did, kept in one store transaction.

The venue's new fills and funding (with their cursors), the chain snapshot and the gated
decision (each when the store's snapshot policy keeps it: on change, trades, fills and at an
interval, ``bot.store.snapshot_policy``), the day baseline and the tick's buffered events
are written together by :meth:`AccountSteps.account` (all or none; the order ledger's
write-ahead records of the act step are its own, committed before the venue call). Only
after the commit do the PnL attribution and the states advance and the ``fill``/``funding``
events go out, so the store, the log and MQTT see each record exactly once; a
``StoreError`` propagates and the next tick writes its own rows.
"""

from __future__ import annotations

from dataclasses import replace

from bot.core.gate import GuardState, day_pnl
from bot.core.operator import OperatorState
from bot.core.plan import Reads, TickPlan
from bot.core.pnl import Attribution, observation_from_snapshot, step
from bot.core.policy import PolicyState
from bot.domain import ChainSnapshot, Fill, FundingPayment
from bot.engine.cadence import VenueCadence
from bot.engine.position_watch import PositionWatch
from bot.engine.report import Acted, EngineStats, TickReport
from bot.engine.sink import EventFanOut
from bot.errors import ExchangeError
from bot.events import FillEvent, FundingEvent
from bot.guards import RiskGuard
from bot.store.base import RecordStore
from bot.store.decision_runs import keep_tick
from bot.store.snapshot_policy import KeptTick
from bot.tick_messages import range_transitions
from bot.venue_history import VenueBatch, VenueHistory

__all__ = ["AccountSteps"]


class AccountSteps:
    """The account step; :class:`bot.engine.tick.TickRunner` provides the attributes."""

    store: RecordStore
    events: EventFanOut
    history: VenueHistory
    stats: EngineStats
    pnl: Attribution | None
    guard_state: GuardState
    _guard_before: GuardState
    policy_state: PolicyState
    operator: OperatorState
    last_report: TickReport | None
    position_watch: PositionWatch
    cadence: VenueCadence
    _in_range: dict[str, bool]
    _kept_tick: KeptTick = KeptTick()  # the last snapshot and decision the store kept

    async def account(
        self, block: int, reads: Reads, plan: TickPlan, acted: Acted
    ) -> TickReport | None:
        """Keep what the tick saw and did, in one store transaction: the venue's new fills
        and funding with their cursors, the snapshot, the decision, the day baseline and the
        tick's buffered events (all or none: a ``StoreError`` leaves none of them and no
        state advanced, and the next tick writes its own). After the commit: PnL, states,
        the ``fill``/``funding`` events, then the position watch (the ledger's position
        check when due). A tick without a snapshot keeps only its day baseline and events."""
        snapshot = reads.snapshot
        if snapshot is None:
            async with self.store.transaction():
                await RiskGuard.persist_day(self.store, self._guard_before, self.guard_state)
                recorded = await self.events.record(self.store)
            self.events.recorded(recorded)
            return None
        batch = await self._read_history(reads, acted)  # venue reads before the transaction
        self.range_changes(snapshot)
        now, quote = reads.now_s, reads.venue.quote
        assert self.pnl is not None  # opened by plan()
        earlier_fills, earlier_funding = self.history.pending()  # a failed tick's
        async with self.store.transaction():
            new_fills, new_funding = await self.history.record(batch)
            fills, funding = [*earlier_fills, *new_fills], [*earlier_funding, *new_funding]
            kept = await self._keep_records(block, now, snapshot, plan, bool(fills or funding))
            observation = observation_from_snapshot(
                snapshot, quote.mark_price, fills, funding, timestamp_s=now
            )
            pnl = step(self.pnl, observation)
            guard = self.guard_state
            if funding:
                guard = replace(guard, last_funding_rate=funding[-1].rate)
            _, guard = day_pnl(guard, now, pnl.breakdown().net_pnl_quote)
            await RiskGuard.persist_day(self.store, self._guard_before, guard)
            recorded = await self.events.record(self.store)
        self.events.recorded(recorded)
        self._stored(batch, new_fills, new_funding)
        self.history.take()
        self._kept_tick = kept
        self.pnl, self.guard_state, self._guard_before = pnl, guard, guard
        self.policy_state = plan.policy_state_after(filled=acted.filled)
        self.operator = plan.operator_state  # a rebalance_now is used up
        await self.position_watch.after_tick(acted.position.size_base)
        return self._completed(block, reads, plan, acted)

    async def _keep_records(
        self, block: int, now: float, snapshot: ChainSnapshot, plan: TickPlan, booked: bool
    ) -> KeptTick:
        """The tick's snapshot and decision rows, as the store's snapshot policy keeps them
        (``bot.store.snapshot_policy``: on change, on trades and fills, at an interval; a
        quiet repeat extends the last decision run, ``bot.store.decision_runs``); the
        comparison base once the transaction commits."""
        decision = plan.decision
        traded = booked or decision.action == "rebalance"
        rows = await keep_tick(
            self.store, self._kept_tick, now, block, snapshot, decision, traded=traded
        )
        return rows.kept

    async def _read_history(self, reads: Reads, acted: Acted) -> VenueBatch:
        """The venue's fills and funding since the cursors, each read only when due
        (:mod:`bot.engine.cadence`; not due, none and the cursors kept). When the funding
        read fails after the fills were read, the fills are kept (one transaction, their
        events out) before the venue's error propagates: they wait for the next completed
        tick."""
        now, position = reads.now_s, acted.position.size_base
        history = self.history
        fills = VenueBatch((), (), history.fills_since_ms, history.funding_since_ms)
        read_fills = self.cadence.fills_due(now, position)
        if read_fills:
            fills = await history.fetch_fills()
        self.cadence.saw_fills(now, position, read=read_fills)
        if not self.cadence.funding_due(now):
            return fills
        try:
            batch = await history.fetch_funding(fills)
        except ExchangeError:
            async with self.store.transaction():
                stored = await history.record(fills)
            self._stored(fills, *stored)
            raise
        self.cadence.saw_funding(now, reads.venue.quote.next_funding_ts)
        return batch

    def _stored(self, batch: VenueBatch, fills: list[Fill], funding: list[FundingPayment]) -> None:
        """A batch committed: cursors on, records wait for the attribution, events out."""
        self.history.committed(batch, fills, funding)
        for fill in fills:
            self.events.emit(FillEvent(fill))
        for payment in funding:
            self.events.emit(FundingEvent(payment))

    def _completed(self, block: int, reads: Reads, plan: TickPlan, acted: Acted) -> TickReport:
        assert reads.snapshot is not None
        assert self.pnl is not None
        if acted.filled:
            self.stats.rebalances += 1
        pnl = self.pnl.breakdown().as_dict()
        report = TickReport(
            block,
            reads.snapshot,
            reads.venue.quote,
            acted.position,
            plan.decision,
            acted.order,
            pnl,
            plan.view,
        )
        self.last_report = report
        self.stats.ticks += 1
        self.stats.last_block = block
        self.stats.last_tick_ok_s = reads.now_s
        return report

    def range_changes(self, snapshot: ChainSnapshot) -> None:
        """Positions leaving or re-entering their range, as events (logged, published,
        recorded)."""
        for change in range_transitions(self._in_range, snapshot.positions, snapshot.block_number):
            self.events.emit(change)
        self._in_range = {p.id: p.in_range for p in snapshot.positions}
