"""The tick pipeline: block -> snapshot -> decide -> gate -> execute -> record -> publish.

One tick at a time. Blocks arrive from a poller that yields only the newest block, so a slow
tick makes the engine skip to the latest block (counted in ``skipped_blocks``). Commands are
applied between ticks. A failed chain or venue read stops the hedging of the tick (unknown
is not zero) and is reported; the loop goes on. When only the chain failed, the tick still
reads the venue and runs the protective rules that need no LP delta (kill switch, operator
flatten, margin critical): see :meth:`Engine._protect_only`. A store that cannot be written
stops the bot (``StoreError`` propagates): it never trades without its record. Bad data of
one tick (a position that cannot be valued, a ``ValueError``/``ArithmeticError``/
``LookupError``/``TypeError`` from a reader or the core math, any other ``HedgebotError``)
fails that tick only (``tick.failed``, an alert and an ``error`` event) and the loop goes
on, so the kill switch, margin rules and commands keep covering the hedge. Cancellation
propagates; any other exception is a bug and ends the daemon; a restart reconciles from the
store and the venue.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any, Protocol, runtime_checkable

import structlog

from bot.core.pnl import Attribution, observation_from_snapshot, step
from bot.core.policy import (
    HedgePolicy,
    PolicyInputs,
    PolicyState,
    ThresholdPolicy,
    decide,
)
from bot.core.protect import UnreadableEpisode, unknown_delta_hold
from bot.core.risk import Breach, KillMode, RiskInputs, reduce_toward
from bot.domain import (
    TERMINAL_STATUSES,
    AccountBalance,
    ChainSnapshot,
    Decision,
    MarketQuote,
    MarketRules,
    Order,
    OrderIntent,
    OrderStatus,
    PerpPosition,
    Side,
)
from bot.errors import (
    ChainError,
    ExchangeError,
    ExchangeUnavailable,
    HedgebotError,
    InsufficientMargin,
    InvalidOrder,
    OrderNotPlaced,
    OrderOutcomeUnknown,
    PositionReadError,
    StoreError,
    VenueDataError,
)
from bot.exchange.orders import OrderManager
from bot.guards import RiskGuard, RiskView, margin_view
from bot.ports import ChainReader, Clock, PerpExchange
from bot.safety import describe_exc, safe_str
from bot.store.sqlite import SqliteStore
from bot.telemetry.commands import (
    Command,
    Flatten,
    Pause,
    RebalanceNow,
    Resume,
    SetHedgeRatio,
    SetThreshold,
)
from bot.tick_messages import decision_event, range_transitions, state_message
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

CRASH_ENV = "HEDGEBOT_CRASH_AT"  # test hook: SIGKILL this process at a named point of a tick


class EngineTelemetry(Protocol):
    """What the engine publishes; the MQTT adapter and the null sink implement it."""

    def publish_state(self, state: dict[str, Any]) -> None:
        """Latest state (retained); only the newest is kept when the broker is down."""
        ...

    def publish_event(self, event_type: str, data: dict[str, Any]) -> None:
        """One event; dropped (and counted) when it cannot be delivered."""
        ...

    def observe_tick(self, latency_s: float, *, ok: bool, skipped_blocks: int = 0) -> None:
        """Tick latency and outcome for metrics."""
        ...


class CommandSource(Protocol):
    """Where operator commands come from (MQTT); the engine applies them between ticks."""

    commands: asyncio.Queue[Command]

    async def ack(self, command_id: str, ok: bool, reason: str | None = None) -> None:
        """Answer a command on ``cmd/ack``."""
        ...


class ChainFinding(Protocol):
    """What a chain reader's start-up check reports about one config field."""

    @property
    def severity(self) -> str: ...  # "warning" | "error"
    @property
    def field(self) -> str: ...  # dotted config path, e.g. "positions.0.owner"
    @property
    def message(self) -> str: ...
    @property
    def kind(self) -> str: ...  # "empty" | "no_contract" | "unreadable" | ...


@runtime_checkable
class CheckedAtStart(Protocol):
    """A chain reader that checks the config against the chain before the first tick."""

    async def start(self) -> Sequence[ChainFinding]:
        """Findings that do not stop the bot; ``ConfigError`` for those that do."""
        ...


