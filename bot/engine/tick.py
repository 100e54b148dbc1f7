"""One tick: read -> plan -> act -> account -> publish.

All I/O of a tick happens in :meth:`TickRunner.read` (chain, unknown orders settled, venue,
kill-switch file) and yields one :class:`bot.core.plan.Reads`; :func:`bot.core.plan.plan_tick`
is pure; ``act`` places the planned order; ``account`` keeps the decision, fills, funding and
PnL; ``publish`` sends the state and the tick's events through the one fan-out. A failed
chain read is the same pipeline with no snapshot (only emergency reductions may trade). A
store that cannot be written stops the bot (``StoreError`` propagates). Bad data of one tick
(any of ``TICK_FAULTS``) fails that tick only; a venue that refuses the key or answers what
no venue should also halts trading until an operator resumes (:mod:`bot.engine.halts`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import structlog

from bot.core.fill_position import position_after_fill
from bot.core.gate import GuardState, MarginView, VenueRead, margin_view
from bot.core.operator import OperatorState
from bot.core.plan import HedgeSettings, PlanLimits, Reads, TickPlan, plan_tick
from bot.core.pnl import Attribution
from bot.core.policy import HedgePolicy, PolicyState
from bot.core.protect import UnreadableEpisode
from bot.core.trading_status import trading_status
from bot.domain import (
    ChainSnapshot,
    MarketRules,
)
from bot.engine.account import AccountSteps
from bot.engine.act import ActSteps
from bot.engine.cadence import VenueCadence, rest_total
from bot.engine.control import OperatorControl
from bot.engine.halts import HALTING_FAULTS, HaltingFault, VenueHalts, venue_name
from bot.engine.position_watch import PositionWatch
from bot.engine.reads import ReadSteps
from bot.engine.report import Acted, EngineStats, TickReport
from bot.engine.sink import CommandSource, EngineTelemetry, EventFanOut, NullTelemetry
from bot.errors import (
    ExchangeError,
    HedgebotError,
    OrderOutcomeUnknown,
    StoreError,
)
from bot.events import Alert, DecisionEvent, TickFailed, TickState
from bot.exchange.ledger import OrderLedger
from bot.guards import RiskGuard
from bot.ports import ChainReader, Clock, PerpExchange
from bot.safety import describe_exc
from bot.store.base import RecordStore
from bot.venue_history import VenueHistory

log = structlog.get_logger("hedgebot.engine")

# What one tick's data may raise without ending the loop (StoreError is re-raised first).
# decimal.InvalidOperation and ZeroDivisionError are ArithmeticErrors, KeyError a LookupError.
TICK_FAULTS: tuple[type[Exception], ...] = (
    HedgebotError,
    ValueError,
    ArithmeticError,
    LookupError,
    TypeError,
)


class TickRunner(ReadSteps, ActSteps, AccountSteps):
    """The state of one bot between ticks, and the tick itself."""

    def __init__(
        self,
        *,
        bot_id: str,
        chain: ChainReader,
        exchange: PerpExchange,
        ledger: OrderLedger,
        store: RecordStore,
        policy: HedgePolicy,
        settings: HedgeSettings,
        clock: Clock,
        telemetry: EngineTelemetry | None = None,
        price_observers: list[Callable[[Decimal], None]] | None = None,
        commands: CommandSource | None = None,
        guard: RiskGuard | None = None,
        read_timeout_s: float = 30.0,
    ) -> None:
        self.bot_id = bot_id
        self.chain = chain
        self.exchange = exchange
        self.ledger = ledger
        self.store = store
        self.policy = policy
        self.settings = settings
        self.clock = clock
        self.telemetry: EngineTelemetry = telemetry or NullTelemetry()
        self.stats = EngineStats()
        self.events = EventFanOut(lambda: self.telemetry, clock, self.stats.alerts)
        self.history = VenueHistory(exchange, store)
        self.price_observers = price_observers or []
        self.guard = guard or RiskGuard.with_defaults(store.path, clock)
        self.read_timeout_s = read_timeout_s
        self.commands = commands  # operator commands, applied between ticks (loop.py)
        self.guard_state = GuardState()
        self._guard_before = self.guard_state
        self.policy_state = PolicyState()
        self.control = OperatorControl(store, self.events)
        self.position_watch = PositionWatch(ledger, self.events, self.control)
        self.halts = VenueHalts(self.events, self.control, venue_name(exchange))
        self._rules: MarketRules | None = None
        self._skipped_unreported = 0
        self.last_report: TickReport | None = None
        self._in_range: dict[str, bool] = {}
        self.pnl: Attribution | None = None
        self._block_hashes: dict[int, str] = {}
        self._unreadable = UnreadableEpisode()
        self.cadence = VenueCadence()  # what the venue is asked when (engine/cadence.py)
        self._calls_at: int | None = None  # the venue's REST count when this tick began

    @property
    def operator(self) -> OperatorState:
        """The operator's state (held, stored and changed by ``control``)."""
        return self.control.state

    @operator.setter
    def operator(self, state: OperatorState) -> None:
        self.control.state = state  # a one-shot flag set or used up: not a stored change

    @property
    def paused(self) -> bool:
        """No policy trading (operator ``halted`` or ``reducing``)."""
        return self.operator.paused

    @property
    def flattening(self) -> bool:
        """The operator's flatten is in force (``reducing``)."""
        return self.operator.flattening

    # the tick --------------------------------------------------------------------------
    async def tick(self, block: int) -> TickReport | None:
        """One pass of the pipeline for ``block``; None when the tick could not complete.

        A failed or late read ends the tick with no hedging trade (unknown is not zero; after
        a failed chain read only the protective reductions run); a tripped guard blocks the
        order, never the reading, recording and publishing. Any of ``TICK_FAULTS`` fails the
        tick (``tick.failed``, alert, error event); ``StoreError`` propagates.
        """
        started = time.perf_counter()
        self._calls_at = rest_total(self.exchange)  # the log line's venue_calls
        structlog.contextvars.bind_contextvars(bot_id=self.bot_id, block=block)
        try:
            report = await self._tick(block)
        except StoreError:
            raise
        except HALTING_FAULTS as exc:
            await self._halt(block, exc)
            report = None
        except TICK_FAULTS as exc:
            self._tick_crashed(block, exc)
            report = None
        finally:
            structlog.contextvars.unbind_contextvars("block")
        await self.events.flush(self.store)
        self._observe_tick(started, report)
        return report

    async def _tick(self, block: int) -> TickReport | None:
        """The table of contents of a tick."""
        await self.events.flush(self.store)  # those of start-up
        reads = await self.read(block)
        if reads is None:
            return None
        try:
            await self.position_watch.on_read(reads.venue.position.size_base)
            reads = await self.sharpen(reads)  # book and balance before an order
            plan = self.plan(reads)
            acted = await self.act(block, plan, reads)
            report = await self.account(block, reads, plan, acted)
        except StoreError as exc:
            self._fail("store", exc)
            raise
        except HALTING_FAULTS:
            raise  # trading halts (tick)
        except OrderOutcomeUnknown as exc:  # alerted (and logged) by act: not logged twice
            self._fail("exchange", exc, logged=False)
            return None
        except ExchangeError as exc:
            self._fail("exchange", exc)
            return None
        self.publish(reads, plan, acted, report)
        return report

    async def protect_blind(self) -> None:
        """No block could be had (every RPC endpoint down): run the protect-only pass anyway.

        Client ids stay unique: the order sequence is global, the block is the last one ticked
        (0 before the first). Faults are handled as in :meth:`tick`; ``StoreError`` propagates.
        """
        block = self.stats.last_block or 0
        try:
            venue = await self.read_venue(self.read_deadline())
            if venue is not None and self._rules is None:
                self._rules = await self.exchange.market_rules()
            if venue is not None:
                reads = await self.sharpen(self.reads_of(block, None, venue))  # book, balance
                plan = self.plan(reads)
                acted = await self.act(block, plan, reads)
                await self.account(block, reads, plan, acted)
                self.publish(reads, plan, acted, None)
        except StoreError as exc:
            self._fail("store", exc)
            raise
        except HALTING_FAULTS as exc:
            await self._halt(block, exc)
        except ExchangeError as exc:
            self._fail("exchange", exc)
        except TICK_FAULTS as exc:
            self._tick_crashed(block, exc)
        await self.events.flush(self.store)

    # plan ------------------------------------------------------------------------------
    def plan(self, reads: Reads) -> TickPlan:
        """The pure plan of the tick; the guard state and the risk alerts take effect now."""
        limits = PlanLimits(self.guard.config, self.settings)
        plan = plan_tick(
            reads,
            self.guard_state,
            self.policy_state,
            self.operator,
            limits,
            self.policy,
            self.rules,
        )
        self._guard_before, self.guard_state = self.guard_state, plan.guard_state
        self.control.saw_kill(reads.kill)
        if reads.snapshot is not None and self.pnl is None:  # the attribution opens here
            self.pnl = Attribution.opening(reads.venue.position.size_base)
        for alert in plan.alerts:
            self.events.emit(alert)
        return plan

    # act -------------------------------------------------------------------------------
    async def act(self, block: int, plan: TickPlan, reads: Reads) -> Acted:
        """Place the planned order (if any) through the ledger (its own write-ahead
        records); the hedge position after it, from the order's answer
        (:func:`bot.core.fill_position.position_after_fill`; read from the venue only when
        the answer does not say at what price it filled)."""
        position = reads.venue.position
        if not plan.places_order or plan.limit_price is None:
            return Acted(None, position)
        order = await self._execute(block, plan.decision, plan.limit_price)
        if order is None:
            return Acted(None, position)
        after = position_after_fill(position, order)  # the order's answer: no re-read
        if after is None:  # the answer does not say at what price: ask the venue
            after = await self.exchange.position()
        return Acted(order, after)

    # publish ---------------------------------------------------------------------------
    def publish(
        self, reads: Reads, plan: TickPlan, acted: Acted, report: TickReport | None
    ) -> None:
        """The tick's log line, the retained state and the decision event."""
        decision = plan.decision
        if report is None:
            self._log_protect_only(reads, plan, acted)
            return
        log.info(
            "tick.completed",
            block=report.block,
            price=str(report.snapshot.price),
            delta_base=str(decision.delta_base),
            target_base=str(decision.target_base),
            hedge_base=str(report.position.size_base),
            drift_base=str(decision.drift_base),
            band_base=str(decision.band_base),
            action=decision.action,
            reason=decision.reason,
            venue_calls=self._venue_calls(),
        )
        margin = margin_view(acted.position, self.guard.brackets) if acted.filled else plan.margin
        self.telemetry.publish_state(self._tick_state(report, margin, plan, reads))
        if decision.action != "hold":
            self.events.emit(DecisionEvent(report.block, decision))

    def _venue_calls(self) -> int | None:
        """REST requests this tick sent to the venue; None when the venue counts none."""
        now = rest_total(self.exchange)
        return None if now is None or self._calls_at is None else now - self._calls_at

    def _log_protect_only(self, reads: Reads, plan: TickPlan, acted: Acted) -> None:
        decision, view = plan.decision, plan.view
        line = log.warning if decision.action != "hold" else log.info
        line(
            "tick.protect_only",
            block=reads.block,
            action=decision.action,
            reason=decision.reason,
            hedge_base=str(acted.position.size_base),
            mark_price=str(reads.venue.quote.mark_price),
            kill_mode=view.kill_mode,
            margin_level=view.margin_assessment.level,
            filled_base=None if acted.order is None else str(acted.order.filled_base),
        )

    def _tick_state(
        self, report: TickReport, margin: MarginView, plan: TickPlan, reads: Reads
    ) -> TickState:
        """The typed ``state`` of a tick (the telemetry adapter builds the wire message)."""
        trading = trading_status(
            self.operator,
            reads.kill,
            plan.view,
            plan.breaches,
            self.guard_state,
            cause=self.control.cause,
        )
        return TickState(
            bot_id=self.bot_id,
            block=report.block,
            snapshot=report.snapshot,
            quote=report.quote,
            position=report.position,
            decision=report.decision,
            pnl=report.pnl,
            margin=margin,
            paused=self.paused,
            flattening=self.flattening,
            trading=trading,
        )

    def _observe_tick(self, started: float, report: TickReport | None) -> None:
        latency_s = time.perf_counter() - started
        if report is None:
            self.telemetry.observe_tick(latency_s, ok=False)
            return
        self.telemetry.observe_tick(latency_s, ok=True, skipped_blocks=self._skipped_unreported)
        self._skipped_unreported = 0

    # failures --------------------------------------------------------------------------
    def _tick_crashed(self, block: int, exc: Exception) -> None:
        """A tick ended by unexpected data: one log line (with the traceback), one alert,
        one error event; the loop goes on. The error text is bounded and escaped
        (``describe_exc``): this handler must not raise on hostile exception content."""
        self.stats.errors += 1
        self.stats.last_error = describe_exc(exc)
        log.error(
            "tick.failed", source="engine", block=block, error=self.stats.last_error, exc_info=exc
        )
        self.events.emit(TickFailed("engine", self.stats.last_error, logged=False))
        self.events.emit(
            Alert.of("tick.failed", logged=False, block=block, error=self.stats.last_error)
        )

    async def _halt(self, block: int, exc: HaltingFault) -> None:
        """A fault that halts trading until an operator resumes (:mod:`bot.engine.halts`):
        the tick fails, counted; its alert is its log line, else ``tick.failed`` is."""
        self.stats.errors += 1
        self.stats.last_error = describe_exc(exc)
        alerted = await self.halts.halt(block, exc, self.stats.last_error)
        self.events.emit(TickFailed("exchange", self.stats.last_error, logged=not alerted))

    def _fail(self, source: str, exc: HedgebotError, *, logged: bool = True) -> None:
        """A failed tick: counted, and a ``tick.failed`` line (unless ``logged`` is False:
        the failure's own alert was its line) and ``error`` event."""
        self.stats.errors += 1
        self.stats.last_error = describe_exc(exc)
        self.events.emit(TickFailed(source, self.stats.last_error, logged=logged))

    def _alert(self, name: str, **context: Any) -> None:
        self.events.emit(Alert.of(name, **context))

    @property
    def rules(self) -> MarketRules:
        """The venue's market rules, read at start."""
        if self._rules is None:
            raise ExchangeError("market rules not loaded: start() the engine first")
        return self._rules

    def reads_of(self, block: int, snapshot: ChainSnapshot | None, venue: VenueRead) -> Reads:
        """The tick's one value of reads (the kill switch is read here)."""
        net = Decimal(0) if self.pnl is None else self.pnl.breakdown().net_pnl_quote
        return Reads(
            now_s=self.clock.now(),
            block=block,
            venue=venue,
            kill=self.guard.kill_switch.read(),
            net_pnl_quote=net,
            snapshot=snapshot,
            chain_error=self.stats.last_error or "chain unreadable",
            pending=self.ledger.pending,
        )
