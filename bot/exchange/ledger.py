"""``OrderLedger``: the one owner of this bot's orders, from intent to settled outcome.

Rules (ARCHITECTURE.md, "Exchange truth" and "Idempotency"):

* every order comes from an intent whose client id is a pure function of (bot, block, seq)
  (:meth:`OrderLedger.next_intent`); the sequence is restored from the store at :meth:`open`;
* the intent is written to the store before it is sent (write-ahead), and every outcome is
  written in one store transaction (order update + intent status);
* every state change goes through :class:`~bot.exchange.intent_tracker.IntentTracker`'s
  transition table; a move of the ledger's own the table does not allow raises
  ``IllegalTransition`` (a bug); a venue answer it does not allow raises
  ``IllegalVenueAnswer`` with the intent left unsettled (recorded ``unknown``, looked up
  again, nothing new sent): the engine halts trading on it;
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
* :class:`Rejected` - refused (``InvalidOrder``, ``InsufficientMargin``, and
  ``AuthenticationError``: the key refused, the engine halts trading) or never sent
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
from decimal import Decimal

import structlog

from bot import errors
from bot.crashpoints import crash_point
from bot.domain import Order, OrderIntent, Side
from bot.exchange.client_ids import block_of, client_id_prefix, client_order_id
from bot.exchange.intent_tracker import (
    TERMINAL_STATES,
    IllegalVenueAnswer,
    IntentState,
    IntentTracker,
    TrackedIntent,
    state_of_order,
    stored_status,
)
from bot.exchange.ledger_checks import check_running_position, reconcile_venue
from bot.exchange.ledger_store import LedgerStore
from bot.exchange.place_results import NotPlaced, Placed, PlaceResult, Rejected, Unknown
from bot.exchange.position_check import OnMismatch, PositionCheck, StartupReconciliation
from bot.exchange.venue_calls import LedgerSettings, Sleep, VenueCalls
from bot.ports import Clock, PerpExchange
from bot.safety import safe_str

__all__ = [
    "POSITION_CHECK_EVERY_TICKS",
    "LedgerSettings",
    "NotPlaced",
    "OnMismatch",
    "OrderLedger",
    "PlaceResult",
    "Placed",
    "PositionCheck",
    "Rejected",
    "StartupReconciliation",
    "Unknown",
    "client_id_prefix",
    "client_order_id",
]

log = structlog.get_logger("hedgebot.ledger")


# Cadence of check_position (bot/engine/position_watch.py): every this many ticks, and on any
# tick whose venue position changed without an own fill (it reads every stored fill, so not
# on every tick).
POSITION_CHECK_EVERY_TICKS = 20


# Nothing was placed: the venue refused the order or the request (a refused key is refused
# before any order is made), or the request never left.
_REFUSED = (
    errors.InvalidOrder,
    errors.InsufficientMargin,
    errors.AuthenticationError,
    errors.ExchangeUnavailable,
)


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
    def seq(self) -> int:
        """The client-id sequence number of the newest intent (0 before the first)."""
        return self._seq

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
        self.tracker.track(intent, block_of(cid), IntentState.INTENT)
        await self.store.record_intent(self.clock.now(), block_of(cid), intent)
        crash_point("before_submit")
        self.tracker.apply(cid, IntentState.SUBMITTED)
        try:
            order = await self.venue.send(intent)
        except _REFUSED as exc:
            return await self._refused(intent, exc)
        except errors.OrderOutcomeUnknown:
            # confirmed by id next; a failure is reported once, by its outcome
            log.debug("order.unanswered", client_order_id=cid)
            self.tracker.apply(cid, IntentState.UNKNOWN)
        except errors.ExchangeError as exc:  # failed after sending: unknown, not confirmed
            return await self._unknown(intent, errors.OrderOutcomeUnknown(str(exc), cid))
        except BaseException:
            self.tracker.apply(cid, IntentState.UNKNOWN)  # settled by client id later
            raise
        else:
            if state_of_order(order) in TERMINAL_STATES:
                return await self._settled(intent, order)
            await self.apply_answer(cid, order, IntentState.OPEN)  # the venue has it
        return await self._confirm(intent)

    async def _refused(self, intent: OrderIntent, exc: errors.ExchangeError) -> Rejected:
        """Nothing was placed: the venue refused, or the order never left."""
        cid = intent.client_order_id
        self.tracker.apply(cid, IntentState.REJECTED)
        await self.store.mark_intent(cid, stored_status(IntentState.REJECTED))
        if isinstance(exc, errors.ExchangeUnavailable):  # the engine's tick.failed says it
            log.debug("order.not_sent", client_order_id=cid, error=safe_str(exc))
        elif isinstance(exc, errors.AuthenticationError):  # the engine's halt alert says it
            log.debug("order.rejected", client_order_id=cid, error=safe_str(exc))
        else:
            log.warning("order.rejected", client_order_id=cid, error=safe_str(exc))
        return Rejected(intent, exc)

    async def _unknown(self, intent: OrderIntent, exc: errors.OrderOutcomeUnknown) -> Unknown:
        """Still unsettled after what could be tried now."""
        self.tracker.apply(intent.client_order_id, IntentState.UNKNOWN)
        await self.store.mark_intent(intent.client_order_id, stored_status(IntentState.UNKNOWN))
        return Unknown(intent, exc)

    async def _settled(self, intent: OrderIntent, order: Order) -> Placed:
        """The venue's final word: tracked and recorded (order update + intent status)."""
        await self.apply_answer(intent.client_order_id, order)
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
        return await self._absent(intent, f"order {cid} was never placed")

    async def _absent(self, intent: OrderIntent, reason: str) -> NotPlaced | Unknown:
        """The venue says it has no such order: never placed, unless this process saw the
        venue have it (then the answer is a venue inconsistency: still unknown)."""
        cid = intent.client_order_id
        tracked = self.tracker.get(cid)
        if tracked is not None and tracked.state is IntentState.OPEN:
            log.warning("order.vanished", client_order_id=cid)
            return Unknown(intent, errors.OrderOutcomeUnknown(f"open order {cid} not found", cid))
        self.tracker.apply(cid, IntentState.NOT_PLACED)
        await self.store.mark_intent(cid, stored_status(IntentState.NOT_PLACED))
        log.warning("order.not_placed", client_order_id=cid)
        return NotPlaced(intent, reason)

    def _mark_unknown(self, cid: str) -> None:
        tracked = self.tracker.get(cid)
        if tracked is not None and tracked.state is not IntentState.UNKNOWN:
            self.tracker.apply(cid, IntentState.UNKNOWN)

    async def apply_answer(
        self, cid: str, order: Order, state: IntentState | None = None
    ) -> IntentState:
        """Apply the venue's ``order`` to intent ``cid`` (as ``state``, default the one the
        order reports); the intent's new state. An answer outside the transition table
        leaves the intent unsettled (``unknown``, recorded) and raises
        ``IllegalVenueAnswer``."""
        try:
            return self.tracker.apply_answer(cid, order, state).state
        except IllegalVenueAnswer:
            self._mark_unknown(cid)
            await self.store.mark_intent(cid, stored_status(IntentState.UNKNOWN))
            raise

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
            return await self._absent(intent, f"order {cid} was never seen by the venue")
        state = await self.apply_answer(cid, order)
        if state is IntentState.UNKNOWN or (state is IntentState.OPEN and open_is_pending):
            error = errors.OrderOutcomeUnknown(f"order {cid} is {order.status.value}", cid)
            return Unknown(intent, error)
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
        results = await self._settle(open_is_pending=False)
        unknown = [r.intent.client_order_id for r in results if isinstance(r, Unknown)]
        if unknown:
            raise errors.OrderOutcomeUnknown(
                f"stored orders still unknown: {', '.join(unknown)}", unknown[0]
            )
        return await reconcile_venue(self, results, on_mismatch or self.on_mismatch, fills_since_ms)

    async def check_position(self, venue_position_base: Decimal) -> PositionCheck:
        """The venue's position against ``baseline + fills``, and anyone else's fills no
        check classified before (each fill is classified once, by trade id; both numbers in
        base units).

        A mismatch is logged once as ``position.mismatch`` (the engine alerts it and, when
        ``action`` is ``paused``, pauses); with ``adopt`` the venue's position becomes the
        new baseline (recorded). Cadence (:mod:`bot.engine.position_watch`): every
        ``POSITION_CHECK_EVERY_TICKS`` ticks, and on a tick whose venue position changed by
        more than its own fills (checked before that tick's plan), with the position read
        after earlier orders settled (see :mod:`bot.exchange.ledger_checks`).
        """
        check = await check_running_position(self, venue_position_base, self._last_mismatch)
        numbers = (check.venue_position_base, check.expected_position_base)
        self._last_mismatch = None if check.ok or check.action == "adopted" else numbers
        return check
