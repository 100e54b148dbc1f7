"""``OrderLedger``: the one owner of this bot's orders, from intent to settled outcome.

Rules (ARCHITECTURE.md, "Exchange truth" and "Idempotency"):

* every order comes from an intent whose client id is a pure function of (bot, block, seq)
  (:meth:`OrderLedger.next_intent`); the sequence is restored from the store at :meth:`open`;
* the intent is written to the store before it is sent (write-ahead), and every outcome is
  written in one store transaction (order update + intent status);
* every state change goes through :class:`~bot.exchange.intent_tracker.IntentTracker`'s
  transition table; a change the table does not allow raises ``IllegalTransition`` (a bug);
* a submit that times out or disconnects after sending is *unknown*, never failed: it is looked
  up by client id over a grace period; confirmed absent it is :class:`NotPlaced` and never
  re-sent (the next tick decides again from the venue's position);
* while any intent is unsettled no new order is placed: :meth:`settle_pending` is the one
  resolution loop, at start-up (:meth:`reconcile_at_start`) and in the tick;
* a rate-limited submit is retried under the same client id after the venue's ``Retry-After``
  (or an exponential backoff), unless the venue asks for longer than ``max_wait_s``;
* at start this bot's resting orders are cancelled and the venue's position, open orders and
  recent fills compared with the store; while running :meth:`check_position` compares the
  position with ``baseline + fills`` and spots fills of orders that are no intent of this bot.
  ``on_mismatch`` decides between adopting the venue's truth and pausing.

What :meth:`place` returns (the engine branches on these; exceptions are for what it must
not branch on: ``StoreError``, cancellation, bugs):

* :class:`Placed` - the venue has the order (filled, partly filled, or an IOC that expired);
* :class:`Rejected` - refused (``InvalidOrder``, ``InsufficientMargin``) or never sent
  (``ExchangeUnavailable``/``RateLimited``: the engine fails the tick as a venue error, as
  before); nothing was placed;
* :class:`NotPlaced` - an unknown outcome confirmed absent after the grace period;
* :class:`Unknown` - still unsettled; the engine alerts ``order.outcome_unknown`` and fails
  the tick, and :meth:`settle_pending` resolves it before anything new is sent.

Changes to the interface agreed with the engine: ``reconcile_at_start(*, on_mismatch=None,
fills_since_ms=None)`` (defaults: the ledger's ``on_mismatch``, the store's fill cursor);
``open()`` must run after ``exchange.start()`` (it reads the market symbol);
:meth:`raise_if_pending` raises the ``OrderOutcomeUnknown`` the old in-tick resolution raised.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import structlog

from bot import errors
from bot.crashpoints import crash_point
from bot.domain import Fill, Order, OrderIntent, Side
from bot.exchange.intent_tracker import (
    TERMINAL_STATES,
    IntentState,
    IntentTracker,
    TrackedIntent,
    state_of_order,
    stored_status,
)
from bot.exchange.ledger_store import LedgerStore
from bot.exchange.position_check import (
    OnMismatch,
    PositionCheck,
    StartupReconciliation,
    adopted_baseline,
    check_running,
    compare,
    counted_fills,
)
from bot.exchange.venue_calls import LedgerSettings, Sleep, VenueCalls
from bot.ports import Clock, PerpExchange
from bot.store.meta import Meta

__all__ = [
    "LedgerSettings",
    "NotPlaced",
    "OrderLedger",
    "PlaceResult",
    "Placed",
    "Rejected",
    "Unknown",
    "client_id_prefix",
    "client_order_id",
]

log = structlog.get_logger("hedgebot.ledger")

_CLIENT_ID_MAX = 36  # Binance's limit; also fits Bybit/OKX
_OWN_ID = re.compile(r"^hb-[0-9a-f]{8}-(\d+)-(\d+)$")

# Recommended cadence of check_position: every this many ticks, and on any tick whose venue
# position changed without an own fill (it reads every stored fill, so not on every tick).
POSITION_CHECK_EVERY_TICKS = 20


def client_id_prefix(bot_id: str) -> str:
    """``hb-<bot hash>-``: what every client order id of this bot starts with."""
    return f"hb-{hashlib.sha256(bot_id.encode()).hexdigest()[:8]}-"


def client_order_id(bot_id: str, block: int, seq: int) -> str:
    """``hb-<bot hash>-<block>-<seq>``: unique per bot and tick, the same on every retry.

    Raises ``ValueError`` when longer than the venue's 36 characters."""
    cid = f"{client_id_prefix(bot_id)}{block}-{seq}"
    if len(cid) > _CLIENT_ID_MAX:
        raise ValueError(f"client order id {cid} longer than {_CLIENT_ID_MAX}")
    return cid


