"""The read step of a tick: every I/O a tick needs, each bounded by the read timeout.

The chain snapshot pinned to the block, then the venue (unknown orders settled first, so
the position read includes them), then the kill-switch file; together one
:class:`bot.core.plan.Reads`. A failed read is reported here, once; an unread position is
never taken for a flat one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from bot.core.gate import GuardState, VenueRead
from bot.core.operator import OperatorState
from bot.core.plan import HedgeSettings, PlanLimits, Reads, plan_tick
from bot.core.policy import HedgePolicy, PolicyState
from bot.core.protect import UnreadableEpisode
from bot.domain import AccountBalance, ChainNotice, ChainSnapshot, MarketRules
from bot.engine.cadence import VenueCadence
from bot.engine.position_watch import PositionWatch
from bot.engine.sink import EventFanOut
from bot.errors import (
    AuthenticationError,
    ChainError,
    ExchangeError,
    HedgebotError,
    PositionReadError,
    VenueDataError,
)
from bot.events import Alert, OrderEvent, PositionMoved
from bot.exchange.ledger import OrderLedger, Placed, PlaceResult
from bot.guards import RiskGuard
from bot.ports import ChainReader, Clock, PerpExchange
from bot.safety import safe_str

__all__ = ["ReadSteps"]

_REORG_DEPTH = 128  # block hashes kept to notice a replaced block


class ReadSteps:
    """The read step; :class:`bot.engine.tick.TickRunner` provides the attributes."""

    chain: ChainReader
    exchange: PerpExchange
    ledger: OrderLedger
    events: EventFanOut
    position_watch: PositionWatch
    read_timeout_s: float
    price_observers: list[Callable[[Decimal], None]]
    _rules: MarketRules | None
    _block_hashes: dict[int, str]
    _unreadable: UnreadableEpisode
    cadence: VenueCadence
    clock: Clock
    guard: RiskGuard
    settings: HedgeSettings
    policy: HedgePolicy
    guard_state: GuardState
    policy_state: PolicyState
    operator: OperatorState

    def _fail(self, source: str, exc: HedgebotError) -> None:
        raise NotImplementedError

    def reads_of(self, block: int, snapshot: ChainSnapshot | None, venue: VenueRead) -> Reads:
        raise NotImplementedError

    async def read(self, block: int) -> Reads | None:
        """Everything the tick needs, or None when the venue could not be read (reported).

        The chain and the venue are read at once, each within the read timeout (they share
        nothing; the block's latency is the slower of the two, not their sum) — except when a
        venue follows the pool's price (``price_observers``: the paper venue's mark is the
        pool price plus its basis), which must see this block's price before it is read:
        then the chain is read first. A failed chain read still has the venue read: the
        plan then runs the protect-only rules. ``AuthenticationError`` from the venue
        propagates (the chain read cancelled).
        """
        deadline = self.read_deadline()
        if self.price_observers:  # the venue's mark follows this block's pool price
            snapshot = await self.read_chain(block, deadline)
            if snapshot is None:
                deadline = self.read_deadline()
            venue_read = await self.read_venue(deadline)
            return (
                None if venue_read is None else await self._with_rules(block, snapshot, venue_read)
            )
        chain_read = asyncio.ensure_future(self.read_chain(block, deadline))
        try:
            venue = await self.read_venue(deadline)
        except BaseException:
            chain_read.cancel()  # the tick ends here (a refused key, a stop): never left running
            await asyncio.wait([chain_read])
            if not chain_read.cancelled():
                chain_read.exception()  # retrieved: the venue's exception is the tick's
            raise
        snapshot = await chain_read
        if venue is None:
            return None
        return await self._with_rules(block, snapshot, venue)

    async def _with_rules(
        self, block: int, snapshot: ChainSnapshot | None, venue: VenueRead
    ) -> Reads:
        """The tick's reads once the market rules are loaded (first tick) and a replaced
        block is alerted."""
        if self._rules is None:
            self._rules = await self.exchange.market_rules()
        if snapshot is not None:
            self._check_reorg(snapshot)
        return self.reads_of(block, snapshot, venue)

    def read_deadline(self) -> float:
        """Loop time by which a read started now must be done."""
        return asyncio.get_running_loop().time() + self.read_timeout_s

    async def read_chain(self, block: int, deadline: float) -> ChainSnapshot | None:
        """The chain snapshot of ``block`` by ``deadline`` (loop time), or None when it failed.

        A failure is reported (``tick.failed``, an ``error`` event); a position that cannot be
        valued is alerted once per cause (``position.unreadable``) and once when it reads
        again (``position.readable``).
        """
        try:
            async with asyncio.timeout_at(deadline):
                snapshot = await self.chain.snapshot(block)
        except TimeoutError:
            self._fail("chain", ChainError(f"chain reads took over {self.read_timeout_s:g}s"))
            return None
        except PositionReadError as exc:
            # a burned, transferred or unreadable position: never hedge on partial data
            self._tell(block, getattr(exc, "notices", ()))  # several chains: which one
            if self._unreadable.failed(safe_str(exc)):
                self.events.emit(Alert.of("position.unreadable", block=block, error=safe_str(exc)))
            self._fail("chain", exc)
            return None
        except ChainError as exc:
            self._tell(block, getattr(exc, "notices", ()))  # chain.unreadable naming the chain
            self._fail("chain", exc)
            return None
        ended = self._unreadable.read()
        if ended is not None:
            self.events.emit(Alert.of("position.readable", block=block, cause=ended))
        self._tell(block, snapshot.notices)
        for move in snapshot.moves:
            self.events.emit(PositionMoved(move))
        for observe in self.price_observers:
            observe(snapshot.price)
        return snapshot

    def _tell(self, block: int, notices: tuple[ChainNotice, ...]) -> None:
        """Each notice of a chain read as an alert (``entries``: the config entries or the
        chain concerned)."""
        for notice in notices:
            self.events.emit(
                Alert.of(notice.alert, block=block, entries=notice.entries, detail=notice.detail)
            )

    async def read_venue(self, deadline: float) -> VenueRead | None:
        """Quote, position and balance by ``deadline`` (loop time), or None when they failed
        (reported). Unknown orders are settled before the position is read. Raises
        ``AuthenticationError`` (the venue refused the key: the tick halts trading)."""
        try:
            async with asyncio.timeout_at(deadline):
                self.cadence.new_tick()
                quote = await self.exchange.mark_quote()
                if self.ledger.pending:
                    self.settled(await self.ledger.settle_pending())
                    self.ledger.raise_if_pending()
                position = await self.exchange.position()
                balance = await self._balance(quote.mark_price)
        except TimeoutError:
            self._fail(
                "exchange", ExchangeError(f"exchange reads took over {self.read_timeout_s:g}s")
            )
            return None
        except AuthenticationError:
            raise  # the key refused: trading halts (engine/halts.py), not a failed read
        except VenueDataError as exc:
            # a venue row the adapter cannot trust (e.g. contracts null): never read as flat
            self.events.emit(Alert.of("venue.unreadable", error=safe_str(exc)))
            self._fail("exchange", exc)
            return None
        except ExchangeError as exc:
            self._fail("exchange", exc)
            return None
        return VenueRead(quote, position, balance)

    async def _balance(self, mark: Decimal) -> AccountBalance:
        """The kept balance while the cadence allows it, else read now (``cadence``)."""
        now = self.clock.now()
        balance = self.cadence.kept_balance(now, mark)
        if balance is None:
            balance = await self.exchange.balance()
            self.cadence.saw_balance(balance, now, mark)
        return balance

    async def sharpen(self, reads: Reads) -> Reads:
        """``reads`` made fit to size an order: when the side-effect-free plan of ``reads``
        places one, the tick's quote with the book (best bid/ask for the slippage cap: the
        book alone is read, ``PerpExchange.order_book``) and a balance read now (unless this
        tick's read step just read it) replace the lean ones; else ``reads`` unchanged.
        Raises ``ExchangeError`` (the tick fails, nothing placed)."""
        if self._rules is None:  # loaded by read(); without them nothing is sized
            return reads
        dry = plan_tick(
            reads,
            self.guard_state,
            self.policy_state,
            self.operator,
            PlanLimits(self.guard.config, self.settings),
            self.policy,
            self._rules,
        )
        if not dry.places_order or reads.venue.quote.bid is not None:
            return reads
        try:
            async with asyncio.timeout_at(self.read_deadline()):
                quote = await self.exchange.order_book(reads.venue.quote)  # the book only
                if self.cadence.balance_read_this_tick:
                    return replace(reads, venue=replace(reads.venue, quote=quote))
                balance = await self.exchange.balance()
        except TimeoutError:
            raise ExchangeError(f"order reads took over {self.read_timeout_s:g}s") from None
        self.cadence.saw_balance(balance, reads.now_s, quote.mark_price)
        return replace(reads, venue=VenueRead(quote, reads.venue.position, balance))

    def settled(self, results: tuple[PlaceResult, ...]) -> None:
        """Orders of earlier ticks settled now: an ``order`` event each, and their fills
        counted as own by the position watch."""
        for result in results:
            if isinstance(result, Placed):
                self.events.emit(OrderEvent(result.order))
                self.position_watch.own_order(result.order)
                self.cadence.own_order()

    def _check_reorg(self, snapshot: ChainSnapshot) -> None:
        """Alert when a block we ticked on was replaced; the tick recomputes from fresh reads."""
        number, new_hash = snapshot.block_number, snapshot.block_hash
        old_hash = self._block_hashes.get(number)
        if old_hash is not None and old_hash != new_hash:
            self.events.emit(
                Alert.of("chain.reorg", block=number, old_hash=old_hash, new_hash=new_hash)
            )
        self._block_hashes[number] = new_hash
        for stale in [b for b in self._block_hashes if b < number - _REORG_DEPTH]:
            del self._block_hashes[stale]