class NullTelemetry:
    """Publishes nothing."""

    def publish_state(self, state: dict[str, Any]) -> None:
        """Drop the state."""

    def publish_event(self, event_type: str, data: dict[str, Any]) -> None:
        """Drop the event."""

    def observe_tick(self, latency_s: float, *, ok: bool, skipped_blocks: int = 0) -> None:
        """Drop the figures."""


@dataclass(frozen=True, slots=True)
class HedgeSettings:
    """Live-tunable hedge parameters (commands change them between ticks)."""

    hedge_ratio: Decimal
    max_slippage_bps: Decimal


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one tick saw and did; the demo and tests read these."""

    block: int
    snapshot: ChainSnapshot
    quote: MarketQuote
    position: PerpPosition
    decision: Decision
    order: Order | None
    pnl: dict[str, Decimal] = field(default_factory=dict)
    risk: RiskView | None = None


@dataclass
class EngineStats:
    """Counters for status output and metrics."""

    ticks: int = 0
    rebalances: int = 0
    skipped_blocks: int = 0
    errors: int = 0
    last_block: int | None = None
    last_tick_ok_s: float | None = None
    last_error: str | None = None
    alerts: list[str] = field(default_factory=list)


def slippage_cap(
    side: Side, quote: MarketQuote, max_slippage_bps: Decimal, tick: Decimal
) -> Decimal:
    """IOC limit price: the worse of best bid/ask and mark, moved by the slippage cap.

    Buys round the cap down and sells round it up to the price tick, so the cap is never
    looser than configured.
    """
    factor = max_slippage_bps / Decimal(10_000)
    if side is Side.BUY:
        ref = max(quote.mark_price, quote.ask or quote.mark_price)
        raw = ref * (1 + factor)
        return (raw / tick).to_integral_value(rounding=ROUND_DOWN) * tick
    ref = min(quote.mark_price, quote.bid or quote.mark_price)
    raw = ref * (1 - factor)
    return (raw / tick).to_integral_value(rounding=ROUND_UP) * tick


def crash_point(name: str) -> None:
    """Fault-injection hook for the crash tests: ``HEDGEBOT_CRASH_AT=name`` kills us here."""
    if os.environ.get(CRASH_ENV) == name:
        log.warning("engine.crash_injected", point=name)
        os.kill(os.getpid(), signal.SIGKILL)


def _reduces_at_least_to(decision: Decision, hedge_base: Decimal, target_base: Decimal) -> bool:
    """True when the policy's own reduce-only order already shrinks the hedge to
    ``|target_base|`` or below (e.g. the LP delta fell to zero as the margin went critical):
    an emergency reduction must never leave more hedge than the policy would."""
    if decision.action != "rebalance" or not decision.reduce_only:
        return False
    signed = (
        decision.order_amount_base
        if decision.order_side is Side.BUY
        else -decision.order_amount_base
    )
    return abs(hedge_base + signed) <= abs(target_base)


class Engine:
    """Runs the hedge loop for one strategy."""

    def __init__(
        self,
        *,
        bot_id: str,
        chain: ChainReader,
        exchange: PerpExchange,
        orders: OrderManager,
        store: SqliteStore,
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
        self.orders = orders
        self.store = store
        self.policy = policy
        self.settings = settings
        self.clock = clock
        self.telemetry: EngineTelemetry = telemetry or NullTelemetry()
        self.history = VenueHistory(exchange, store, self.telemetry)
        self.price_observers = price_observers or []
        self.commands = commands
        self.guard = guard or RiskGuard.with_defaults(store.path, clock)
        self.read_timeout_s = read_timeout_s
        self.stats = EngineStats()
        self.paused = False
        self.flattening = False
        self._policy_state = PolicyState()
        self._rules: MarketRules | None = None
        self._force_next = False
        self._order_seq = 0
        self._skipped_unreported = 0
        self.last_report: TickReport | None = None
        self._in_range: dict[str, bool] = {}
        self.pnl: Attribution | None = None
        self._block_hashes: dict[int, str] = {}
        self._unrecorded_alerts: list[tuple[float, dict[str, Any]]] = []
        self._unreadable = UnreadableEpisode()

    # lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect the venue, reconcile unresolved intents, restore counters."""
        await self.store.check_writable()
        await self._check_chain()
        await self.exchange.start()
        self._rules = await self.exchange.market_rules()
        self._order_seq = await self.store.intent_count()
        await self.history.load(self.clock.now())
        self.paused = (await self.store.get_meta("paused")) == "1"
        self.flattening = (await self.store.get_meta("flattening")) == "1"
        ratio = await self.store.get_meta("hedge_ratio")
        if ratio is not None:
            self.settings = replace(self.settings, hedge_ratio=Decimal(ratio))
        threshold = await self.store.get_meta("threshold")
        if threshold is not None and isinstance(self.policy, ThresholdPolicy):
            base, _, fraction = threshold.partition("|")
            self.policy = replace(
                self.policy,
                threshold_base=Decimal(base) if base else None,
                threshold_fraction=Decimal(fraction) if fraction else None,
            )
        from bot.report import load_report  # replay of the stored ticks

        replay = await load_report(self.store)
        self.pnl = None if replay is None else replay.final_state
        await self.guard.restore(self.store)
        # the venue's position, open orders and recent fills against the store, before trading
        reconciled = await self.orders.reconcile_at_start(
            self.store,
            bot_id=self.bot_id,
            fills_since_ms=self.history.fills_since_ms,
            now=self.clock.now(),
        )
        for mismatch in reconciled.findings.mismatches:
            self._alert("reconcile.mismatch", detail=mismatch, action=reconciled.action)
        if reconciled.action == "paused":
            await self.set_paused(True)
        position = await self.exchange.position()
        log.info(
            "engine.started",
            bot_id=self.bot_id,
            hedge_base=str(position.size_base),
            paused=self.paused,
            symbol=self._rules.symbol,
        )

    async def _check_chain(self) -> None:
        """The chain reader's start-up check: a config the chain contradicts stops the start
        (``ConfigError`` propagates); a position holding nothing is ``position.empty``, one
        that cannot be read now ``position.unreadable``; an unreachable node is logged and
        left to the ticks' own checks."""
        if not isinstance(self.chain, CheckedAtStart):
            return
        try:
            findings = await self.chain.start()
        except ChainError as exc:
            log.warning("chain.start_check_skipped", error=describe_exc(exc))
            return
        for finding in findings:
            name = "position.empty" if finding.kind == "empty" else "position.unreadable"
            self._alert(name, field=finding.field, message=finding.message)

    async def run(self, blocks: AsyncIterator[int], stop: asyncio.Event) -> None:
        """Tick on every block from ``blocks`` until ``stop`` is set.

        A tick in progress always completes; ``stop`` is honoured between ticks. A failed poll
        for new blocks is reported, commands are applied and the protect-only pass runs
        (:meth:`protect_blind`), then the poll is retried after a short pause.
        """
        iterator = aiter(blocks)
        while not stop.is_set():
            next_block = asyncio.ensure_future(anext(iterator))
            stopping = asyncio.ensure_future(stop.wait())
            try:
                done, _ = await asyncio.wait(
                    {next_block, stopping}, return_when=asyncio.FIRST_COMPLETED
                )
            except BaseException:  # our own cancellation: leave no task behind, propagate
                next_block.cancel()
                stopping.cancel()
                raise
            if next_block not in done:
                next_block.cancel()
                await asyncio.wait({next_block})  # a cancellation of run() itself propagates
                if not next_block.cancelled():
                    next_block.exception()  # retrieved: a poll that failed as we stopped
                break
            stopping.cancel()
            try:
                block = next_block.result()
            except StopAsyncIteration:  # the block source ended
                break
            except ChainError as exc:
                self._fail("chain", exc)
                await self.apply_commands()
                await self.protect_blind()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
                continue
            if self.stats.last_block is not None and block > self.stats.last_block + 1:
                skipped = block - self.stats.last_block - 1
                self.stats.skipped_blocks += skipped
                self._skipped_unreported += skipped
            await self.apply_commands()
            await self.tick(block)

    # commands ------------------------------------------------------------------------
    async def set_paused(self, paused: bool) -> None:
        """Stop or restart trading (monitoring goes on); survives restarts."""
        self.paused = paused
        if not paused:
            self.flattening = False
            await self.store.set_meta("flattening", "0")
        await self.store.set_meta("paused", "1" if paused else "0")

    async def set_flatten(self) -> None:
        """Close the hedge with reduce-only orders, then stay paused; survives restarts."""
        self.flattening = True
        self.paused = True
        await self.store.set_meta("flattening", "1")
        await self.store.set_meta("paused", "1")

    async def set_hedge_ratio(self, ratio: Decimal) -> None:
        """Change the hedge ratio from the next tick; survives restarts."""
        self.settings = replace(self.settings, hedge_ratio=ratio)
        await self.store.set_meta("hedge_ratio", str(ratio))

    async def set_threshold(self, base: Decimal | None, fraction: Decimal | None) -> None:
        """Change the threshold band (only for the threshold policy); survives restarts."""
        if not isinstance(self.policy, ThresholdPolicy):
            raise ValueError(f"policy {type(self.policy).__name__} has no threshold")
        self.policy = replace(self.policy, threshold_base=base, threshold_fraction=fraction)
        await self.store.set_meta("threshold", f"{base or ''}|{fraction or ''}")

    def request_rebalance(self) -> None:
        """Trade to the target at the next tick regardless of the band."""
        self._force_next = True

    async def apply_commands(self) -> int:
        """Apply every queued operator command (between ticks); returns how many."""
        if self.commands is None:
            return 0
        applied = 0
        while not self.commands.commands.empty():
            command = self.commands.commands.get_nowait()
            try:
                await self.apply_command(command)
            except ValueError as exc:
                await self._record_command(command, "rejected", safe_str(exc))
                await self.commands.ack(command.id, False, safe_str(exc))
                continue
            await self._record_command(command, "ok", None)
            await self.commands.ack(command.id, True, None)
            applied += 1
        return applied

    async def apply_command(self, command: Command) -> None:
        """Apply one validated command; ``ValueError`` when it cannot apply now."""
        if isinstance(command, Pause):
            await self.set_paused(True)
        elif isinstance(command, Resume):
            kill = self.guard.kill_switch.read()
            if kill.engaged:
                raise ValueError(
                    f"kill switch engaged ({kill.mode}, {kill.source}): clear it with "
                    "`hedgebot kill --config F clear`"
                )
            await self.set_paused(False)
        elif isinstance(command, Flatten):
            await self.set_flatten()
        elif isinstance(command, RebalanceNow):
            if self.paused:
                raise ValueError("trading is paused: resume first")
            self.request_rebalance()
        elif isinstance(command, SetHedgeRatio):
            await self.set_hedge_ratio(command.params.value)
        elif isinstance(command, SetThreshold):
            await self.set_threshold(command.params.base, command.params.fraction)

    async def _record_command(self, command: Command, status: str, reason: str | None) -> None:
        body = {"params": command.params.model_dump(mode="json"), "reason": reason}
        await self.store.record_command(self.clock.now(), command.id, command.command, status, body)
        log.info(
            "command.applied" if status == "ok" else "command.rejected",
            id=command.id,
            command=command.command,
            reason=reason,
        )

    # the tick --------------------------------------------------------------------------
    async def tick(self, block: int) -> TickReport | None:
        """One pass of the pipeline for ``block``; None when the tick could not complete.

        read -> risk view -> decide -> gate -> execute -> record -> publish. A failed or late
        read ends the tick with no hedging trade (unknown is not zero; after a failed chain
        read the protective reductions of :meth:`_protect_only` still run); a tripped guard
        blocks the order, never the reading, recording and publishing. Any of
        ``TICK_FAULTS`` fails the tick (``tick.failed``, alert, error event); ``StoreError``
        propagates.
        """
        started = time.perf_counter()
        try:
            return await self._tick(block, started)
        except StoreError:
            raise
        except TICK_FAULTS as exc:
            self._tick_crashed(block, exc)
            self.telemetry.observe_tick(time.perf_counter() - started, ok=False)
            return None

    async def protect_blind(self) -> None:
        """No block could be had (every RPC endpoint down): run the protect-only pass anyway.

        Client ids stay unique: the order sequence is global, the block is the last one ticked
        (0 before the first). Faults are handled as in :meth:`tick`; ``StoreError`` propagates.
        """
        try:
            await self._protect_only(self.stats.last_block or 0, self.clock.now())
        except StoreError:
            raise
        except TICK_FAULTS as exc:
            self._tick_crashed(self.stats.last_block or 0, exc)

    async def _tick(self, block: int, started: float) -> TickReport | None:
        now = self.clock.now()
        await self._record_alerts()  # those of start-up and of ticks that failed
        deadline = self._read_deadline()
        snapshot = await self._read_chain(block, deadline)
        if snapshot is None:
            await self._protect_only(block, now)
            self.telemetry.observe_tick(time.perf_counter() - started, ok=False)
            return None
        reads = await self._read_venue(deadline)
        if reads is None:
            self.telemetry.observe_tick(time.perf_counter() - started, ok=False)
            return None
        quote, position, balance = reads
        rules = self._rules or await self.exchange.market_rules()
        self._check_reorg(snapshot)
        view, risk_inputs = self.guard.observe(
            now,
            snapshot,
            quote,
            position,
            balance,
            hedge_ratio=self.settings.hedge_ratio,
            operator_mode=self._operator_mode(),
        )
        inputs = PolicyInputs(
            now_s=now,
            price=quote.mark_price,
            delta_base=snapshot.delta_base,
            gamma=sum((p.gamma for p in snapshot.positions), Decimal(0)),
            hedge_base=position.size_base,
            hedge_ratio=view.gate.hedge_ratio_override or self.settings.hedge_ratio,
        )
        decision, new_state = decide(
            self.policy, self._policy_state, inputs, rules, force=self._force_next
        )
        if self.pnl is None:
            self.pnl = Attribution.opening(position.size_base)
        order: Order | None = None
        try:
            policy_traded = decision.action == "rebalance"  # new_state assumes the trade
            decision, order_breaches = await self._gate(decision, view, risk_inputs, rules)
            self._report_risk(view, order_breaches)
            await self.store.record_snapshot(now, snapshot)
            if decision.action == "rebalance":
                order = await self._execute(block, decision, quote, rules)
                if order is not None and order.filled_base > 0:
                    self._policy_state = new_state
                    self.stats.rebalances += 1
                    position = await self.exchange.position()
            elif not policy_traded:  # a trade that was gated away leaves the state as it was
                self._policy_state = new_state
            self._force_next = False
            await self.store.record_decision(now, block, decision)
            new_fills, new_funding = await self.history.sync()
            await self._publish_range_changes(now, snapshot)
        except StoreError as exc:
            self._fail("store", exc)
            raise
        except ExchangeError as exc:
            self._fail("exchange", exc)
            self.telemetry.observe_tick(time.perf_counter() - started, ok=False)
            return None
        self.guard.add_funding([(p.amount_quote, p.rate) for p in new_funding])
        self.pnl = step(
            self.pnl,
            observation_from_snapshot(
                snapshot, quote.mark_price, new_fills, new_funding, timestamp_s=now
            ),
        )
        self.history.attributed()
        pnl = self.pnl.breakdown().as_dict()
        # every tick, so the first tick of a UTC day (not its first trade) sets the baseline
        await self.guard.day_pnl(self.store, now, pnl["net_pnl_quote"])
        report = TickReport(block, snapshot, quote, position, decision, order, pnl, view)
        self.last_report = report
        self.stats.ticks += 1
        self.stats.last_block = block
        self.stats.last_tick_ok_s = now
        latency_s = time.perf_counter() - started
        log.info(
            "tick.completed",
            block=block,
            price=str(snapshot.price),
            delta_base=str(decision.delta_base),
            target_base=str(decision.target_base),
            hedge_base=str(position.size_base),
            drift_base=str(decision.drift_base),
            band_base=str(decision.band_base),
            action=decision.action,
            reason=decision.reason,
            latency_ms=round(latency_s * 1000, 2),
        )
        self.telemetry.publish_state(self.state_message(report))
        self.telemetry.observe_tick(latency_s, ok=True, skipped_blocks=self._skipped_unreported)
        self._skipped_unreported = 0
        if decision.action != "hold":
            self.telemetry.publish_event("decision", decision_event(block, decision))
        await self._record_alerts()
        return report

    async def _read_chain(self, block: int, deadline: float) -> ChainSnapshot | None:
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
            if self._unreadable.failed(safe_str(exc)):
                self._alert("position.unreadable", block=block, error=safe_str(exc))
            self._fail("chain", exc)
            return None
        except ChainError as exc:
            self._fail("chain", exc)
            return None
        ended = self._unreadable.read()
        if ended is not None:
            self._alert("position.readable", block=block, cause=ended)
        for notice in snapshot.notices:
            self._alert(notice.alert, block=block, entries=notice.entries, detail=notice.detail)
        for observe in self.price_observers:
            observe(snapshot.price)
        return snapshot

    async def _read_venue(
        self, deadline: float
    ) -> tuple[MarketQuote, PerpPosition, AccountBalance] | None:
        """Quote, position and balance by ``deadline`` (loop time), or None when they failed
        (reported; an unread position is never taken for a flat one). Unknown orders are
        settled first."""
        try:
            async with asyncio.timeout_at(deadline):
                quote = await self.exchange.quote()
                if self.orders.pending:
                    await self._resolve_pending()
                position = await self.exchange.position()
                balance = await self.exchange.balance()
        except TimeoutError:
            self._fail(
                "exchange", ExchangeError(f"exchange reads took over {self.read_timeout_s:g}s")
            )
            return None
        except VenueDataError as exc:
            # a venue row the adapter cannot trust (e.g. contracts null): never read as flat
            self._alert("venue.unreadable", error=safe_str(exc))
            self._fail("exchange", exc)
            return None
        except ExchangeError as exc:
            self._fail("exchange", exc)
            return None
        return quote, position, balance

    def _read_deadline(self) -> float:
        """Loop time by which a read started now must be done."""
        return asyncio.get_running_loop().time() + self.read_timeout_s

    async def _protect_only(self, block: int, now: float) -> None:
        """The chain could not be read: only what protects the open hedge may trade.

        Reads the venue (within ``read_timeout_s``) and runs the rules that need no LP delta
        (:meth:`RiskGuard.observe_venue`): a kill-switch (file, CLI, MQTT) or operator flatten,
        and margin critical ``flatten``/``reduce``, each a reduce-only order through the normal
        gate and order path (deterministic id, write-ahead intent, IOC slippage cap). Policy
        rebalances and anything that grows the hedge are blocked: unknown is not zero.
        """
        reads = await self._read_venue(self._read_deadline())
        if reads is None:
            return
        quote, position, balance = reads
        rules = self._rules or await self.exchange.market_rules()
        view, risk_inputs = self.guard.observe_venue(
            now,
            quote,
            position,
            balance,
            chain_error=self.stats.last_error or "chain unreadable",
            hedge_ratio=self.settings.hedge_ratio,
            operator_mode=self._operator_mode(),
        )
        held = unknown_delta_hold(position.size_base, quote.mark_price, "chain_unreadable")
        order: Order | None = None
        try:
            decision, order_breaches = await self._gate(held, view, risk_inputs, rules)
            self._report_risk(view, order_breaches)
            if decision.action == "rebalance":
                order = await self._execute(block, decision, quote, rules)
                position = await self.exchange.position()
            await self._record_alerts()
        except StoreError as exc:
            self._fail("store", exc)
            raise
        except ExchangeError as exc:
            self._fail("exchange", exc)
            return
        acted = log.warning if decision.action != "hold" else log.info
        acted(
            "tick.protect_only",
            block=block,
            action=decision.action,
            reason=decision.reason,
            hedge_base=str(position.size_base),
            mark_price=str(quote.mark_price),
            kill_mode=view.kill_mode,
            margin_level=view.margin_assessment.level,
            filled_base=None if order is None else str(order.filled_base),
        )

    def _check_reorg(self, snapshot: ChainSnapshot) -> None:
        """Alert when a block we ticked on was replaced; the tick recomputes from fresh reads."""
        number, new_hash = snapshot.block_number, snapshot.block_hash
        old_hash = self._block_hashes.get(number)
        if old_hash is not None and old_hash != new_hash:
            self._alert("chain.reorg", block=number, old_hash=old_hash, new_hash=new_hash)
        self._block_hashes[number] = new_hash
        for stale in [b for b in self._block_hashes if b < number - 128]:
            del self._block_hashes[stale]

    def _operator_mode(self) -> KillMode:
        """The MQTT/store switches as a kill mode (``pause`` alone is handled as ``paused``)."""
        return "flatten" if self.flattening else "off"

    async def _gate(
        self,
        decision: Decision,
        view: RiskView,
        risk_inputs: RiskInputs,
        rules: MarketRules,
    ) -> tuple[Decision, tuple[Breach, ...]]:
        """Apply the risk gate: emergency reductions, pause, and the order guards."""
        gate = view.gate
        hedge_base = risk_inputs.hedge_base
        if gate.target_override_base is not None:
            # an emergency reduction (flatten, margin critical) runs even while paused; the
            # policy's own reduction stands when it already goes at least as far
            if not _reduces_at_least_to(decision, hedge_base, gate.target_override_base):
                decision = reduce_toward(
                    decision,
                    hedge_base,
                    gate.target_override_base,
                    risk_inputs.mark_price,
                    rules,
                    gate.reasons[0],
                )
        elif self.paused and decision.action == "rebalance":
            return replace(decision, action="hold", reason="paused"), ()
        if decision.action != "rebalance":
            return decision, ()
        assert decision.order_side is not None
        net = Decimal(0) if self.pnl is None else self.pnl.breakdown().net_pnl_quote
        day_pnl = await self.guard.day_pnl(self.store, risk_inputs.now_s, net)
        order_gate, breaches = self.guard.check_order(
            view, risk_inputs, decision.order_side, decision.order_amount_base, day_pnl
        )
        if not order_gate.allow_orders:
            reason = "risk:" + ",".join(order_gate.reasons)
            return replace(decision, action="skip", reason=reason), breaches
        if order_gate.reduce_only and not decision.reduce_only:
            if not _reduces_at_least_to(
                replace(decision, reduce_only=True), hedge_base, hedge_base
            ):
                reason = "risk:" + ",".join(order_gate.reasons)  # only reductions may pass
                return replace(decision, action="skip", reason=reason), breaches
            decision = replace(decision, reduce_only=True)
        return decision, breaches

    def _report_risk(self, view: RiskView, order_breaches: tuple[Breach, ...]) -> None:
        """Alert once when a rule trips (``risk.<rule>``) and once when it clears."""
        current: dict[str, str] = {b.rule: b.message for b in view.data_breaches}
        current.update({b.rule: b.message for b in order_breaches if b.severity == "block"})
        if view.margin_assessment.level != "ok":
            current[f"margin_{view.margin_assessment.level}"] = view.margin_assessment.message
        if view.funding.spike:
            current["funding_spike"] = view.funding.message
        if view.counterparty is not None:
            current["counterparty_cap"] = view.counterparty.message
        if view.kill.engaged:
            current[f"kill_switch_{view.kill.mode}"] = view.kill.reason or view.kill.mode
        tripped, cleared = self.guard.transitions(current)
        for rule, message in tripped.items():
            self._alert(f"risk.{rule}", message=message, blocks_trading=view.trading_blocked)
        for rule in cleared:
            self._alert("risk.cleared", rule=rule)

    async def _resolve_pending(self) -> None:
        """Settle orders whose outcome was unknown before deciding anything new."""
        report = await self.orders.resolve_pending()
        for order in report.resolved:
            await self.store.record_order(self.clock.now(), order)
        for intent in report.never_seen:
            await self.store.mark_intent(intent.client_order_id, OrderStatus.REJECTED)

    async def _execute(
        self, block: int, decision: Decision, quote: MarketQuote, rules: MarketRules
    ) -> Order | None:
        assert decision.order_side is not None
        self._order_seq += 1
        client_id = self.orders.client_order_id(self.bot_id, block, self._order_seq)
        intent = OrderIntent(
            client_order_id=client_id,
            symbol=rules.symbol,
            side=decision.order_side,
            amount_base=decision.order_amount_base,
            reduce_only=decision.reduce_only,
            limit_price=slippage_cap(
                decision.order_side, quote, self.settings.max_slippage_bps, rules.price_tick
            ),
        )
        await self.store.record_intent(self.clock.now(), block, intent)
        crash_point("before_submit")
        self.guard.record_order(self.clock.now())
        try:
            order = await self.orders.execute(intent)
        except (InsufficientMargin, InvalidOrder) as exc:
            await self.store.mark_intent(client_id, OrderStatus.REJECTED)
            self._alert("order.rejected", client_order_id=client_id, error=safe_str(exc))
            return None
        except OrderNotPlaced as exc:
            await self.store.mark_intent(client_id, OrderStatus.REJECTED)
            self._alert("order.not_placed", client_order_id=client_id, error=safe_str(exc))
            return None
        except ExchangeUnavailable:  # refused before anything was placed (incl. rate limits)
            await self.store.mark_intent(client_id, OrderStatus.REJECTED)
            raise
        except ExchangeError:  # OrderOutcomeUnknown and any failure after sending
            await self.store.mark_intent(client_id, OrderStatus.UNKNOWN)
            self._alert("order.outcome_unknown", client_order_id=client_id)
            raise
        if order.status not in TERMINAL_STATUSES:
            await self.store.record_order(self.clock.now(), order)
            raise OrderOutcomeUnknown(f"order {client_id} is {order.status.value}", client_id)
        crash_point("after_fill")
        await self.store.record_order(self.clock.now(), order)
        crash_point("after_store")
        log.info(
            "order.completed",
            client_order_id=client_id,
            side=order.side.value,
            amount_base=str(order.amount_base),
            filled_base=str(order.filled_base),
            average_price=str(order.average_price),
            status=order.status.value,
            reduce_only=order.reduce_only,
        )
        self.telemetry.publish_event(
            "order",
            {
                "client_order_id": client_id,
                "side": order.side.value,
                "amount_base": str(order.amount_base),
                "filled_base": str(order.filled_base),
                "average_price": None if order.average_price is None else str(order.average_price),
                "status": order.status.value,
                "reduce_only": order.reduce_only,
                "fee_quote": str(order.fee_quote),
            },
        )
        return order

    # reporting -------------------------------------------------------------------------
    def _tick_crashed(self, block: int, exc: Exception) -> None:
        """A tick ended by unexpected data: one log line (with the traceback), one alert,
        one error event; the loop goes on. The error text is bounded and escaped
        (``describe_exc``): this handler must not raise on hostile exception content."""
        self.stats.errors += 1
        self.stats.last_error = describe_exc(exc)
        log.error(
            "tick.failed", source="engine", block=block, error=self.stats.last_error, exc_info=exc
        )
        self.telemetry.publish_event("error", {"source": "engine", "error": self.stats.last_error})
        self._alert("tick.failed", logged=False, block=block, error=self.stats.last_error)

    def _fail(self, source: str, exc: HedgebotError) -> None:
        self.stats.errors += 1
        self.stats.last_error = describe_exc(exc)
        log.warning("tick.failed", source=source, error=self.stats.last_error)
        self.telemetry.publish_event("error", {"source": source, "error": self.stats.last_error})

    def _alert(self, name: str, *, logged: bool = True, **context: Any) -> None:
        """Log (unless the caller ``logged`` it already) and publish an alert now; it is
        written to the store's events at the next store write of a tick
        (:meth:`_record_alerts`)."""
        self.stats.alerts.append(name)
        if logged:
            log.warning(name, **context)
        self.telemetry.publish_event("alert", {"alert": name, **context})
        self._unrecorded_alerts.append((self.clock.now(), {"alert": name, **context}))

    async def _record_alerts(self) -> None:
        """Append the alerts raised since the last call to the store (operators' history)."""
        alerts, self._unrecorded_alerts = self._unrecorded_alerts, []
        for ts, body in alerts:
            await self.store.record_event(ts, "alert", body)

    def state_message(self, report: TickReport) -> dict[str, Any]:
        """The per-tick state published on MQTT ``state``."""
        return state_message(
            bot_id=self.bot_id,
            block=report.block,
            snapshot=report.snapshot,
            quote=report.quote,
            position=report.position,
            decision=report.decision,
            pnl=report.pnl,
            margin=margin_view(report.position, self.guard.brackets),
            paused=self.paused,
            flattening=self.flattening,
        )

    async def _publish_range_changes(self, now: float, snapshot: ChainSnapshot) -> None:
        """Log, publish and record positions leaving or re-entering their range."""
        for event, data in range_transitions(self._in_range, snapshot.positions):
            log.warning(event, block=snapshot.block_number, **data)
            self.telemetry.publish_event(event, {"block": snapshot.block_number, **data})
            await self.store.record_event(now, event, {"block": snapshot.block_number, **data})
        self._in_range = {p.id: p.in_range for p in snapshot.positions}
