"""The engine's loop: start-up, new heads, operator commands between ticks, shutdown.

One tick at a time (:mod:`bot.engine.tick`). Blocks arrive from a poller that yields only
the newest block, so a slow tick makes the engine skip to the latest block (counted in
``skipped_blocks``). Commands are applied between ticks through the pure
:func:`bot.core.operator.apply_command`; the operator state is one stored record. When no
block can be polled, commands still apply and the protect-only pass still runs. Cancellation
propagates; any exception outside ``TICK_FAULTS`` is a bug and ends the daemon; a restart
reconciles from the store and the venue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Protocol, runtime_checkable

import structlog

from bot.core.operator import (
    OperatorRejection,
    OperatorState,
    TradingState,
    apply_command,
)
from bot.core.policy import ThresholdPolicy
from bot.engine.halts import venue_name
from bot.engine.position_watch import liquidation_alert, mismatch_cause
from bot.engine.tick import TICK_FAULTS, TickRunner
from bot.errors import ChainError
from bot.replay_store import resume_report, save_checkpoint
from bot.safety import describe_exc, safe_str
from bot.store.meta import MetaKey
from bot.telemetry.commands import Command

__all__ = ["OPERATOR_META_KEY", "ChainFinding", "CheckedAtStart", "Engine"]

log = structlog.get_logger("hedgebot.engine")

OPERATOR_META_KEY = MetaKey.OPERATOR_STATE  # the operator record's key (engine/control.py)
PNL_CHECKPOINT_INTERVAL_S = 900.0  # how often the running engine moves the PnL checkpoint


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


class Engine(TickRunner):
    """Runs the hedge loop for one strategy."""

    _checkpoint_at = 0.0  # clock time the PnL checkpoint was last moved

    # lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect the venue, reconcile unresolved intents, restore the kept state."""
        await self.store.check_writable()
        await self._check_chain()
        await self.exchange.start()
        self._rules = await self.exchange.market_rules()
        await self.ledger.open()
        await self.history.load(self.clock.now())
        await self.control.restore()
        await self._restore_pnl()
        self.guard_state = await self.guard.restore(self.store)
        # the venue's position, open orders and recent fills against the store, before trading
        reconciled = await self.ledger.reconcile_at_start(
            on_mismatch=self.ledger.on_mismatch, fills_since_ms=self.history.fills_since_ms
        )
        for mismatch in reconciled.findings.mismatches:
            self._alert("reconcile.mismatch", detail=mismatch, action=reconciled.action)
        liquidations = reconciled.findings.liquidations
        liquidated = liquidation_alert(liquidations, venue_name(self.exchange), reconciled.action)
        if liquidated is not None:
            self.events.emit(liquidated)
        if reconciled.action == "paused":  # its reason says so
            await self.control.set_paused(True, mismatch_cause(liquidations))
        position = await self.exchange.position()
        self.position_watch.start(position.size_base)
        log.info(
            "engine.started",
            bot_id=self.bot_id,
            hedge_base=str(position.size_base),
            paused=self.paused,
            symbol=self._rules.symbol,
        )

    async def _restore_pnl(self) -> None:
        """The attribution of the stored ticks: from the kept checkpoint, folding only the
        snapshots after it a page at a time (``bot.replay_store``), never every row; the
        checkpoint is then moved to the newest tick it can cover."""
        report, checkpoint = await resume_report(self.store)
        self.pnl = None if report is None else report.final_state
        if checkpoint is not None:
            await save_checkpoint(self.store, checkpoint)
        self._checkpoint_at = self.clock.now()

    async def keep_pnl_checkpoint(self) -> None:
        """Move the PnL replay's checkpoint up to the newest ticks (between ticks, every
        ``PNL_CHECKPOINT_INTERVAL_S``), so a restart folds at most that much history. A store
        that cannot be read or written now is logged and tried at the next interval."""
        now = self.clock.now()
        if now - self._checkpoint_at < PNL_CHECKPOINT_INTERVAL_S:
            return
        self._checkpoint_at = now
        try:
            _, checkpoint = await resume_report(self.store)
            if checkpoint is not None:
                await save_checkpoint(self.store, checkpoint)
        except TICK_FAULTS as exc:
            log.warning("replay.checkpoint_failed", error=describe_exc(exc))

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
            try:
                block = await self._next_block(iterator, stop)
            except ChainError as exc:
                self._fail("chain", exc)
                await self.apply_commands()
                await self.protect_blind()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
                continue
            if block is None:
                break
            if self.stats.last_block is not None and block > self.stats.last_block + 1:
                skipped = block - self.stats.last_block - 1
                self.stats.skipped_blocks += skipped
                self._skipped_unreported += skipped
            await self.apply_commands()
            await self.tick(block)
            await self.keep_pnl_checkpoint()

    @staticmethod
    async def _next_block(iterator: AsyncIterator[int], stop: asyncio.Event) -> int | None:
        """The next block, or None when ``stop`` was set or the source ended first."""
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
            return None
        stopping.cancel()
        try:
            return next_block.result()
        except StopAsyncIteration:  # the block source ended
            return None

    # commands ------------------------------------------------------------------------
    async def change_operator(self, state: OperatorState, cause: str) -> None:
        """Adopt ``state``; a change is stored (one record) and a ``trading_state.changed``
        event."""
        await self.control.change(state, cause)

    async def set_paused(self, paused: bool) -> None:
        """Halt or resume trading (monitoring goes on); survives restarts."""
        await self.control.set_paused(paused)

    async def set_flatten(self) -> None:
        """Close the hedge with reduce-only orders, then stay there; survives restarts."""
        state = replace(self.operator, trading_state=TradingState.REDUCING)
        await self.change_operator(state, "flatten")

    async def set_hedge_ratio(self, ratio: Decimal) -> None:
        """Change the hedge ratio from the next tick; survives restarts."""
        await self.change_operator(replace(self.operator, hedge_ratio=ratio), "set_hedge_ratio")

    async def set_threshold(self, base: Decimal | None, fraction: Decimal | None) -> None:
        """Change the threshold band (only for the threshold policy); survives restarts."""
        if not isinstance(self.policy, ThresholdPolicy):
            raise ValueError(f"policy {type(self.policy).__name__} has no threshold")
        state = replace(
            self.operator, threshold_set=True, threshold_base=base, threshold_fraction=fraction
        )
        await self.change_operator(state, "set_threshold")

    def request_rebalance(self) -> None:
        """Trade to the target at the next tick regardless of the band."""
        self.operator = replace(self.operator, rebalance_requested=True)

    async def apply_commands(self) -> int:
        """Apply every queued operator command (between ticks); returns how many. First, a
        kill-switch flatten episode seen (now or by a tick since) halts the operator once, so
        that clearing it leaves the bot paused until ``resume`` (engine/control.py)."""
        await self.control.latch_kill_switch(self.guard.kill_switch.read())
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
        kill = self.guard.kill_switch.read()
        result = apply_command(self.operator, command, kill, self.policy)
        if isinstance(result, OperatorRejection):
            raise ValueError(result.reason)
        await self.change_operator(result, command.command)

    async def _record_command(self, command: Command, status: str, reason: str | None) -> None:
        body = {"params": command.params.model_dump(mode="json"), "reason": reason}
        await self.store.record_command(self.clock.now(), command.id, command.command, status, body)
        log.info(
            "command.applied" if status == "ok" else "command.rejected",
            id=command.id,
            command=command.command,
            reason=reason,
        )