@dataclass(frozen=True, slots=True)
class Placed:
    """The venue has the order (maybe partly filled, or an IOC that expired)."""

    intent: OrderIntent
    order: Order


@dataclass(frozen=True, slots=True)
class Rejected:
    """The venue refused it, or it was never sent: nothing was placed."""

    intent: OrderIntent
    error: errors.ExchangeError


@dataclass(frozen=True, slots=True)
class NotPlaced:
    """An unknown outcome confirmed absent after the grace period; never re-sent."""

    intent: OrderIntent
    reason: str


@dataclass(frozen=True, slots=True)
class Unknown:
    """Still unsettled; :meth:`OrderLedger.settle_pending` resolves it before any new order."""

    intent: OrderIntent
    error: errors.OrderOutcomeUnknown


PlaceResult = Placed | Rejected | NotPlaced | Unknown

_REFUSED = (errors.InvalidOrder, errors.InsufficientMargin, errors.ExchangeUnavailable)


class OrderLedger:
    """Places orders through a ``PerpExchange`` without ever losing or duplicating one."""

    def __init__(
        self,
        exchange: PerpExchange,
        store: LedgerStore,
        bot_id: str,
        clock: Clock,
        *,
        settings: LedgerSettings | None = None,
        on_mismatch: OnMismatch = "pause",
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.store = store
        self.bot_id = bot_id
        self.clock = clock
        self.on_mismatch: OnMismatch = on_mismatch
        self.venue = VenueCalls(exchange, settings or LedgerSettings(), sleep)
        self.tracker = IntentTracker()
        self._seq = 0
        self._symbol: str | None = None
        self._last_mismatch: tuple[Decimal, Decimal] | None = None

    @property
    def exchange(self) -> PerpExchange:
        """The venue this ledger trades on."""
        return self.venue.exchange

    @property
    def settings(self) -> LedgerSettings:
        """Retry and grace-period settings."""
        return self.venue.settings

    @settings.setter
    def settings(self, value: LedgerSettings) -> None:
        self.venue.settings = value

    # start -------------------------------------------------------------------------------
    async def open(self) -> None:
        """Restore the client-id sequence and the store's unsettled intents (as pending: a
        stored ``new`` may have been sent before a crash). Call after ``exchange.start()``."""
        self._seq = await self.store.intent_count()
        self._symbol = (await self.exchange.market_rules()).symbol
        blocks = await self.store.intent_blocks()
        for intent in await self.store.unresolved_intents():
            if self.tracker.get(intent.client_order_id) is None:
                block = blocks.get(intent.client_order_id, 0)
                self.tracker.track(intent, block, IntentState.UNKNOWN)

    def next_intent(
        self,
        block: int,
        side: Side,
        size_base: Decimal,
        *,
        reduce_only: bool,
        limit_price: Decimal | None,
        reason: str,
    ) -> OrderIntent:
        """The next intent of this bot at ``block`` (client id ``hb-<bot>-<block>-<seq>``).

        ``reason`` is logged with the order. Raises ``RuntimeError`` before :meth:`open`."""
        if self._symbol is None:
            raise RuntimeError("OrderLedger.open() was not called")
        self._seq += 1
        intent = OrderIntent(
            client_order_id=client_order_id(self.bot_id, block, self._seq),
            symbol=self._symbol,
            side=side,
            amount_base=size_base,
            reduce_only=reduce_only,
            limit_price=limit_price,
        )
        log.info("order.intent", client_order_id=intent.client_order_id, reason=reason)
        return intent

    # placing -----------------------------------------------------------------------------
    @property
    def pending(self) -> bool:
        """True while an intent is sent and unsettled (no new order may be placed)."""
        return any(True for _ in self.tracker.pending())

    def pending_intents(self) -> tuple[OrderIntent, ...]:
        """The unsettled intents, oldest first."""
        return tuple(t.intent for t in self.tracker.pending())

    def raise_if_pending(self) -> None:
        """Raise ``OrderOutcomeUnknown`` naming the unsettled intents, if any."""
        ids = [i.client_order_id for i in self.pending_intents()]
        if ids:
            raise errors.OrderOutcomeUnknown(f"orders still unknown: {', '.join(ids)}", ids[0])

    async def place(self, intent: OrderIntent) -> PlaceResult:
        """Write ``intent`` ahead, send it once, settle its outcome and record it.

        Raises ``OrderOutcomeUnknown`` when an earlier intent is unsettled (call
        :meth:`settle_pending` first), ``StoreError`` when the store cannot be written, and
        lets cancellation propagate (the intent stays pending, looked up later).
        """
        if self.pending:
            raise errors.OrderOutcomeUnknown(
                "earlier orders are unresolved: call settle_pending() first",
                self.pending_intents()[0].client_order_id,
            )
        cid = intent.client_order_id
        self.tracker.track(intent, _block_of(cid), IntentState.INTENT)
        await self.store.record_intent(self.clock.now(), _block_of(cid), intent)
        crash_point("before_submit")
        self.tracker.apply(cid, IntentState.SUBMITTED)
        try:
            order = await self.venue.send(intent)
        except _REFUSED as exc:
            return await self._refused(intent, exc)
        except errors.OrderOutcomeUnknown:
            log.warning("order.outcome_unknown", client_order_id=cid)
            self.tracker.apply(cid, IntentState.UNKNOWN)
        except errors.ExchangeError as exc:  # failed after sending: unknown, not confirmed
            return await self._unknown(intent, errors.OrderOutcomeUnknown(str(exc), cid))
        except BaseException:
            self.tracker.apply(cid, IntentState.UNKNOWN)  # settled by client id later
            raise
        else:
            if state_of_order(order) in TERMINAL_STATES:
                return await self._settled(intent, order)
            self.tracker.apply(cid, IntentState.OPEN, order)
        return await self._confirm(intent)

    async def _refused(self, intent: OrderIntent, exc: errors.ExchangeError) -> Rejected:
        """Nothing was placed: the venue refused, or the order never left."""
        cid = intent.client_order_id
        self.tracker.apply(cid, IntentState.REJECTED)
        await self.store.mark_intent(cid, stored_status(IntentState.REJECTED))
        log.warning("order.rejected", client_order_id=cid, error=type(exc).__name__)
        return Rejected(intent, exc)

    async def _unknown(self, intent: OrderIntent, exc: errors.OrderOutcomeUnknown) -> Unknown:
        """Still unsettled after what could be tried now."""
        self.tracker.apply(intent.client_order_id, IntentState.UNKNOWN)
        await self.store.mark_intent(intent.client_order_id, stored_status(IntentState.UNKNOWN))
        return Unknown(intent, exc)

    async def _settled(self, intent: OrderIntent, order: Order) -> Placed:
        """The venue's final word: tracked and recorded (order update + intent status)."""
        self.tracker.apply(intent.client_order_id, state_of_order(order), order)
        crash_point("after_fill")
        await self.store.record_order(self.clock.now(), order)
        crash_point("after_store")
        return Placed(intent, order)

    async def _confirm(self, intent: OrderIntent) -> PlaceResult:
        """Settle an unknown or working order over the grace period; never re-send it."""
        cid = intent.client_order_id
        try:
            order = await self.venue.confirm(cid)
        except errors.OrderOutcomeUnknown as exc:
            return await self._unknown(intent, exc)
        except BaseException:
            self._mark_unknown(cid)
            raise
        if order is not None:
            return await self._settled(intent, order)
        return await self._not_placed(intent, f"order {cid} was never placed")

    async def _not_placed(self, intent: OrderIntent, reason: str) -> NotPlaced:
        cid = intent.client_order_id
        self.tracker.apply(cid, IntentState.NOT_PLACED)
        await self.store.mark_intent(cid, stored_status(IntentState.NOT_PLACED))
        log.warning("order.not_placed", client_order_id=cid)
        return NotPlaced(intent, reason)

    def _mark_unknown(self, cid: str) -> None:
        tracked = self.tracker.get(cid)
        if tracked is not None and tracked.state is not IntentState.UNKNOWN:
            self.tracker.apply(cid, IntentState.UNKNOWN)

    # settling ----------------------------------------------------------------------------
    async def settle_pending(self) -> tuple[PlaceResult, ...]:
        """Look every unsettled intent up by client id once (with retries): found in a final
        state -> ``Placed`` (recorded), absent -> ``NotPlaced`` (recorded as rejected, never
        re-sent), still working or unanswerable -> ``Unknown`` (``pending`` stays True)."""
        return await self._settle(open_is_pending=True)

    async def _settle(self, *, open_is_pending: bool) -> tuple[PlaceResult, ...]:
        results: list[PlaceResult] = []
        for tracked in list(self.tracker.pending()):
            results.append(await self._settle_one(tracked, open_is_pending=open_is_pending))
        return tuple(results)

    async def _settle_one(self, tracked: TrackedIntent, *, open_is_pending: bool) -> PlaceResult:
        intent, cid = tracked.intent, tracked.client_order_id
        try:
            order = await self.venue.lookup(cid)
        except errors.OrderOutcomeUnknown as exc:  # open stays open, unknown stays unknown
            return Unknown(intent, exc)
        if order is None:
            log.warning("order.never_seen", client_order_id=cid)
            return await self._not_placed(intent, f"order {cid} was never seen by the venue")
        state = state_of_order(order)
        self.tracker.apply(cid, state, order)
        if state is IntentState.OPEN and open_is_pending:
            return Unknown(intent, errors.OrderOutcomeUnknown(f"order {cid} is open", cid))
        await self.store.record_order(self.clock.now(), order)
        log.info("order.resolved", client_order_id=cid, status=order.status.value)
        return Placed(intent, order)

    # checking ----------------------------------------------------------------------------
    async def reconcile_at_start(
        self, *, on_mismatch: OnMismatch | None = None, fills_since_ms: int | None = None
    ) -> StartupReconciliation:
        """Settle stored intents, cancel this bot's resting orders, compare with the venue.

        See :mod:`bot.exchange.position_check`. Raises ``OrderOutcomeUnknown`` when a stored
        intent cannot be resolved (the engine must not trade on a guess).
        """
        rule = on_mismatch or self.on_mismatch
        results = await self._settle(open_is_pending=False)
        unknown = [r.intent.client_order_id for r in results if isinstance(r, Unknown)]
        if unknown:
            raise errors.OrderOutcomeUnknown(
                f"stored orders still unknown: {', '.join(unknown)}", unknown[0]
            )
        intent_ids = set((await self.store.intent_blocks()).keys())
        open_orders = await self.exchange.open_orders()
        cancelled = await self._cancel_own(open_orders, intent_ids)
        cursor = await self._fill_cursor(fills_since_ms)
        baseline = await self.store.get(Meta.POSITION_BASELINE)
        after_ms = await self.store.get(Meta.POSITION_BASELINE_AFTER_MS)
        position = await self.exchange.position()
        stored, venue_fills = await self.store.read_fills(), await self.exchange.fills(cursor)
        findings = compare(
            own_prefix=client_id_prefix(self.bot_id),
            baseline_base=baseline,
            stored_fills=stored,
            intent_ids=intent_ids,
            venue_position_base=position.size_base,
            venue_open_orders=open_orders,
            venue_fills=venue_fills,
            baseline_after_ms=after_ms,
        )
        seen, _ = counted_fills(stored, venue_fills, after_ms)
        action: Literal["ok", "adopted", "paused"] = "ok"
        if not findings.ok:
            action = "adopted" if rule == "adopt" else "paused"
        await self._checked(seen, position.size_base, cursor, adopt=action == "adopted")
        log.info(
            "orders.reconciled_at_start",
            resolved=sum(isinstance(r, Placed) for r in results),
            never_seen=sum(isinstance(r, NotPlaced) for r in results),
            cancelled=len(cancelled),
            venue_position_base=str(findings.venue_position_base),
            expected_position_base=str(findings.expected_position_base),
            mismatches=len(findings.mismatches),
            action=action,
        )
        return StartupReconciliation(
            findings=findings,
            resolved=tuple(r.order for r in results if isinstance(r, Placed)),
            never_seen=tuple(r.intent for r in results if isinstance(r, NotPlaced)),
            cancelled=cancelled,
            action=action,
        )

    async def _cancel_own(
        self, open_orders: list[Order], intent_ids: set[str]
    ) -> tuple[Order, ...]:
        """Cancel this bot's resting orders (IOC only: a resting one is stale); record those
        the store knows. Anyone else's orders are left alone."""
        prefix = client_id_prefix(self.bot_id)
        cancelled: list[Order] = []
        for order in open_orders:
            if not order.client_order_id.startswith(prefix):
                continue
            final = await self.venue.cancel(order)
            cancelled.append(final)
            if self.tracker.get(order.client_order_id) is not None:
                self.tracker.apply(order.client_order_id, state_of_order(final), final)
            if order.client_order_id in intent_ids:
                await self.store.record_order(self.clock.now(), final)
            log.warning(
                "order.cancelled_at_start",
                client_order_id=order.client_order_id,
                status=final.status.value,
                filled_base=str(final.filled_base),
            )
        return tuple(cancelled)

    async def check_position(self, venue_position_base: Decimal) -> PositionCheck:
        """The venue's position against ``baseline + fills``, and anyone else's fills since
        the last check (both numbers in base units).

        A mismatch is logged once as ``position.mismatch`` (the engine alerts it and, when
        ``action`` is ``paused``, pauses); with ``adopt`` the venue's position becomes the
        new baseline (recorded). Cadence: every ``POSITION_CHECK_EVERY_TICKS`` ticks and on
        a tick whose venue position changed by more than its own fills, with the position
        read after the tick's orders settled.
        """
        cursor = await self._fill_cursor(None)
        after_ms = await self.store.get(Meta.POSITION_BASELINE_AFTER_MS)
        checked_ms = await self.store.get(Meta.POSITION_CHECKED_MS)
        stored, venue_fills = await self.store.read_fills(), await self.exchange.fills(cursor)
        counted, _ = counted_fills(stored, venue_fills, after_ms)
        check = check_running(
            baseline_base=await self.store.get(Meta.POSITION_BASELINE),
            counted=counted,
            intent_ids=(await self.store.intent_blocks()).keys(),
            checked_after_ms=cursor if checked_ms is None else checked_ms,
            venue_position_base=venue_position_base,
            on_mismatch=self.on_mismatch,
        )
        numbers = (check.venue_position_base, check.expected_position_base)
        if not check.ok:
            repeated = self._last_mismatch == numbers and not check.foreign_fills
            check = PositionCheck(*numbers, check.foreign_fills, check.action, repeated)
            if not repeated:
                log.warning(
                    "position.mismatch",
                    venue_position_base=str(numbers[0]),
                    expected_position_base=str(numbers[1]),
                    foreign_fills=[f.trade_id for f in check.foreign_fills],
                    action=check.action,
                )
        self._last_mismatch = None if check.ok or check.action == "adopted" else numbers
        await self._checked(counted, venue_position_base, cursor, adopt=check.action == "adopted")
        return check

    async def _fill_cursor(self, override: int | None) -> int:
        if override is not None:
            return override
        return await self.store.get(Meta.FILLS_SINCE_MS) or 0

    async def _checked(
        self, seen: list[Fill], venue_position_base: Decimal, cursor: int, *, adopt: bool
    ) -> None:
        """Record what this check saw (and the adopted baseline) in one transaction."""
        newest = max((f.timestamp + 1 for f in seen), default=None)
        async with self.store.transaction():
            if newest is not None:
                await self.store.set(Meta.POSITION_CHECKED_MS, newest)
            if adopt:
                baseline, after_ms = adopted_baseline(venue_position_base, seen, cursor)
                await self.store.set(Meta.POSITION_BASELINE, baseline)
                await self.store.set(Meta.POSITION_BASELINE_AFTER_MS, after_ms)


def _block_of(client_id: str) -> int:
    """The block in one of our client ids (0 for an id of another shape)."""
    match = _OWN_ID.match(client_id)
    return int(match.group(1)) if match else 0
